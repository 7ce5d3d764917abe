import { sql } from 'kysely';
import type { Queryable } from '../db/index.ts';
import { shareOf, toInteger, type ReportPeriod } from './report-period.ts';

export const channelCombinations = ['online_only', 'store_only', 'both'] as const;
export type ChannelCombination = (typeof channelCombinations)[number];

/** Customers grouped by the channels they bought in during the period. */
export interface CustomerCombinationRow {
  combination: ChannelCombination;
  customers: number;
  orders: number;
  /** Those of them who bought more than once. */
  repeat_customers: number;
  /** What those orders came to (merchandise after discounts, shipping and tax), in minor units. */
  total_minor: number;
}

/**
 * Customers across channels over a period: how many bought, how many bought both online and in a
 * store, how many bought more than once. Counts the purchases the period placed (cancelled orders
 * and the new goods of an exchange are not purchases) by the profile each is on now (after merges).
 */
export interface CustomerReport {
  customers_with_orders: number;
  multi_channel_customers: number;
  /** multi_channel_customers ÷ customers_with_orders, to four decimals. */
  multi_channel_share: number;
  repeat_customers: number;
  /** repeat_customers ÷ customers_with_orders, to four decimals. */
  repeat_purchase_rate: number;
  rows: CustomerCombinationRow[];
}

/**
 * One grouped query over a per-customer grouping: the database sums per customer and then per
 * combination, so the answer has three rows however many customers bought.
 */
export async function reportCustomers(db: Queryable, merchantId: string, period: ReportPeriod): Promise<CustomerReport> {
  const perCustomer = db
    .selectFrom('orders')
    .select((eb) => [
      'customer_id',
      // Two channels exist (online, store): a customer who bought in both has two distinct ones.
      sql<string>`case when count(distinct channel) > 1 then 'both' else min(channel) end`.as('combination'),
      eb.fn.countAll().as('order_count'),
      eb.fn.sum('total_minor').as('total'),
    ])
    .where('merchant_id', '=', merchantId)
    .where('customer_id', 'is not', null)
    .where('placed_at', '>=', period.startIso)
    .where('placed_at', '<', period.endIso)
    .where('cancelled_at', 'is', null)
    .where('exchange_of_order_id', 'is', null)
    .groupBy('customer_id');
  const grouped = await db
    .selectFrom(perCustomer.as('per_customer'))
    .select((eb) => [
      'per_customer.combination',
      eb.fn.countAll().as('customers'),
      eb.fn.sum('per_customer.order_count').as('orders'),
      eb.fn.sum('per_customer.total').as('total'),
      eb.fn.sum(sql<number>`case when per_customer.order_count >= 2 then 1 else 0 end`).as('repeat'),
    ])
    .groupBy('per_customer.combination')
    .execute();

  const rows = channelCombinations.map((combination): CustomerCombinationRow => ({ combination, customers: 0, orders: 0, repeat_customers: 0, total_minor: 0 }));
  for (const group of grouped) {
    const combination = group.combination === 'both' ? 'both' : group.combination === 'online' ? 'online_only' : 'store_only';
    const row = rows.find((candidate) => candidate.combination === combination)!;
    row.customers += toInteger(group.customers);
    row.orders += toInteger(group.orders);
    row.total_minor += toInteger(group.total);
    row.repeat_customers += toInteger(group.repeat);
  }
  const repeat = rows.reduce((sum, row) => sum + row.repeat_customers, 0);
  const customers = rows.reduce((sum, row) => sum + row.customers, 0);
  const multiChannel = rows.find((row) => row.combination === 'both')!.customers;
  return {
    customers_with_orders: customers, multi_channel_customers: multiChannel, multi_channel_share: shareOf(multiChannel, customers),
    repeat_customers: repeat, repeat_purchase_rate: shareOf(repeat, customers), rows,
  };
}
