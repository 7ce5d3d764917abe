import { findEntityIdByExternalId } from '../catalog/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import { applyStockMovement, channelAvailable, channelMovementsAfter, getChannelBuffer, getChannelStockMirror, getStockLevel, recordChannelReport, type StockMovementResult } from '../inventory/index.ts';
import { findLocationByChannelId, type Location, type Merchant } from '../merchants/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
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

/** Where a channel's item and location are in Continuum, and when the channel last reported its figure there. */
export interface ChannelStockPlace {
  variantId: string;
  location: Location;
  /** The `reportedAt` of the newest report recorded for this place; null before the first. */
  lastSeenAt: string | null;
}

/** Finds the variant and location a channel's item and location map to; undefined when either is unmapped. */
export async function findChannelStockPlace(db: Queryable, merchantId: string, channel: 'shopify' | 'square', channelItemId: string, channelLocationId: string): Promise<ChannelStockPlace | undefined> {
  const variantId = await findEntityIdByExternalId(db, merchantId, channel === 'shopify' ? 'inventory_item' : 'variant', channel, channelItemId);
  const location = await findLocationByChannelId(db, merchantId, channel, channelLocationId);
  if (!variantId || !location) return undefined;
  const mirror = await getChannelStockMirror(db, merchantId, channel, location.id, variantId);
  return { variantId, location, lastSeenAt: mirror.lastSeenAt };
}

async function raiseUnmappedStock(tx: Tx, merchantId: string, input: { channel: string; channelItemId: string; channelLocationId: string; eventRef: string }): Promise<void> {
  await raiseException(tx, merchantId, { kind: 'unmapped_sku', dedupeKey: `unmapped-stock:${input.channel}:${input.channelItemId}:${input.channelLocationId}`, subject: input.channelItemId, details: { channel: input.channel, channel_item_id: input.channelItemId, channel_location_id: input.channelLocationId, event: input.eventRef } });
}

/**
 * Turns a stock edit made in a channel that reports only its new figure (a count in Shopify admin)
 * into an adjustment of on hand. Our own pushes come back as these same reports: a figure equal to
 * the one we last pushed is our echo and changes nothing.
 */
export async function recordChannelStock(tx: Tx, merchant: Merchant, report: ChannelStockReportCommand): Promise<StockReportOutcome> {
  const place = await findChannelStockPlace(tx, merchant.id, report.channel, report.channelItemId, report.channelLocationId);
  if (!place) {
    await raiseUnmappedStock(tx, merchant.id, report);
    return 'unmapped';
  }
  const { variantId, location } = place;
  if (place.lastSeenAt && report.reportedAt < place.lastSeenAt) return 'stale';
  const mirror = await getChannelStockMirror(tx, merchant.id, report.channel, location.id, variantId);
  if (mirror.lastPushedAvailable === report.available) {
    await recordChannelReport(tx, merchant.id, report.channel, location.id, variantId, report.available, report.reportedAt);
    return 'echo';
  }
  const level = await getStockLevel(tx, merchant.id, location.id, variantId);
  const buffer = await getChannelBuffer(tx, merchant.id, report.channel, location.id);
  // Our figure as of the moment the channel counted: its own sales and restocks since are not in its count.
  const later = await channelMovementsAfter(tx, merchant.id, report.channel, { locationId: location.id, variantId }, report.reportedAt);
  const delta = report.available - channelAvailable(level.available - later, buffer);
  await recordChannelReport(tx, merchant.id, report.channel, location.id, variantId, report.available, report.reportedAt);
  if (delta === 0) return 'unchanged';
  await applyStockMovement(tx, merchant.id, { locationId: location.id, variantId, kind: 'adjust', onHandDelta: delta, sourceKey: `${report.eventRef}:${location.id}:${variantId}`, actor: report.channel, requireAvailable: false, occurredAt: report.reportedAt, reason: `Changed in ${report.channel === 'shopify' ? 'Shopify admin' : 'Square'} to ${report.available} available` });
  await announceStockChange(tx, merchant.id, location, variantId);
  return 'applied';
}

/** Why a channel's change moves nothing here. */
export type ChannelStockSkip =
  /** Our own push coming back. */
  | 'echo'
  /** A sale or a channel reservation: it arrives as its order, which moves the stock. */
  | 'order'
  /** Neither side of it is the shelf (e.g. a count of a state other than in stock). */
  | 'off_shelf';

/**
 * One change a channel made to the stock of one item at one location, as its connector read it
 * from the channel's change log and classified it. `changeId` is the channel's own id of the
 * change: it keys the movement, so a change read twice (a repeated or overlapping event) moves once.
 */
export type ChannelStockChange =
  /** A physical count: on hand was counted as `onHand`. */
  | { action: 'count'; changeId: string; occurredAt: string; onHand: number; reason: string }
  /** Units came onto or left the shelf for a reason no other path records (damage, a receipt, a restocked return). */
  | { action: 'move'; changeId: string; occurredAt: string; kind: 'adjust' | 'receive' | 'return'; onHandDelta: number; reason: string }
  | { action: 'skip'; changeId: string; occurredAt: string; why: ChannelStockSkip };

