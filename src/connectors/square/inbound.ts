import { recordChannelOrder, recordChannelRefund, recordChannelStock, resolveEventCustomer, type StockReportOutcome } from '../../commands/index.ts';
import type { Db, Tx } from '../../db/index.ts';
import { getMerchant, listChannelAccounts, type ChannelAccount, type Merchant } from '../../merchants/index.ts';
import { findOrderBySource } from '../../orders/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { parseJsonSafely } from '../../shared/json.ts';
import type { InboxEvent } from '../../sync/index.ts';
import { createSquareClient, type SquareClient } from './client.ts';
import { planSquareEvent, translateSquareCustomer, translateSquareInventoryCounts, translateSquareOrder, translateSquareRefund } from './translate.ts';
import type { SquareCustomer, SquareInventoryCount, SquareOrder, SquareRefund } from './types.ts';

type Outcome = { outcome: 'processed' | 'ignored'; note?: string };

/** What the worker fetched from Square for one event, before the event's transaction opened. */
export type PreparedSquareEvent =
  | { kind: 'order'; order: SquareOrder; customer: SquareCustomer | null }
  | { kind: 'order_already_recorded'; orderId: string }
  | { kind: 'refund'; refundOrder: SquareOrder | null }
  | { kind: 'nothing' };

/** How the preparer reaches Square and the database; both are asked only when an event needs them. */
export interface SquareEventSources {
  /** The merchant's Square client; throws `connectors.square.not_configured` when the account has no API access. */
  getClient(): Promise<SquareClient>;
  /** Whether the order is already recorded, so a repeated sale costs no API call. */
  isOrderRecorded(orderId: string): Promise<boolean>;
}

export type SquareClientFactory = (account: ChannelAccount & { adminApiUrl: string; accessToken: string }) => SquareClient;

const defaultClientFactory: SquareClientFactory = (account) => createSquareClient({ apiUrl: account.adminApiUrl, accessToken: account.accessToken });

// A payment may complete while its order is still OPEN (an API order not yet closed): the money was
// taken, so it is a sale. A canceled or draft order is not.
const recordableOrderStates = new Set(['COMPLETED', 'OPEN']);

/**
 * Reads from Square what an event needs, outside any transaction: the order a COMPLETED payment
 * names (and its customer), or the return order a COMPLETED refund names. Every other event needs
 * nothing. A Square failure throws and the inbox retries the event later.
 */
export async function prepareSquareEvent(event: InboxEvent, sources: SquareEventSources): Promise<PreparedSquareEvent> {
  const plan = planSquareEvent(parseJsonSafely(event.payload));
  if (plan.action === 'record_order') {
    if (await sources.isOrderRecorded(plan.orderId)) return { kind: 'order_already_recorded', orderId: plan.orderId };
    return fetchOrder(await sources.getClient(), plan.orderId);
  }
  if (plan.action === 'record_refund') return { kind: 'refund', refundOrder: await fetchRefundOrder(await sources.getClient(), plan.refund) };
  return { kind: 'nothing' };
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
export function createSquareEventPreparer(db: Db, clientFactory: SquareClientFactory = defaultClientFactory): (event: InboxEvent) => Promise<PreparedSquareEvent> {
  return (event) => prepareSquareEvent(event, {
    isOrderRecorded: async (orderId) => (await findOrderBySource(db, event.merchant_id, 'square', orderId)) !== undefined,
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
  'inventory.count.updated', 'customer.created', 'customer.updated',
] as const;

/** Applies one stored Square notification inside the worker's transaction, with what was prepared for it. */
export async function applySquareEvent(tx: Tx, event: InboxEvent, prepared: PreparedSquareEvent | undefined): Promise<Outcome> {
  const merchant = await getMerchant(tx, event.merchant_id);
  const plan = planSquareEvent(parseJsonSafely(event.payload));
  switch (plan.action) {
    case 'ignore':
      return { outcome: 'ignored', note: plan.note };
    case 'record_order': {
      if (prepared?.kind === 'order_already_recorded') return { outcome: 'ignored', note: 'order already recorded' };
      if (prepared?.kind !== 'order') throw notPrepared(event, 'order');
      assert(prepared.order.id === plan.orderId, `the prepared order ${prepared.order.id} is the one event ${event.id} names`);
      if (!recordableOrderStates.has(prepared.order.state)) return { outcome: 'ignored', note: `order ${prepared.order.id} is ${prepared.order.state}` };
      const { created } = await recordChannelOrder(tx, merchant, translateSquareOrder(prepared.order, prepared.customer));
      return created ? { outcome: 'processed' } : { outcome: 'ignored', note: 'order already recorded' };
    }
    case 'record_refund': {
      if (prepared?.kind !== 'refund') throw notPrepared(event, 'refund');
      const command = translateSquareRefund(plan.refund, prepared.refundOrder);
      if (!command) return { outcome: 'ignored', note: `refund ${plan.refund.id} returns goods of no single recorded sale (an unlinked return)` };
      const { created } = await recordChannelRefund(tx, merchant, command);
      return created ? { outcome: 'processed' } : { outcome: 'ignored', note: 'refund already recorded' };
    }
    case 'record_stock':
      return applyStockCounts(tx, merchant, event, plan.counts);
    case 'resolve_customer':
      await resolveEventCustomer(tx, merchant, translateSquareCustomer(plan.customer), `square:customer:${event.delivery_id}`);
      return { outcome: 'processed' };
  }
}

async function applyStockCounts(tx: Tx, merchant: Merchant, event: InboxEvent, counts: SquareInventoryCount[]): Promise<Outcome> {
  const reports = translateSquareInventoryCounts(counts, `square:${event.delivery_id}`);
  if (reports.length === 0) return { outcome: 'ignored', note: 'no IN_STOCK count in the notification' };
  const outcomes: StockReportOutcome[] = [];
  for (const report of reports) outcomes.push(await recordChannelStock(tx, merchant, report));
  const notApplied = reports.map((report, index) => ({ item: report.channelItemId, outcome: outcomes[index] })).filter((entry) => entry.outcome !== 'applied');
  const note = notApplied.length > 0 ? notApplied.map((entry) => `${entry.item}: ${entry.outcome}`).join(', ') : undefined;
  if (notApplied.length === reports.length) return { outcome: 'ignored', note: note ?? 'nothing changed' };
  return note ? { outcome: 'processed', note } : { outcome: 'processed' };
}

/** The worker applied an event that needs Square data without preparing it: a wiring bug, not an operating error. */
function notPrepared(event: InboxEvent, what: string): Error {
  return new Error(`Assertion failed: Square event ${event.id} (${event.topic}) needs its ${what} fetched by prepareSquareEvent before it is applied`);
}
