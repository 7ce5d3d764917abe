import type { Queryable } from '../db/index.ts';
import type { OrderSummary } from './order-service.ts';

const columns = ['id', 'customer_id', 'channel', 'source', 'order_number', 'location_id', 'placed_at', 'total_minor', 'refunded_minor', 'currency'] as const;

/**
 * The latest orders of each customer, newest first: at most `perCustomerMax` each, ranked per
 * customer so one customer's many orders never crowd out another's (a shared limit over all of
 * them did).
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

function orderSummaryOf(row: RecentOrderRow): OrderSummary {
  return { id: row.id, customerId: row.customer_id, channel: row.channel, source: row.source, orderNumber: row.order_number, locationId: row.location_id, placedAt: row.placed_at, totalMinor: row.total_minor, refundedMinor: row.refunded_minor, currency: row.currency };
}

/**
 * The most recent orders of each customer, newest first, from every channel, for any number of
 * customers (a profile's history, the orders found for a search); a customer without orders has an
 * empty list.
 */
export async function listRecentOrders(db: Queryable, merchantId: string, customerIds: string[], perCustomerMax = 10): Promise<Map<string, OrderSummary[]>> {
  const result = new Map(customerIds.map((id) => [id, [] as OrderSummary[]]));
  if (customerIds.length === 0) return result;
  for (const row of await selectRecentOrders(db, merchantId, customerIds, perCustomerMax).execute()) {
    if (row.customer_id !== null) result.get(row.customer_id)?.push(orderSummaryOf(row));
  }
  return result;
}
