import { getCustomerContactDetails, getCustomerIdentity } from '../customers/index.ts';
import type { Queryable } from '../db/index.ts';
import { getLoyaltyBalance, listLots } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { getOrder, type Order } from '../orders/index.ts';
import { listReturnsForOrder } from '../returns/index.ts';
import { nowIso } from '../shared/clock.ts';
import { listCustomerMerges } from './merge-customers.ts';

// Every part of an export has a ceiling; a profile past one says so (`truncated`) rather than
// silently handing over less than everything.
const exportOrdersMax = 2_000;
const exportLoyaltyTransactionsMax = 10_000;

export const customerDataExportFormat = 'continuum.customer-data-export/1';

export interface CustomerDataExportRequest {
  source: string;
  requestRef: string;
  /** The channel's ids of the orders she asked about; the export says which of them are held for her. */
  ordersRequested: string[];
}

function money(amountMinor: number, currency: string) {
  return { amount_minor: amountMinor, currency };
}

function exportOrder(order: Order, returns: Awaited<ReturnType<typeof listReturnsForOrder>>) {
  const amount = (amountMinor: number) => money(amountMinor, order.currency);
  return {
    id: order.id, channel: order.channel, source: order.source, source_ref: order.sourceRef, order_number: order.orderNumber, location_id: order.locationId,
    register_id: order.registerRef, status: order.status, placed_at: order.placedAt,
    subtotal: amount(order.subtotalMinor), discount: amount(order.discountMinor), shipping: amount(order.shippingMinor), tax: amount(order.taxMinor), total: amount(order.totalMinor), refunded: amount(order.refundedMinor),
    lines: order.lines.map((line) => ({ sku: line.sku, title: line.title, quantity: line.quantity, returned_quantity: line.returnedQuantity, unit_price: amount(line.unitPriceMinor), discount: amount(line.discountMinor), tax: amount(line.taxMinor), points_earned: line.pointsEarned })),
    discounts: order.discounts.map((discount) => ({ kind: discount.kind, code: discount.code, amount: amount(discount.amountMinor) })),
    payments: order.payments.map((payment) => ({ method: payment.method, amount: amount(payment.amountMinor) })),
    returns: returns.map((entry) => ({
      id: entry.id, source: entry.source, source_ref: entry.source_ref, amount: money(entry.amount_minor, entry.currency), note: entry.note, created_at: entry.created_at,
      lines: entry.lines.map((line) => ({ order_line_id: line.order_line_id, quantity: line.quantity, amount: money(line.amount_minor, entry.currency), tax: money(line.tax_minor, entry.currency), points_reversed: line.points_reversed })),
    })),
  };
}

async function exportOrders(db: Queryable, merchantId: string, customerId: string) {
  const rows = await db.selectFrom('orders').select('id').where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('placed_at', 'desc').orderBy('id').limit(exportOrdersMax + 1).execute();
  const orders = [];
  for (const row of rows.slice(0, exportOrdersMax)) orders.push(exportOrder(await getOrder(db, merchantId, row.id), await listReturnsForOrder(db, merchantId, row.id)));
  return { orders, truncated: rows.length > exportOrdersMax };
}

async function exportLoyalty(db: Queryable, merchant: Merchant, customerId: string) {
  const balance = await getLoyaltyBalance(db, merchant.id, customerId, merchant.settings.loyalty.baseTier);
  const transactions = await db
    .selectFrom('loyalty_transactions')
    .select(['id', 'kind', 'asset', 'points', 'order_id', 'memo', 'created_at'])
    .where('merchant_id', '=', merchant.id)
    .where('customer_id', '=', customerId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(exportLoyaltyTransactionsMax + 1)
    .execute();
  return {
    available: balance.available, pending: balance.pending, lifetime_earned: balance.lifetimeEarned, tier: balance.tier,
    lots: (await listLots(db, merchant.id, customerId)).map((lot) => ({ id: lot.id, points: lot.points, remaining: lot.remaining, earned_at: lot.earned_at, expires_at: lot.expires_at })),
    history: transactions.slice(0, exportLoyaltyTransactionsMax),
    truncated: transactions.length > exportLoyaltyTransactionsMax,
  };
}

/** Everything held about one profile: who she is, how to reach her, her points and her orders. */
async function exportProfile(db: Queryable, merchant: Merchant, customerId: string) {
  const identity = await getCustomerIdentity(db, merchant.id, customerId);
  const contact = await getCustomerContactDetails(db, merchant.id, customerId);
  const { orders, truncated } = await exportOrders(db, merchant.id, customerId);
  return {
    profile: { id: identity.id, state: identity.state, merged_into: identity.mergedInto, first_name: identity.firstName, last_name: identity.lastName, loyalty_code: identity.loyaltyCode, note: identity.note, preferences: identity.preferences, created_at: identity.createdAt },
    identifiers: identity.identifiers.map((identifier) => ({ kind: identifier.kind, value: identifier.original, normalized: identifier.value, verified: identifier.verified, flag: identifier.flag })),
    addresses: contact.addresses,
    consents: contact.consents,
    loyalty: await exportLoyalty(db, merchant, customerId),
    orders,
    orders_truncated: truncated,
    merges: await listCustomerMerges(db, merchant.id, customerId),
  };
}

export type CustomerDataExport = Awaited<ReturnType<typeof buildCustomerDataExport>>;

/**
 * Builds the export a data request asks for: every profile of hers with its identifiers,
 * addresses, consent, note, loyalty balance, lots and history, orders from every channel with
 * their lines and returns, and merges. No profile found still makes an export: it says nothing
 * is held, which is the answer the merchant owes her.
 */
export async function buildCustomerDataExport(db: Queryable, merchant: Merchant, customerIds: string[], request: CustomerDataExportRequest) {
  const profiles = [];
  for (const customerId of customerIds) profiles.push(await exportProfile(db, merchant, customerId));
  const held = new Set(profiles.flatMap((profile) => profile.orders.filter((order) => order.source === request.source).map((order) => order.source_ref)));
  return {
    format: customerDataExportFormat,
    generated_at: nowIso(),
    merchant: { id: merchant.id, name: merchant.name },
    request: { source: request.source, request_ref: request.requestRef, orders_requested: request.ordersRequested.map((ref) => ({ source_ref: ref, held: held.has(ref) })) },
    profiles,
  };
}
