import { forgetKeptReads, keptRead, reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';

/**
 * What we last told a channel its available figure was, per location and variant. It is the
 * `changeFromQuantity` of the next push, and it is how an echo of our own push is recognised.
 */
// Read for every stock change a channel hears of: built and compiled once (issue #9).
const mirrorRow = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; channel: string; locationId: string; variantId: string }>) => db
  .selectFrom('channel_stock_mirror').select(['last_pushed_available', 'last_seen_at'])
  .where('merchant_id', '=', param('merchantId')).where('channel', '=', param('channel')).where('location_id', '=', param('locationId')).where('variant_id', '=', param('variantId')));

export async function findLastPushedAvailable(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string): Promise<number | null> {
  const [row] = await mirrorRow.execute(db, { merchantId, channel, locationId, variantId });
  return row?.last_pushed_available ?? null;
}

// Written after every stock push: built and compiled once (issue #9).
const recordPush = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; channel: string; locationId: string; variantId: string; available: number | null; now: string }>) => db
  .insertInto('channel_stock_mirror')
  .values({ merchant_id: param('merchantId'), channel: param('channel'), location_id: param('locationId'), variant_id: param('variantId'), last_pushed_available: param('available'), updated_at: param('now'), last_seen_at: null })
  .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'location_id', 'variant_id']).doUpdateSet({ last_pushed_available: param('available'), updated_at: param('now') })));

/** What the channel shows now, as far as we know; null when it shows nothing we could compare (no count there). */
export async function recordPushedAvailable(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string, available: number | null): Promise<void> {
  forgetKeptReads(db);
  await recordPush.execute(db, { merchantId, channel, locationId, variantId, available, now: nowIso() });
}

export interface ChannelStockReport {
  lastPushedAvailable: number | null;
  lastSeenAt: string | null;
}

/**
 * What the channel was last told and last reported at a place. Kept for the transaction when it
 * keeps reads (the worker's batch, src/db/transaction-memo.ts): every Shopify order line reads it
 * (1.5 statements an order in bench/orders-end-to-end.ts), and a batch's orders sell the same few
 * variants; the two writers below forget what was kept.
 */
export function getChannelStockMirror(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string): Promise<ChannelStockReport> {
  return keptRead(db, `channel-stock-mirror:${merchantId}:${channel}:${locationId}:${variantId}`, async () => {
    const [row] = await mirrorRow.execute(db, { merchantId, channel, locationId, variantId });
    return Object.freeze({ lastPushedAvailable: row?.last_pushed_available ?? null, lastSeenAt: row?.last_seen_at ?? null });
  });
}

/** Remembers the channel's own figure and when the channel reported it, so older reports are recognised. */
export async function recordChannelReport(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string, available: number, reportedAt: string): Promise<void> {
  forgetKeptReads(db);
  await db
    .insertInto('channel_stock_mirror')
    .values({ merchant_id: merchantId, channel, location_id: locationId, variant_id: variantId, last_pushed_available: available, updated_at: nowIso(), last_seen_at: reportedAt })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'location_id', 'variant_id']).doUpdateSet({ last_pushed_available: available, updated_at: nowIso(), last_seen_at: reportedAt }))
    .execute();
}
