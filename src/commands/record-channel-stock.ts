import { findEntityIdByExternalId } from '../catalog/index.ts';
import type { Tx } from '../db/index.ts';
import { applyStockMovement, channelAvailable, getChannelBuffer, getChannelStockMirror, getStockLevel, recordChannelReport } from '../inventory/index.ts';
import { findLocationByChannelId, type Merchant } from '../merchants/index.ts';
import { raiseException } from '../sync/index.ts';
import { announceStockChange } from './announce-changes.ts';

/** A channel's report of what it shows as available for one item at one location. */
export interface ChannelStockReportCommand {
  channel: 'shopify' | 'square';
  /** Shopify inventory item id, or Square catalog object (item variation) id. */
  channelItemId: string;
  channelLocationId: string;
  available: number;
  /** When the channel computed the figure; older than what we hold → recorded, not applied. */
  reportedAt: string;
  eventRef: string;
}

export type StockReportOutcome = 'applied' | 'echo' | 'stale' | 'unmapped' | 'unchanged';

/**
 * Turns a stock edit made in a channel (a count in Shopify admin, a Square stock edit) into an
 * adjustment of on hand. Our own pushes come back as these same reports: a figure equal to the
 * one we last pushed is our echo and changes nothing.
 */
export async function recordChannelStock(tx: Tx, merchant: Merchant, report: ChannelStockReportCommand): Promise<StockReportOutcome> {
  const entity = report.channel === 'shopify' ? 'inventory_item' : 'variant';
  const variantId = await findEntityIdByExternalId(tx, merchant.id, entity, report.channel, report.channelItemId);
  const location = await findLocationByChannelId(tx, merchant.id, report.channel, report.channelLocationId);
  if (!variantId || !location) {
    await raiseException(tx, merchant.id, { kind: 'unmapped_sku', dedupeKey: `unmapped-stock:${report.channel}:${report.channelItemId}:${report.channelLocationId}`, subject: report.channelItemId, details: { channel: report.channel, channel_item_id: report.channelItemId, channel_location_id: report.channelLocationId, event: report.eventRef } });
    return 'unmapped';
  }
  const mirror = await getChannelStockMirror(tx, merchant.id, report.channel, location.id, variantId);
  if (mirror.lastSeenAt && report.reportedAt < mirror.lastSeenAt) return 'stale';
  if (mirror.lastPushedAvailable === report.available) {
    await recordChannelReport(tx, merchant.id, report.channel, location.id, variantId, report.available, report.reportedAt);
    return 'echo';
  }
  const level = await getStockLevel(tx, merchant.id, location.id, variantId);
  const buffer = await getChannelBuffer(tx, merchant.id, report.channel, location.id);
  const delta = report.available - channelAvailable(level.available, buffer);
  await recordChannelReport(tx, merchant.id, report.channel, location.id, variantId, report.available, report.reportedAt);
  if (delta === 0) return 'unchanged';
  await applyStockMovement(tx, merchant.id, { locationId: location.id, variantId, kind: 'adjust', onHandDelta: delta, sourceKey: `${report.eventRef}:${location.id}:${variantId}`, actor: report.channel, requireAvailable: false, reason: `Changed in ${report.channel === 'shopify' ? 'Shopify admin' : 'Square'} to ${report.available} available` });
  await announceStockChange(tx, merchant.id, location, variantId);
  return 'applied';
}
