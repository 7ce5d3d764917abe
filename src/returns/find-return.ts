import type { Queryable } from '../db/index.ts';

/** A return as a channel push reads it: what was refunded, how, and whether the channel holds it yet. */
export interface ReturnForPush {
  id: string;
  orderId: string;
  currency: string;
  /** The whole refund, store credit included. */
  amountMinor: number;
  /** The part of `amountMinor` that is shipping. */
  shippingMinor: number;
  /** The part of `amountMinor` paid back as store credit. */
  storeCreditMinor: number;
  /** The part of `amountMinor` an exchange's new goods took: not paid back. The rest goes back to the order's payment. */
  exchangeAppliedMinor: number;
  /** `pending` | `pushed` | `failed` | `not_needed`; null on returns recorded from a channel's own refund. */
  pushState: string | null;
  channelRefundRef: string | null;
  lines: { orderLineId: string; quantity: number }[];
}

/**
 * One return with its lines, or undefined when the merchant has no such return.
 * Example: `await findReturn(db, merchantId, 'ret_01jd…')` → `{ amountMinor: 8747, storeCreditMinor: 0, pushState: 'pending', … }`.
 */
export async function findReturn(db: Queryable, merchantId: string, returnId: string): Promise<ReturnForPush | undefined> {
  const row = await db.selectFrom('returns').selectAll().where('merchant_id', '=', merchantId).where('id', '=', returnId).executeTakeFirst();
  if (!row) return undefined;
  const lines = await db.selectFrom('return_lines').select(['order_line_id', 'quantity']).where('merchant_id', '=', merchantId).where('return_id', '=', returnId).orderBy('id').execute();
  return {
    id: row.id, orderId: row.order_id, currency: row.currency, amountMinor: row.amount_minor, shippingMinor: row.shipping_minor, storeCreditMinor: row.store_credit_minor, exchangeAppliedMinor: row.exchange_applied_minor,
    pushState: row.push_state ?? null, channelRefundRef: row.channel_refund_ref ?? null,
    lines: lines.map((line) => ({ orderLineId: line.order_line_id, quantity: line.quantity })),
  };
}
