import { findChannelStockPlace, raisePossibleDuplicate, recordChannelOrder, recordChannelRefund, recordChannelStockChanges, resolveEventCustomer, type ChannelStockChangesCommand, type ChannelStockChangesOutcome } from '../../commands/index.ts';
import { linkChannelId, unlinkChannelCustomerId } from '../../customers/index.ts';
import type { Db, Tx } from '../../db/index.ts';
import { getMerchant, listChannelAccounts, type ChannelAccount, type Merchant } from '../../merchants/index.ts';
import { findOrderBySource } from '../../orders/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { parseJsonExactly } from '../../shared/json.ts';
import { writeAudit, type InboxEvent } from '../../sync/index.ts';
import { findChannelDeletion, recordChannelDeletion } from '../channel-deletions.ts';
import { parseRefundMarker } from '../refund-marker.ts';
import { recordChannelRefundFailed } from '../refund-push.ts';
import { createSquareClient, type SquareClient } from './client.ts';
import { planSquareEvent, readInStockCounts, translateSquareCustomer, translateSquareOrder, translateSquareRefund, translateSquareStockChanges } from './translate.ts';
import type { SquareCustomer, SquareInventoryChange, SquareInventoryCount, SquareOrder, SquareRefund } from './types.ts';

type Outcome = { outcome: 'processed' | 'ignored'; note?: string };

/** What the worker fetched from Square for one event, before the event's transaction opened. */
export type PreparedSquareEvent =
  | { kind: 'order'; order: SquareOrder; customer: SquareCustomer | null }
  | { kind: 'order_already_recorded'; orderId: string }
  | { kind: 'refund'; refundOrder: SquareOrder | null }
  /** The inventory changes behind an `inventory.count.updated`, read for the places Continuum maps. */
  | { kind: 'stock'; changes: SquareInventoryChange[] }
  | { kind: 'nothing' };

/** How the preparer reaches Square and the database; both are asked only when an event needs them. */
export interface SquareEventSources {
  /** The merchant's Square client; throws `connectors.square.not_configured` when the account has no API access. */
  getClient(): Promise<SquareClient>;
  /** Whether the order is already recorded, so a repeated sale costs no API call. */
  isOrderRecorded(orderId: string): Promise<boolean>;
  /**
   * Whether a Square item at a Square location maps to a variant and location here and, if so, when
   * Square's count there was last seen (null: never); undefined when unmapped, which costs no API call.
   */
  findStockPlace(catalogObjectId: string, locationId: string): Promise<{ lastSeenAt: string | null } | undefined>;
}

/** How far before a count's `calculated_at` its changes are looked for: Square recounts moments after a change. */
export const CHANGES_LOOKBACK_MS = 15 * 60_000;
/** How far before the last count seen a read starts again, for a change Square made visible late; a change read twice moves once. */
export const CHANGES_OVERLAP_MS = 5 * 60_000;
/** The furthest back the last count seen extends a read: Square retries a notification for up to 72 h (protocols.md C3). */
export const CHANGES_LOOKBACK_MS_MAX = 72 * 3_600_000;

/**
 * Where to start reading the changes behind a count (`updated_after` of BatchRetrieveInventoryChanges,
 * which compares it with each change's `created_at`). A count covers changes made since the last
 * count we saw for the place, so the read starts there (a little earlier, CHANGES_OVERLAP_MS), and at
 * least CHANGES_LOOKBACK_MS before the count, so a count processed after a newer one (a retry) still
 * finds its own changes; never more than CHANGES_LOOKBACK_MS_MAX before it. Reading a change again is
 * harmless: it is applied once, by its id.
 * Example: computeChangesReadStart('2030-01-01T12:00:00Z', null) → '2030-01-01T11:45:00.000Z'.
 */
export function computeChangesReadStart(calculatedAt: string, lastSeenAt: string | null): string {
  const countMs = Date.parse(calculatedAt);
  assert(!Number.isNaN(countMs), `computeChangesReadStart: calculated_at ${calculatedAt} is a timestamp`);
  let startMs = countMs - CHANGES_LOOKBACK_MS;
  if (lastSeenAt !== null) {
    const seenMs = Date.parse(lastSeenAt);
    assert(!Number.isNaN(seenMs), `computeChangesReadStart: last seen ${lastSeenAt} is a timestamp`);
    startMs = Math.max(countMs - CHANGES_LOOKBACK_MS_MAX, Math.min(startMs, seenMs - CHANGES_OVERLAP_MS));
  }
  return new Date(startMs).toISOString();
}

export type SquareClientFactory = (account: ChannelAccount & { adminApiUrl: string; accessToken: string }) => SquareClient;

export const defaultSquareClientFactory: SquareClientFactory = (account) => createSquareClient({ apiUrl: account.adminApiUrl, accessToken: account.accessToken });

