import type { Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';

/**
 * What we last told a channel its available figure was, per location and variant. It is the
 * `changeFromQuantity` of the next push, and it is how an echo of our own push is recognised.
 */
export async function findLastPushedAvailable(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string): Promise<number | null> {
  const row = await db.selectFrom('channel_stock_mirror').select('last_pushed_available').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('location_id', '=', locationId).where('variant_id', '=', variantId).executeTakeFirst();
  return row?.last_pushed_available ?? null;
}

export async function recordPushedAvailable(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string, available: number): Promise<void> {
  await db
    .insertInto('channel_stock_mirror')
    .values({ merchant_id: merchantId, channel, location_id: locationId, variant_id: variantId, last_pushed_available: available, updated_at: nowIso(), last_seen_at: null })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'location_id', 'variant_id']).doUpdateSet({ last_pushed_available: available, updated_at: nowIso() }))
    .execute();
}

export interface ChannelStockReport {
  lastPushedAvailable: number | null;
  lastSeenAt: string | null;
}

export async function getChannelStockMirror(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string): Promise<ChannelStockReport> {
  const row = await db.selectFrom('channel_stock_mirror').select(['last_pushed_available', 'last_seen_at']).where('merchant_id', '=', merchantId).where('channel', '=', channel).where('location_id', '=', locationId).where('variant_id', '=', variantId).executeTakeFirst();
  return { lastPushedAvailable: row?.last_pushed_available ?? null, lastSeenAt: row?.last_seen_at ?? null };
}

/** Remembers the channel's own figure and when the channel reported it, so older reports are recognised. */
export async function recordChannelReport(db: Queryable, merchantId: string, channel: string, locationId: string, variantId: string, available: number, reportedAt: string): Promise<void> {
  await db
    .insertInto('channel_stock_mirror')
    .values({ merchant_id: merchantId, channel, location_id: locationId, variant_id: variantId, last_pushed_available: available, updated_at: nowIso(), last_seen_at: reportedAt })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'location_id', 'variant_id']).doUpdateSet({ last_pushed_available: available, updated_at: nowIso(), last_seen_at: reportedAt }))
    .execute();
}
