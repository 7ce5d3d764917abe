/**
 * What the Shopify and Square deliverers share when they push the refund of a return made in
 * Continuum (outbox kind `refund.create`, payload `{ return_id }`) to the channel that took the
 * payment: reading the return once, deciding there is nothing to push, and recording a refusal
 * that no retry can fix.
 */
import { z } from 'zod';
import type { Db, Tx } from '../db/index.ts';
import { getOrder, type Order, type OrderLine } from '../orders/index.ts';
import { channelTakesGoodsBackWithoutMoney, findReturn, markChannelRefundFailed, markRefundPushFailed, type ReturnForPush } from '../returns/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { raiseException, type OutboxEvent } from '../sync/index.ts';

export type RefundChannel = 'shopify' | 'square';

export interface RefundPush {
  refund: ReturnForPush;
  order: Order;
  /** What goes back to the order's payment: the refund less what store credit and an exchange's new goods took (0: goods only). */
  amountMinor: number;
  lines: { line: OrderLine; quantity: number }[];
}

const payloadSchema = z.object({ return_id: z.string().min(1) });

/**
 * Reads what a refund push needs, or returns the note that closes the message when there is
 * nothing to push: a return already pushed (a redelivered message), refused before, not owed to
 * the channel, or with nothing going back to the payment on a channel that takes goods back only
 * with money (Square).
 */
export async function loadRefundPush(db: Db, event: OutboxEvent, channel: RefundChannel): Promise<RefundPush | string> {
  const parsed = payloadSchema.safeParse(JSON.parse(event.payload));
  assert(parsed.success, `outbox message ${event.id} (refund.create) carries a return_id`);
  const refund = await findReturn(db, event.merchant_id, parsed.data.return_id);
  if (!refund) return `skipped: no return ${parsed.data.return_id}`;
  if (refund.pushState === 'pushed') return `skipped: already pushed, the ${channel} refund is ${refund.channelRefundRef}`;
  if (refund.pushState === 'failed') return `skipped: ${channel} refused this refund before; a person follows it up`;
  if (refund.pushState !== 'pending') return `skipped: the return's refund is not owed to ${channel} (${refund.pushState ?? 'recorded from the channel'})`;
  const order = await getOrder(db, event.merchant_id, refund.orderId);
  assert(order.source === channel, `return ${refund.id} is pushed to ${channel}, the channel of its order ${order.id} (${order.source})`);
  assert(refund.currency === order.currency, `return ${refund.id} is in its order's currency`);
  // What goes back to the shopper's payment: not what was paid as store credit, nor what an exchange's new goods took.
  const amountMinor = refund.amountMinor - refund.storeCreditMinor - refund.exchangeAppliedMinor;
  assert(Number.isSafeInteger(amountMinor) && amountMinor >= 0, `return ${refund.id}: store credit and what an exchange took are parts of the refund`);
  if (amountMinor === 0 && !channelTakesGoodsBackWithoutMoney(channel)) return 'skipped: nothing goes back to the payment (store credit or an exchange took it all)';
  const lines = refund.lines.map((returned) => {
    const line = order.lines.find((candidate) => candidate.id === returned.orderLineId);
    assert(line, `return ${refund.id} names line ${returned.orderLineId} of order ${order.id}`);
    return { line, quantity: returned.quantity };
  });
  return { refund, order, amountMinor, lines };
}

/**
 * The channel refused the refund for a reason no retry changes (an amount over what is left to
 * refund, an unknown payment): the return is marked `failed` and a person is asked to refund by
 * hand, in one transaction. Returns the note that closes the outbox message.
 */
export async function recordRefundPushRefused(db: Db, event: OutboxEvent, push: RefundPush, channel: RefundChannel, error: AppError): Promise<string> {
  await db.transaction().execute(async (tx) => {
    await markRefundPushFailed(tx, event.merchant_id, push.refund.id);
    await raiseException(tx, event.merchant_id, {
      kind: 'sync_failed', dedupeKey: `refund.create:${push.refund.id}`, subject: push.refund.id,
      details: { destination: channel, kind: event.kind, outbox_id: event.id, order_id: push.order.id, amount_minor: push.amountMinor, currency: push.order.currency, error: `${error.code}: ${error.message}`, channel_errors: error.details },
    });
  });
  return `refused: ${error.code}: ${error.message}`;
}

/** Whether a push failed for good: `codes` are the connector's permanent failures; anything else is retried by the outbox. */
export function isPermanentRefusal(error: unknown, codes: ReadonlySet<string>): error is AppError {
  return error instanceof AppError && codes.has(error.code);
}

/**
 * The channel accepted a refund Continuum pushed and reports later that it failed (Square: a
 * refund goes PENDING, then COMPLETED, REJECTED or FAILED): the money did not reach the shopper,
 * so the return's refund is marked failed and a person is asked to refund by hand, as for a refund
 * refused at once (one case per return). Returns the note for the inbox event, or undefined when
 * the refund is not one of ours waiting or pushed (a refund made in the channel itself, which was
 * never recorded, or one already followed up).
 */
export async function recordChannelRefundFailed(tx: Tx, merchantId: string, channel: RefundChannel, input: { returnId: string; refundRef: string; status: string }): Promise<string | undefined> {
  if (!(await markChannelRefundFailed(tx, merchantId, input.returnId, { channel, refundRef: input.refundRef }))) return undefined;
  const refund = await findReturn(tx, merchantId, input.returnId);
  assert(refund, `return ${input.returnId} was just marked failed`);
  const error = `connectors.${channel}.refund_failed: ${channel === 'square' ? 'Square' : 'Shopify'} reported refund ${input.refundRef} as ${input.status} after accepting it; the shopper was not paid back`;
  await raiseException(tx, merchantId, {
    kind: 'sync_failed', dedupeKey: `refund.create:${refund.id}`, subject: refund.id,
    details: { destination: channel, kind: 'refund.create', order_id: refund.orderId, amount_minor: refund.amountMinor - refund.storeCreditMinor, currency: refund.currency, error, refund_ref: input.refundRef, status: input.status },
  });
  return `refund ${input.refundRef} of return ${refund.id} is ${input.status}: marked failed and raised for a person`;
}