export interface ChannelStockChangesCommand {
  channel: 'shopify' | 'square';
  channelItemId: string;
  channelLocationId: string;
  /** Oldest `occurredAt` first, as they happened. */
  changes: ChannelStockChange[];
  /** The channel's own figure after the changes and when it computed it: kept as what the channel shows. */
  reported: { available: number; reportedAt: string };
  eventRef: string;
}

export interface ChannelStockChangesOutcome {
  outcome: 'applied' | 'unchanged' | 'unmapped';
  /** Ids of the changes applied now. */
  applied: string[];
  /** Ids of the changes applied before (a repeat): nothing moved again. */
  repeated: string[];
  skipped: { changeId: string; why: ChannelStockSkip }[];
}

const countAttemptsMax = 3;

/**
 * Applies the changes behind a channel's new stock figure, each once, oldest first: a count sets on
 * hand (reservations and safety stay as they are), a move changes it by its delta, a skipped change
 * moves nothing. Unlike recordChannelStock, the channel's figure itself is never compared with ours:
 * it differs by what we hold back from the channel and by sales the channel reports as orders.
 */
export async function recordChannelStockChanges(tx: Tx, merchant: Merchant, command: ChannelStockChangesCommand): Promise<ChannelStockChangesOutcome> {
  assertChangesInOrder(command.changes);
  const outcome: ChannelStockChangesOutcome = { outcome: 'unchanged', applied: [], repeated: [], skipped: [] };
  const place = await findChannelStockPlace(tx, merchant.id, command.channel, command.channelItemId, command.channelLocationId);
  if (!place) {
    await raiseUnmappedStock(tx, merchant.id, command);
    return { ...outcome, outcome: 'unmapped' };
  }
  let moved = false;
  for (const change of command.changes) {
    if (change.action === 'skip') {
      outcome.skipped.push({ changeId: change.changeId, why: change.why });
      continue;
    }
    const result = await applyChannelChange(tx, merchant.id, place, change, `${command.channel}:change:${change.changeId}`, command.channel);
    if (!result.applied) {
      outcome.repeated.push(change.changeId);
      continue;
    }
    outcome.applied.push(change.changeId);
    moved ||= result.onHandDelta !== 0;
    if (result.oversold) {
      await raiseException(tx, merchant.id, { kind: 'oversell', dedupeKey: `oversell:${command.channel}:change:${change.changeId}`, subject: place.variantId, details: { location_id: place.location.id, variant_id: place.variantId, available: result.level.available, change_id: change.changeId, event: command.eventRef } });
    }
  }
  if (!place.lastSeenAt || command.reported.reportedAt >= place.lastSeenAt) {
    await recordChannelReport(tx, merchant.id, command.channel, place.location.id, place.variantId, command.reported.available, command.reported.reportedAt);
  }
  if (moved) await announceStockChange(tx, merchant.id, place.location, place.variantId);
  return { ...outcome, outcome: outcome.applied.length > 0 ? 'applied' : 'unchanged' };
}

function assertChangesInOrder(changes: ChannelStockChange[]): void {
  const ids = new Set<string>();
  for (const [index, change] of changes.entries()) {
    assert(change.changeId.length > 0 && !ids.has(change.changeId), `recordChannelStockChanges: change ids are present and distinct (${change.changeId})`);
    ids.add(change.changeId);
    const previous = changes[index - 1];
    assert(!previous || previous.occurredAt <= change.occurredAt, 'recordChannelStockChanges: changes come oldest first');
    if (change.action === 'count') assert(Number.isSafeInteger(change.onHand), 'a counted on hand is an integer');
    if (change.action === 'move') assert(Number.isSafeInteger(change.onHandDelta) && change.onHandDelta !== 0, 'a move changes on hand by a non-zero integer');
  }
}

/**
 * One change as one movement under its source key. A count is the difference from on hand, applied
 * only if on hand did not change meanwhile (compare-and-swap, retried); a count equal to on hand is
 * still recorded, as a zero movement, so that reading the change again can never move stock.
 */
async function applyChannelChange(tx: Tx, merchantId: string, place: ChannelStockPlace, change: Exclude<ChannelStockChange, { action: 'skip' }>, sourceKey: string, actor: string): Promise<StockMovementResult & { onHandDelta: number }> {
  const target = { locationId: place.location.id, variantId: place.variantId, sourceKey, actor, requireAvailable: false, reason: change.reason };
  if (change.action === 'move') return { ...(await applyStockMovement(tx, merchantId, { ...target, kind: change.kind, onHandDelta: change.onHandDelta })), onHandDelta: change.onHandDelta };
  for (let attempt = 1; ; attempt += 1) {
    const level = await getStockLevel(tx, merchantId, place.location.id, place.variantId);
    const onHandDelta = change.onHand - level.onHand;
    try {
      return { ...(await applyStockMovement(tx, merchantId, { ...target, kind: 'count', onHandDelta, expectedOnHand: level.onHand })), onHandDelta };
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'inventory.concurrent_change') || attempt >= countAttemptsMax) throw error;
    }
  }
}