// A payment may complete while its order is still OPEN (an API order not yet closed): the money was
// taken, so it is a sale. A canceled or draft order is not.
const recordableOrderStates = new Set(['COMPLETED', 'OPEN']);

/**
 * Reads from Square what an event needs, outside any transaction: the order a COMPLETED payment
 * names (and its customer), the return order a COMPLETED refund names, or the inventory changes
 * behind an `inventory.count.updated`. Every other event needs nothing. A Square failure throws and
 * the inbox retries the event later.
 */
export async function prepareSquareEvent(event: InboxEvent, sources: SquareEventSources): Promise<PreparedSquareEvent> {
  const plan = planSquareEvent(parseJsonExactly(event.payload));
  if (plan.action === 'record_order') {
    if (await sources.isOrderRecorded(plan.orderId)) return { kind: 'order_already_recorded', orderId: plan.orderId };
    return fetchOrder(await sources.getClient(), plan.orderId);
  }
  if (plan.action === 'record_refund') return { kind: 'refund', refundOrder: await fetchRefundOrder(await sources.getClient(), plan.refund) };
  if (plan.action === 'record_stock') return fetchStockChanges(plan.counts, sources);
  return { kind: 'nothing' };
}

/**
 * Square's count says what the shelf holds now, not why it changed: a register sale lowers it as
 * well as a damaged unit, and the sale also arrives as its order. So the changes behind the count
 * are read (BatchRetrieveInventoryChanges) for the places the notification names and Continuum
 * maps; an unmapped place costs no request.
 */
async function fetchStockChanges(counts: SquareInventoryCount[], sources: SquareEventSources): Promise<PreparedSquareEvent> {
  const places: ChangeReadPlace[] = [];
  for (const count of readInStockCounts(counts)) {
    const place = await sources.findStockPlace(count.catalog_object_id, count.location_id);
    if (place) places.push({ catalogObjectId: count.catalog_object_id, locationId: count.location_id, updatedAfter: computeChangesReadStart(count.calculated_at, place.lastSeenAt) });
  }
  const reads = planChangeReads(places);
  if (reads.length === 0) return { kind: 'stock', changes: [] };
  const client = await sources.getClient();
  const changes: SquareInventoryChange[] = [];
  for (const read of reads) changes.push(...(await client.retrieveInventoryChanges(read)));
  return { kind: 'stock', changes: dedupeChanges(changes) };
}

/** Places whose reads start within this span share one request, reading at most this much more than each needs. */
export const SHARED_READ_SPAN_MS = CHANGES_LOOKBACK_MS;

export interface ChangeReadPlace {
  catalogObjectId: string;
  locationId: string;
  updatedAfter: string;
}

/**
 * Groups the reads of a notification's places (at most 100, protocols.md C4) into requests: places
 * whose starts lie within SHARED_READ_SPAN_MS share one request from the earliest of them, so one
 * place last seen days ago does not make every other place read days of changes.
 * Example: starts 11:45, 11:50 and 09:00 → two requests, from 09:00 and from 11:45.
 */
export function planChangeReads(places: ChangeReadPlace[]): { catalogObjectIds: string[]; locationIds: string[]; updatedAfter: string }[] {
  const groups: { updatedAfter: string; catalogObjectIds: Set<string>; locationIds: Set<string> }[] = [];
  for (const place of [...places].sort((left, right) => left.updatedAfter.localeCompare(right.updatedAfter))) {
    const group = groups.at(-1);
    if (group && Date.parse(place.updatedAfter) - Date.parse(group.updatedAfter) <= SHARED_READ_SPAN_MS) {
      group.catalogObjectIds.add(place.catalogObjectId);
      group.locationIds.add(place.locationId);
    } else {
      groups.push({ updatedAfter: place.updatedAfter, catalogObjectIds: new Set([place.catalogObjectId]), locationIds: new Set([place.locationId]) });
    }
  }
  return groups.map((group) => ({ catalogObjectIds: [...group.catalogObjectIds], locationIds: [...group.locationIds], updatedAfter: group.updatedAfter }));
}

/** Two requests may both return a change (an item at two places): it is kept once, by its id. A change of a type not asked for is left out. */
function dedupeChanges(changes: SquareInventoryChange[]): SquareInventoryChange[] {
  const byId = new Map<string, SquareInventoryChange>();
  for (const change of changes) {
    const id = (change.physical_count ?? change.adjustment)?.id;
    if (id === undefined) continue;
    if (!byId.has(id)) byId.set(id, change);
  }
  return [...byId.values()];
}

async function fetchOrder(client: SquareClient, orderId: string): Promise<PreparedSquareEvent> {
  const order = await client.retrieveOrder(orderId);
  if (!order.customer_id) return { kind: 'order', order, customer: null };
  return { kind: 'order', order, customer: await retrieveCustomerIfKnown(client, order.customer_id) };
}

