import { applyStockMovement, getStockLevel, recordChannelReport } from '../inventory/index.ts';
import type { Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { raiseException } from '../sync/index.ts';
import { announceStockChange } from './announce-changes.ts';
import { findChannelStockPlace, type ChannelStockReportCommand } from './record-channel-stock.ts';

export type AcceptedStockOutcome = 'applied' | 'unchanged' | 'stale' | 'unmapped';

/**
 * The channel owns stock (`sync.ownership.stock` names it): its figure is the truth. On hand moves
 * so that available (on hand − reserved − safety) equals the channel's figure, and the change is
 * announced like any other: the other channels are told, and the owner's deliverer pushes nothing
 * back (it already shows the figure). A report older than the last one applied is not applied.
 * Used for Shopify's `inventory_levels/update` and the backfill's stock levels.
 * Example: Shopify reports 7 available where we hold 10 on hand, 1 reserved → on hand becomes 8.
 */
export async function acceptChannelStock(tx: Tx, merchant: Merchant, report: ChannelStockReportCommand, sourceKey: string = `${report.eventRef}:truth`): Promise<AcceptedStockOutcome> {
  const place = await findChannelStockPlace(tx, merchant.id, report.channel, report.channelItemId, report.channelLocationId);
  if (!place) {
    await raiseException(tx, merchant.id, { kind: 'unmapped_sku', dedupeKey: `unmapped-stock:${report.channel}:${report.channelItemId}:${report.channelLocationId}`, subject: report.channelItemId, details: { channel: report.channel, channel_item_id: report.channelItemId, channel_location_id: report.channelLocationId, event: report.eventRef } });
    return 'unmapped';
  }
  if (place.lastSeenAt && report.reportedAt < place.lastSeenAt) return 'stale';
  const level = await getStockLevel(tx, merchant.id, place.location.id, place.variantId);
  const delta = report.available - level.available;
  await recordChannelReport(tx, merchant.id, report.channel, place.location.id, place.variantId, report.available, report.reportedAt);
  if (delta === 0) return 'unchanged';
  const result = await applyStockMovement(tx, merchant.id, {
    locationId: place.location.id, variantId: place.variantId, kind: 'count', onHandDelta: delta, sourceKey: `${sourceKey}:${place.location.id}:${place.variantId}`, actor: report.channel,
    requireAvailable: false, reason: `${report.channel === 'shopify' ? 'Shopify' : report.channel} owns stock: ${report.available} available there`,
  });
  if (!result.applied) return 'unchanged';
  await announceStockChange(tx, merchant.id, place.location, place.variantId);
  return 'applied';
}
