import type { Db } from '../../db/index.ts';
import { linkChannelRefund } from '../../returns/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { decimalToMinor, minorToDecimal } from '../../shared/money.ts';
import type { OutboxEvent } from '../../sync/index.ts';
import { formatRefundMarker, parseRefundMarker } from '../refund-marker.ts';
import { isPermanentRefusal, loadRefundPush, recordRefundPushRefused } from '../refund-push.ts';
import { shopifyGid, type ShopifyAdminClient, type ShopifyOrderTransaction } from './client.ts';

/** The transactions a refund may pay back (OrderTransactionInput.parentId: "a CAPTURE or a SALE"). */
const PARENT_KINDS = new Set(['SALE', 'CAPTURE']);
/** Refund transactions that hold money back from their parent: every one but those that failed. */
const FAILED_STATUSES = new Set(['FAILURE', 'ERROR']);

/**
 * Failures no retry fixes: Shopify's userErrors (over the amount left, a line already refunded), an
 * order Shopify no longer has or Continuum cannot pay back through its transactions. Everything else
 * (THROTTLED beyond the client's waits, 5xx, timeouts, an idempotency conflict) is retried by the outbox.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'connectors.shopify.refund_refused', 'connectors.shopify.refund_not_possible', 'connectors.shopify.not_found', 'connectors.shopify.too_many_transactions',
  'connectors.shopify.invalid_id',
]);

export interface PlannedRefundTransaction {
  parentId: string;
  gateway: string;
  amountMinor: number;
}

/**
 * Splits `amountMinor` over the order's successful SALE and CAPTURE transactions, in Shopify's
 * order, each up to what is left of it after the refunds already made against it. Throws
 * `connectors.shopify.refund_not_possible` when they cannot hold it all, or when the order was paid
 * in another presentment currency (its refund would need `currency` and presentment amounts).
 * Example: one SALE of 252.98 with a refund of 87.47 against it, amount 16551 → [{ parentId, gateway, amountMinor: 16551 }].
 */
export function planRefundTransactions(transactions: ShopifyOrderTransaction[], amountMinor: number, currency: string): PlannedRefundTransaction[] {
  const refundedByParent = new Map<string, number>();
  for (const transaction of transactions) {
    if (transaction.kind !== 'REFUND' || FAILED_STATUSES.has(transaction.status) || transaction.parentId === null) continue;
    refundedByParent.set(transaction.parentId, (refundedByParent.get(transaction.parentId) ?? 0) + decimalToMinor(transaction.amount, transaction.currency));
  }
  const planned: PlannedRefundTransaction[] = [];
  let leftMinor = amountMinor;
  for (const parent of transactions.filter((transaction) => PARENT_KINDS.has(transaction.kind) && transaction.status === 'SUCCESS')) {
    if (leftMinor === 0) break;
    if (parent.currency !== currency || parent.presentmentCurrency !== currency) {
      throw new AppError('connectors.shopify.refund_not_possible', `Transaction ${parent.id} is in ${parent.currency} (presented in ${parent.presentmentCurrency}); Continuum refunds ${currency} orders presented in ${currency} only`, { transactionId: parent.id });
    }
    const refundableMinor = decimalToMinor(parent.amount, currency) - (refundedByParent.get(parent.id) ?? 0);
    if (refundableMinor <= 0) continue;
    const takenMinor = Math.min(leftMinor, refundableMinor);
    planned.push({ parentId: parent.id, gateway: parent.gateway, amountMinor: takenMinor });
    leftMinor -= takenMinor;
  }
  if (leftMinor > 0) {
    throw new AppError('connectors.shopify.refund_not_possible', `The order's payments in Shopify have ${minorToDecimal(amountMinor - leftMinor, currency)} ${currency} left to refund, less than ${minorToDecimal(amountMinor, currency)}`, { amountMinor, refundableMinor: amountMinor - leftMinor });
  }
  return planned;
}

/** `gid://shopify/Refund/123` → `123`, the id `refunds/create` carries as `id`. */
function numericIdOf(gid: string): string {
  const id = gid.slice(gid.lastIndexOf('/') + 1);
  if (!/^\d+$/.test(id)) throw new AppError('connectors.shopify.unexpected_response', `Shopify answered a refund id ${gid} that is not a GID`, { refundId: gid });
  return id;
}

/**
 * Pushes the refund of a return made in Continuum to the Shopify order that took the payment:
 * refundCreate with the return id as its `@idempotent` key and `Continuum return <id>` as its note,
 * the returned lines without restock, the shipping refunded, and the card part of the money
 * against the order's SALE or CAPTURE transactions. A refund Shopify already holds with our note (an
 * earlier attempt whose answer was lost, even past the key's retention) is linked, not made again.
 */
export async function pushShopifyRefund(db: Db, client: ShopifyAdminClient, event: OutboxEvent): Promise<string | void> {
  const push = await loadRefundPush(db, event, 'shopify');
  if (typeof push === 'string') return push;
  const { refund, order } = push;
  try {
    const state = await client.readOrderRefundState(shopifyGid('Order', order.sourceRef));
    const held = state.refunds.find((candidate) => parseRefundMarker(candidate.note) === refund.id);
    if (held) {
      await linkChannelRefund(db, event.merchant_id, refund.id, { channel: 'shopify', refundRef: numericIdOf(held.id) });
      return `linked: Shopify already holds this refund as ${held.id}`;
    }
    const transactions = planRefundTransactions(state.transactions, push.amountMinor, order.currency);
    const { refundId } = await client.createRefund({
      orderId: state.orderId,
      idempotencyKey: refund.id,
      note: formatRefundMarker(refund.id),
      lines: push.lines.map(({ line, quantity }) => ({ lineItemId: shopifyGid('LineItem', line.sourceRef), quantity })),
      // Shipping is refunded as money; a refund of goods only (store credit or an exchange took it all) names none.
      shippingAmount: refund.shippingMinor > 0 && push.amountMinor > 0 ? minorToDecimal(refund.shippingMinor, order.currency) : null,
      transactions: transactions.map((transaction) => ({ parentId: transaction.parentId, gateway: transaction.gateway, amount: minorToDecimal(transaction.amountMinor, order.currency) })),
    });
    await linkChannelRefund(db, event.merchant_id, refund.id, { channel: 'shopify', refundRef: numericIdOf(refundId) });
  } catch (error) {
    if (isPermanentRefusal(error, PERMANENT_CODES)) return recordRefundPushRefused(db, event, push, 'shopify', error);
    throw error;
  }
}
