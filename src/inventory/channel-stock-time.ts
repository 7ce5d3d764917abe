import type { Queryable } from '../db/index.ts';
import { getChannelStockMirror } from './channel-stock-mirror.ts';
import { applyStockMovement, type StockMovementInput, type StockMovementResult } from './stock-service.ts';

/**
 * A channel that reports absolute figures (Shopify's inventory level, a Square count) takes each at
 * a moment of its own, and its webhooks arrive in any order. Movements the channel caused (its
 * sales, restocks and cancellations; their actor starts with `<channel>:`) carry the channel's time,
 * so that:
 * - a count taken at T is compared with our figure as of T: movements the channel caused after T
 *   are not in its count yet (`channelMovementsAfter`);
 * - a movement that happened before the latest count we applied is already in that count: it is
 *   recorded, and offset by an adjustment, so it does not count twice (`applyChannelMovement`).
 * Delivered in any order, the same webhooks leave the same stock.
 *
 * Only Shopify's figures need it: a Square count is read with the inventory changes behind it, and
 * the ones its own sales made are skipped there (src/commands/record-channel-stock.ts), so a Square
 * sale is never in a count we apply.
 */
const channelsWhoseCountsIncludeTheirSales = new Set(['shopify']);

export async function applyChannelMovement(db: Queryable, merchantId: string, channel: string, input: StockMovementInput & { occurredAt: string }): Promise<StockMovementResult> {
  const result = await applyStockMovement(db, merchantId, input);
  if (!result.applied || !channelsWhoseCountsIncludeTheirSales.has(channel)) return result;
  const { lastSeenAt } = await getChannelStockMirror(db, merchantId, channel, input.locationId, input.variantId);
  if (!lastSeenAt || input.occurredAt >= lastSeenAt) return result;
  const offset = await applyStockMovement(db, merchantId, {
    locationId: input.locationId, variantId: input.variantId, kind: 'adjust', onHandDelta: -input.onHandDelta, sourceKey: `${input.sourceKey}:counted`, actor: input.actor, orderId: input.orderId ?? null,
    requireAvailable: false, occurredAt: input.occurredAt, reason: `Already in the ${channel} count of ${lastSeenAt}`,
  });
  return { applied: true, level: offset.level, oversold: false };
}

/** The on-hand change of movements the channel caused at a place after `at`: what a count taken at `at` does not know yet. */
export async function channelMovementsAfter(db: Queryable, merchantId: string, channel: string, place: { locationId: string; variantId: string }, at: string): Promise<number> {
  if (!channelsWhoseCountsIncludeTheirSales.has(channel)) return 0;
  const row = await db
    .selectFrom('stock_movements')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('on_hand_delta'), eb.lit(0)).as('delta'))
    .where('merchant_id', '=', merchantId)
    .where('location_id', '=', place.locationId)
    .where('variant_id', '=', place.variantId)
    .where('occurred_at', '>', at)
    .where('actor', 'like', `${channel}:%`)
    .executeTakeFirstOrThrow();
  return Number(row.delta);
}
