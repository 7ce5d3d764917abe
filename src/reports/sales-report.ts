import { sql, type RawBuilder } from 'kysely';
import type { Queryable } from '../db/index.ts';
import { listLocations } from '../merchants/index.ts';
import { toInteger, type ReportPeriod } from './report-period.ts';

export const salesGroups = ['channel', 'location', 'day'] as const;
export type SalesGroup = (typeof salesGroups)[number];

/** The name a report gives the orders that name no location (web orders shipped from the online location). */
export const onlineLocationName = 'Online';

/**
 * One group of a sales report, money in the merchant's minor units, figures as retail reports them
 * (Shopify's sales report among them). Orders count in the period they were placed (cancelled
 * orders not at all); returns and refunds in the period they were given, against the channel and
 * location of the order they refund. Net sales = gross − discounts − returns; total sales = net
 * sales + shipping + tax, shipping and tax being what was charged less what was given back.
 */
export interface SalesRow {
  channel: string | null;
  location_id: string | null;
  location_name: string | null;
  day: string | null;
  orders: number;
  /** The orders' merchandise at its price, before discounts. */
  gross_minor: number;
  discounts_minor: number;
  /** The goods given back, after their discounts and before tax, less what was kept of them (restocking fees). */
  returns_minor: number;
  net_sales_minor: number;
  /** Shipping charged less shipping given back, both before tax. */
  shipping_minor: number;
  /** Tax charged less tax given back (the goods' and the shipping's). */
  tax_minor: number;
  total_sales_minor: number;
  /** What went back to the shoppers, by any method (money, store credit, an exchange's new goods). */
  refunds_minor: number;
  /** What was paid by each payment method (Shopify's gateway, `cash`, `store_credit`, `exchange`, ...). */
  payments: Record<string, number>;
}

// The group of an order, and of a refund (whose day is the day it was given).
function orderKey(group: SalesGroup): RawBuilder<string | null> {
  if (group === 'channel') return sql<string>`orders.channel`;
  if (group === 'location') return sql<string | null>`orders.location_id`;
  return sql<string>`substr(orders.placed_at, 1, 10)`;
}

function refundKey(group: SalesGroup): RawBuilder<string | null> {
  return group === 'day' ? sql<string>`substr(returns.created_at, 1, 10)` : orderKey(group);
}

function emptyRow(group: SalesGroup, key: string | null, locationNames: Map<string, string>): SalesRow {
  return {
    channel: group === 'channel' ? key : null,
    location_id: group === 'location' ? key : null,
    location_name: group === 'location' ? (key === null ? onlineLocationName : locationNames.get(key) ?? key) : null,
    day: group === 'day' ? key : null,
    orders: 0, gross_minor: 0, discounts_minor: 0, returns_minor: 0, net_sales_minor: 0, shipping_minor: 0, tax_minor: 0, total_sales_minor: 0, refunds_minor: 0, payments: {},
  };
}

/**
 * Sales by channel, location or day over a period: three grouped queries (orders, payments,
 * refunds), so the work grows with the number of groups, never with the number of orders read back.
 */
