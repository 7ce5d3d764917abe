import type { Db } from '../../db/index.ts';
import { listOrderPayments, type OrderPayment } from '../../orders/index.ts';
import { linkChannelRefund } from '../../returns/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { OutboxEvent } from '../../sync/index.ts';
import { formatRefundMarker } from '../refund-marker.ts';
import { isPermanentRefusal, loadRefundPush, recordRefundPushRefused } from '../refund-push.ts';
import type { SquareClient } from './client.ts';

/**
 * Failures no retry fixes: Square's 4xx answers (REFUND_AMOUNT_INVALID over what is left, an
 * unknown payment, an idempotency key reused with another amount), a refund Square answers as
 * REJECTED or FAILED, and an order whose payment Continuum does not know. 429 after the client's
 * waits, 5xx and timeouts are retried by the outbox.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'connectors.square.rejected', 'connectors.square.not_found', 'connectors.square.invalid_id', 'connectors.square.refund_not_possible', 'connectors.square.refund_refused',
]);
/** PaymentRefund statuses that mean the money will not reach the buyer (https://developer.squareup.com/reference/square/objects/PaymentRefund). */
const REFUSED_STATUSES = new Set(['REJECTED', 'FAILED']);

/**
 * The Square payment a refund goes back to: the first payment of the order with a Square id that
 * holds the whole amount. A refund spread over several payments (a split tender) is not pushed;
 * a person refunds it at the register.
 * Example: [{ method: 'card', amountMinor: 16334, sourceRef: 'hYy9…' }], 9152 → that payment.
 */
export function chooseRefundPayment(payments: OrderPayment[], amountMinor: number): OrderPayment & { sourceRef: string } {
  const known = payments.filter((payment): payment is OrderPayment & { sourceRef: string } => payment.sourceRef !== null);
  if (known.length === 0) throw new AppError('connectors.square.refund_not_possible', 'The order has no Square payment id recorded, so the refund cannot name a payment', { amountMinor });
  const payment = known.find((candidate) => candidate.amountMinor >= amountMinor);
  if (!payment) throw new AppError('connectors.square.refund_not_possible', `No single Square payment of the order holds ${amountMinor}; a refund over several payments is made at the register`, { amountMinor, payments: known.map((candidate) => ({ id: candidate.sourceRef, amountMinor: candidate.amountMinor })) });
  return payment;
}

/**
 * Pushes the refund of a return made in Continuum to the Square payment that paid for the order:
 * RefundPayment with the return id as its idempotency key (a retry answers the same refund) and
 * `Continuum return <id>` as its reason, for the part not paid back as store credit.
 */
export async function pushSquareRefund(db: Db, client: SquareClient, event: OutboxEvent): Promise<string | void> {
  const push = await loadRefundPush(db, event, 'square');
  if (typeof push === 'string') return push;
  const { refund, order } = push;
  try {
    const payment = chooseRefundPayment(await listOrderPayments(db, event.merchant_id, order.id), push.amountMinor);
    const created = await client.refundPayment({ idempotencyKey: refund.id, paymentId: payment.sourceRef, amountMinor: push.amountMinor, currency: order.currency, reason: formatRefundMarker(refund.id) });
    if (REFUSED_STATUSES.has(created.status)) {
      throw new AppError('connectors.square.refund_refused', `Square answered refund ${created.id} as ${created.status}`, { refundId: created.id, status: created.status, paymentId: payment.sourceRef });
    }
    await linkChannelRefund(db, event.merchant_id, refund.id, { channel: 'square', refundRef: created.id });
  } catch (error) {
    if (isPermanentRefusal(error, PERMANENT_CODES)) return recordRefundPushRefused(db, event, push, 'square', error);
    throw error;
  }
}
