import { reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import type { OrderSummary } from './order-service.ts';

/** The most customers one read of recent orders takes: a register search shows at most 20. */
export const recentOrdersCustomersMax = 20;

const columns = ['id', 'customer_id', 'channel', 'source', 'order_number', 'location_id', 'placed_at', 'total_minor', 'refunded_minor', 'currency'] as const;

/**
 * The latest orders of each customer, newest first: at most `perCustomerMax` each, ranked per
 * customer so one customer's many orders never crowd out another's (a shared limit over all of
 * them did). Given values, or the placeholders of a reused query.
 */
function selectRecentOrders(db: Queryable, merchantId: string, customerIds: string[], perCustomerMax: number) {
  const ofCustomers = db.selectFrom('orders').select(columns).where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds);
  // One customer needs no ranking: the index (merchant_id, customer_id, placed_at) gives her
  // latest orders under a plain limit.
  if (customerIds.length === 1) return ofCustomers.orderBy('placed_at', 'desc').orderBy('id', 'desc').limit(perCustomerMax);
  return db
    .selectFrom(ofCustomers
      .select((eb) => eb.fn.agg<number>('row_number').over((over) => over.partitionBy('customer_id').orderBy('placed_at', 'desc').orderBy('id', 'desc')).as('recency'))
      .as('ranked'))
    .select(columns)
    .where('recency', '<=', perCustomerMax)
    .orderBy('placed_at', 'desc')
    .orderBy('id', 'desc');
}

type RecentOrderRow = Awaited<ReturnType<ReturnType<typeof selectRecentOrders>['execute']>>[number];

function byCustomer(rows: RecentOrderRow[], customerIds: string[], perCustomerMax: number): Map<string, OrderSummary[]> {
  const found = recentOrdersByCustomer(rows);
  return new Map(customerIds.map((id) => [id, (found.get(id) ?? []).slice(0, perCustomerMax)]));
}

function orderSummaryOf(row: RecentOrderRow): OrderSummary {
  return { id: row.id, customerId: row.customer_id, channel: row.channel, source: row.source, orderNumber: row.order_number, locationId: row.location_id, placedAt: row.placed_at, totalMinor: row.total_minor, refundedMinor: row.refunded_minor, currency: row.currency };
}

/** The rows of `selectRecentOrders` by customer, newest first (a customer without orders has no entry). */
function recentOrdersByCustomer(rows: RecentOrderRow[]): Map<string, OrderSummary[]> {
  const result = new Map<string, OrderSummary[]>();
  for (const row of rows) {
    if (row.customer_id === null) continue;
    let list = result.get(row.customer_id);
    if (!list) result.set(row.customer_id, (list = []));
    list.push(orderSummaryOf(row));
  }
  return result;
}

/**
 * The most recent orders of each customer, newest first, from every channel, for any number of
 * customers (a profile's history, the orders found for a search).
 */
export async function listRecentOrders(db: Queryable, merchantId: string, customerIds: string[], perCustomerMax = 10): Promise<Map<string, OrderSummary[]>> {
  if (customerIds.length === 0) return new Map();
  return byCustomer(await selectRecentOrders(db, merchantId, customerIds, perCustomerMax).execute(), customerIds, perCustomerMax);
}

// The count per customer is written into the SQL (a LIMIT SQLite must not re-plan on every run,
// src/db/literal-limits.ts), so there is one query per count of customers and count of orders.
function buildRecentOrders(count: number, perCustomerMax: number) {
  return reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerIds: string[] }>) =>
    selectRecentOrders(db, param('merchantId'), param.list('customerIds', count), perCustomerMax));
}

// One compiled query per count of customers (1 to recentOrdersCustomersMax) and of orders, built on first use.
const byCounts = new Map<string, ReturnType<typeof buildRecentOrders>>();

/**
 * The latest orders of each of a few customers, newest first, from every channel: the same answer
 * as `listRecentOrders`, for the register's lookup, with its SQL compiled once per count of
 * customers instead of built on every search (found by bench/customer-lookup.ts).
 * Example: `(await readRecentOrders(db, merchantId, [customerId], 5)).get(customerId)`.
 */
export async function readRecentOrders(db: Queryable, merchantId: string, customerIds: string[], perCustomerMax: number): Promise<Map<string, OrderSummary[]>> {
  if (customerIds.length === 0) return new Map();
  assert(customerIds.length <= recentOrdersCustomersMax, `recent orders of at most ${recentOrdersCustomersMax} customers at once (${customerIds.length})`);
  assert(Number.isInteger(perCustomerMax) && perCustomerMax >= 1, `a positive count of orders per customer (${perCustomerMax})`);
  const key = `${customerIds.length}/${perCustomerMax}`;
  let query = byCounts.get(key);
  if (!query) {
    query = buildRecentOrders(customerIds.length, perCustomerMax);
    byCounts.set(key, query);
  }
  return byCustomer(await query.execute(db, { merchantId, customerIds }), customerIds, perCustomerMax);
}