export async function reportSales(db: Queryable, merchantId: string, period: ReportPeriod, group: SalesGroup): Promise<SalesRow[]> {
  const key = orderKey(group);
  const placedInPeriod = db.selectFrom('orders').where('orders.merchant_id', '=', merchantId).where('orders.placed_at', '>=', period.startIso).where('orders.placed_at', '<', period.endIso).where('orders.cancelled_at', 'is', null);
  const totals = await placedInPeriod
    .select((eb) => [key.as('group_key'), eb.fn.countAll().as('orders'), eb.fn.sum('orders.subtotal_minor').as('gross'), eb.fn.sum('orders.discount_minor').as('discounts'), eb.fn.sum('orders.shipping_minor').as('shipping'), eb.fn.sum('orders.tax_minor').as('tax')])
    .groupBy(key)
    .execute();
  const payments = await placedInPeriod
    .innerJoin('payments', (join) => join.onRef('payments.merchant_id', '=', 'orders.merchant_id').onRef('payments.order_id', '=', 'orders.id'))
    .select((eb) => [key.as('group_key'), 'payments.method', eb.fn.sum('payments.amount_minor').as('amount')])
    .groupBy([key, 'payments.method'])
    .execute();
  const refunds = await db
    .selectFrom('returns')
    .innerJoin('orders', (join) => join.onRef('orders.merchant_id', '=', 'returns.merchant_id').onRef('orders.id', '=', 'returns.order_id'))
    .select((eb) => [
      refundKey(group).as('group_key'), eb.fn.sum('returns.amount_minor').as('amount'), eb.fn.sum(sql<number>`returns.merchandise_minor - returns.discount_minor - returns.fee_minor`).as('goods'),
      eb.fn.sum(sql<number>`returns.shipping_minor - returns.shipping_tax_minor`).as('shipping'), eb.fn.sum(sql<number>`returns.tax_minor + returns.shipping_tax_minor`).as('tax'),
    ])
    .where('returns.merchant_id', '=', merchantId)
    .where('returns.created_at', '>=', period.startIso)
    .where('returns.created_at', '<', period.endIso)
    .groupBy(refundKey(group))
    .execute();

  const locationNames = new Map((await listLocations(db, merchantId)).map((location) => [location.id, location.name]));
  const rows = new Map<string | null, SalesRow>();
  const rowOf = (groupKey: string | null) => {
    let row = rows.get(groupKey);
    if (!row) rows.set(groupKey, (row = emptyRow(group, groupKey, locationNames)));
    return row;
  };
  for (const total of totals) {
    const row = rowOf(total.group_key);
    row.orders = toInteger(total.orders);
    row.gross_minor = toInteger(total.gross);
    row.discounts_minor = toInteger(total.discounts);
    row.shipping_minor = toInteger(total.shipping);
    row.tax_minor = toInteger(total.tax);
  }
  for (const payment of payments) rowOf(payment.group_key).payments[payment.method] = toInteger(payment.amount);
  for (const refund of refunds) {
    const row = rowOf(refund.group_key);
    row.refunds_minor = toInteger(refund.amount);
    row.returns_minor = toInteger(refund.goods);
    row.shipping_minor -= toInteger(refund.shipping);
    row.tax_minor -= toInteger(refund.tax);
  }
  for (const row of rows.values()) {
    row.net_sales_minor = row.gross_minor - row.discounts_minor - row.returns_minor;
    row.total_sales_minor = row.net_sales_minor + row.shipping_minor + row.tax_minor;
  }
  return [...rows.values()].sort(compareRows(group));
}

function compareRows(group: SalesGroup): (a: SalesRow, b: SalesRow) => number {
  if (group === 'location') {
    // Online first, then the locations by name.
    return (a, b) => (a.location_id === null ? -1 : b.location_id === null ? 1 : (a.location_name ?? '').localeCompare(b.location_name ?? '') || (a.location_id < b.location_id ? -1 : 1));
  }
  const field = group === 'channel' ? 'channel' : 'day';
  return (a, b) => ((a[field] ?? '') < (b[field] ?? '') ? -1 : 1);
}

/** The CSV columns of a sales report: the row's fields, then one `payments_<method>` column per method seen. */
export function salesCsvColumns(rows: readonly SalesRow[]): { columns: string[]; cells: (string | number | null)[][] } {
  const methods = [...new Set(rows.flatMap((row) => Object.keys(row.payments)))].sort();
  const fixed = ['channel', 'location_id', 'location_name', 'day', 'orders', 'gross_minor', 'discounts_minor', 'returns_minor', 'net_sales_minor', 'shipping_minor', 'tax_minor', 'total_sales_minor', 'refunds_minor'] as const;
  return {
    columns: [...fixed, ...methods.map((method) => `payments_${method}`)],
    cells: rows.map((row) => [...fixed.map((field) => row[field]), ...methods.map((method) => row.payments[method] ?? 0)]),
  };
}
