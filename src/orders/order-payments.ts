import type { Queryable } from '../db/index.ts';

/** One payment of an order, with the channel's id for it when the channel gave one (a Square payment id). */
export interface OrderPayment {
  method: string;
  amountMinor: number;
  currency: string;
  /** The channel's payment id, which a refund pushed to the channel names; null when unknown. */
  sourceRef: string | null;
}

/**
 * The payments of an order, in the order they were recorded.
 * Example: `await listOrderPayments(db, merchantId, orderId)` → `[{ method: 'card', amountMinor: 16334, currency: 'USD', sourceRef: 'hYy9pRFV…' }]`.
 */
export async function listOrderPayments(db: Queryable, merchantId: string, orderId: string): Promise<OrderPayment[]> {
  const rows = await db.selectFrom('payments').select(['method', 'amount_minor', 'currency', 'source_ref']).where('merchant_id', '=', merchantId).where('order_id', '=', orderId).orderBy('id').execute();
  return rows.map((row) => ({ method: row.method, amountMinor: row.amount_minor, currency: row.currency, sourceRef: row.source_ref }));
}