/** A customer deleted (or merged away) in Square since the sale still names her id; the sale keeps that. */
async function retrieveCustomerIfKnown(client: SquareClient, customerId: string): Promise<SquareCustomer | null> {
  try {
    return await client.retrieveCustomer(customerId);
  } catch (error) {
    if (error instanceof AppError && error.code === 'connectors.square.not_found') return null;
    throw error;
  }
}

/** The refund's return order; one Square no longer finds leaves the refund without line detail. */
async function fetchRefundOrder(client: SquareClient, refund: SquareRefund): Promise<SquareOrder | null> {
  assert(refund.order_id, 'a refund is prepared only when it names an order');
  try {
    return await client.retrieveOrder(refund.order_id);
  } catch (error) {
    if (error instanceof AppError && error.code === 'connectors.square.not_found') return null;
    throw error;
  }
}

/**
 * The preparer the engine gives the worker: it reaches the merchant's Square account through its
 * channel account (`admin_api_url` holds the API base URL, `access_token` the token). Without them
 * a register sale cannot be read, and the event fails with `connectors.square.not_configured`.
 */
export function createSquareEventPreparer(db: Db, clientFactory: SquareClientFactory = defaultSquareClientFactory): (event: InboxEvent) => Promise<PreparedSquareEvent> {
  return (event) => prepareSquareEvent(event, {
    isOrderRecorded: async (orderId) => (await findOrderBySource(db, event.merchant_id, 'square', orderId)) !== undefined,
    findStockPlace: async (catalogObjectId, locationId) => findChannelStockPlace(db, event.merchant_id, 'square', catalogObjectId, locationId),
    getClient: async () => {
      const [account] = await listChannelAccounts(db, event.merchant_id, 'square');
      if (!account?.adminApiUrl || !account.accessToken) {
        throw new AppError('connectors.square.not_configured', 'The Square account has no API URL or access token, so the sale cannot be read from Square', { merchant_id: event.merchant_id });
      }
      return clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
    },
  });
}

/** Types Continuum applies; every other type is kept in the inbox, acknowledged and not applied. */
export const appliedSquareTypes = [
  'payment.created', 'payment.updated', 'order.created', 'order.updated', 'refund.created', 'refund.updated',
  'inventory.count.updated', 'customer.created', 'customer.updated', 'customer.deleted',
] as const;

/** Applies one stored Square notification inside the worker's transaction, with what was prepared for it. */
export async function applySquareEvent(tx: Tx, event: InboxEvent, prepared: PreparedSquareEvent | undefined): Promise<Outcome> {
  const merchant = await getMerchant(tx, event.merchant_id);
  const plan = planSquareEvent(parseJsonExactly(event.payload));
  switch (plan.action) {
    case 'ignore':
      return { outcome: 'ignored', note: plan.note };
    case 'record_order': {
      if (prepared?.kind === 'order_already_recorded') return { outcome: 'ignored', note: 'order already recorded' };
      if (prepared?.kind !== 'order') throw notPrepared(event, 'order');
      assert(prepared.order.id === plan.orderId, `the prepared order ${prepared.order.id} is the one event ${event.id} names`);
      if (!recordableOrderStates.has(prepared.order.state)) return { outcome: 'ignored', note: `order ${prepared.order.id} is ${prepared.order.state}` };
      const { created } = await recordChannelOrder(tx, merchant, translateSquareOrder(prepared.order, prepared.customer, plan.paymentId));
      return created ? { outcome: 'processed' } : { outcome: 'ignored', note: 'order already recorded' };
    }
    case 'record_refund': {
      if (prepared?.kind !== 'refund') throw notPrepared(event, 'refund');
      const command = translateSquareRefund(plan.refund, prepared.refundOrder);
      if (!command) return { outcome: 'ignored', note: `refund ${plan.refund.id} returns goods of no single recorded sale (an unlinked return)` };
      const { created, returnId } = await recordChannelRefund(tx, merchant, command);
      if (created) return { outcome: 'processed' };
      return { outcome: 'ignored', note: returnId === command.continuumReturnId ? `our own refund of return ${returnId}, linked to it` : 'refund already recorded' };
    }
    case 'refund_failed': {
      const returnId = parseRefundMarker(plan.refund.reason);
      const note = returnId ? await recordChannelRefundFailed(tx, merchant.id, 'square', { returnId, refundRef: plan.refund.id, status: plan.refund.status }) : undefined;
      return note ? { outcome: 'processed', note } : { outcome: 'ignored', note: `refund ${plan.refund.id} is ${plan.refund.status}; no refund of ours waits on it, so nothing was recorded` };
    }
    case 'record_stock': {
      if (prepared?.kind !== 'stock') throw notPrepared(event, 'inventory changes');
      return applyStockChanges(tx, merchant, translateSquareStockChanges(plan.counts, prepared.changes, `square:${event.delivery_id}`));
    }
    case 'resolve_customer': {
      // Square never brings a deleted customer back (a merge makes a new one): a notification for
      // one is late, and applying it would link the deleted id to a profile again.
      const deletedAt = await findChannelDeletion(tx, merchant.id, 'square', 'customer', plan.customer.id);
      if (deletedAt) return { outcome: 'ignored', note: `Square deleted customer ${plan.customer.id} at ${deletedAt}; this later notification is not applied` };
      await resolveEventCustomer(tx, merchant, translateSquareCustomer(plan.customer), `square:customer:${event.delivery_id}`);
      return { outcome: 'processed' };
    }
    case 'unlink_customer':
      return applySquareCustomerDeletion(tx, merchant, plan.squareCustomerId, plan.mergedInto, event);
  }
}

/**
 * `customer.deleted`: the Square id is unlinked and remembered as deleted (a late created or updated
 * notification for it is not applied); the profile, its points and its orders stay. When a
 * Square merge deleted it, the customer the merge made is linked to the same profile (unless another
 * profile holds it already: then the two are a possible duplicate for a person), so the profile
 * keeps a Square id whichever of the merge's notifications arrives first.
 */
async function applySquareCustomerDeletion(tx: Tx, merchant: Merchant, squareCustomerId: string, mergedInto: string | null, event: InboxEvent): Promise<Outcome> {
  await recordChannelDeletion(tx, merchant.id, 'square', 'customer', squareCustomerId, event.triggered_at ?? event.received_at);
  const customerIds = await unlinkChannelCustomerId(tx, merchant.id, 'square_id', squareCustomerId);
  for (const customerId of customerIds) {
    await writeAudit(tx, merchant.id, { actor: 'square', action: 'customer.channel_unlinked', subject: customerId, details: { channel: 'square', square_id: squareCustomerId, merged_into: mergedInto, event: event.delivery_id } });
  }
  if (customerIds.length === 0) return { outcome: 'ignored', note: 'no profile holds this Square customer' };
  const [customerId] = customerIds;
  if (mergedInto && customerIds.length === 1 && customerId) {
    const holder = await linkChannelId(tx, merchant.id, customerId, 'square_id', mergedInto);
    if (holder !== customerId) await raisePossibleDuplicate(tx, merchant.id, [customerId, holder], { event: `square:${event.delivery_id}`, reason: `Square merged customer ${squareCustomerId} into ${mergedInto}, which another profile holds` });
  }
  const merged = mergedInto ? `, merged in Square into ${mergedInto}` : '';
  return { outcome: 'processed', note: `Square customer ${squareCustomerId}${merged} unlinked from ${customerIds.join(', ')}; the profile and its loyalty ledger stay` };
}

/** An inbox note names at most this many characters of what was not applied. */
const STOCK_NOTE_CHARS_MAX = 1_000;

async function applyStockChanges(tx: Tx, merchant: Merchant, commands: ChannelStockChangesCommand[]): Promise<Outcome> {
  if (commands.length === 0) return { outcome: 'ignored', note: 'no IN_STOCK count in the notification' };
  const notes: string[] = [];
  let applied = 0;
  for (const command of commands) {
    const result = await recordChannelStockChanges(tx, merchant, command);
    applied += result.applied.length;
    const note = describeStockOutcome(command.channelItemId, result);
    if (note) notes.push(note);
  }
  const note = notes.length > 0 ? notes.join('; ').slice(0, STOCK_NOTE_CHARS_MAX) : undefined;
  if (applied === 0) return { outcome: 'ignored', note: note ?? 'nothing changed' };
  return note ? { outcome: 'processed', note } : { outcome: 'processed' };
}

/** What of a place's changes was not applied, and why, for the inbox note; empty when all were. */
function describeStockOutcome(item: string, result: ChannelStockChangesOutcome): string {
  if (result.outcome === 'unmapped') return `${item}: unmapped`;
  const parts = result.skipped.map((skip) => `${skip.changeId} skipped (${skip.why})`);
  if (result.repeated.length > 0) parts.push(`${result.repeated.length} already applied`);
  if (parts.length === 0 && result.applied.length === 0) parts.push('no change behind the count');
  return parts.length > 0 ? `${item}: ${parts.join(', ')}` : '';
}

/** The worker applied an event that needs Square data without preparing it: a wiring bug, not an operating error. */
function notPrepared(event: InboxEvent, what: string): Error {
  return new Error(`Assertion failed: Square event ${event.id} (${event.topic}) needs its ${what} fetched by prepareSquareEvent before it is applied`);
}
