import type { Queryable, Tx } from '../db/index.ts';
import { applyStockMovement } from '../inventory/index.ts';
import { issueStoreCredit, reversePoints } from '../loyalty/index.ts';
import { getLocation, type Location, type Merchant } from '../merchants/index.ts';
import { addRefundedAmount, getOrder, markLineReturned, type Order, type OrderLine } from '../orders/index.ts';
import { channelTakesGoodsBackWithoutMoney, computeRefund, insertReturn, insertReturnLine, pointsToReverse, type RefundComputation, type RefundableOrder } from '../returns/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { emitMerchantEvent, enqueueOutbox } from '../sync/index.ts';
import { returnEventData } from './merchant-event-data.ts';
import { announceCustomerChange, announceStockChange } from './announce-changes.ts';
import { planRestoredPoints, restoreRedeemedPoints } from './restore-redeemed-points.ts';

/** Where a returned unit goes: back on the shelf where it was taken back, or set aside as damaged (not for sale). */
export type ReturnDisposition = 'restock' | 'damaged';
export type RefundMethod = 'original' | 'store_credit';

/** A return taken by an associate (or any API client) against an order from any channel. */
export interface ReturnOrderCommand {
  orderId: string;
  /** The register's own id for the return: sending the same return again changes nothing. */
  returnRef: string | null;
  /** Where the goods are taken back; by default where each line was fulfilled. */
  locationId: string | null;
  lines: { orderLineId: string; quantity: number; disposition: ReturnDisposition; waiveFee: boolean }[];
  refundMethod: RefundMethod;
  reason: string | null;
  /** A manager's decision to accept outside the window or a final-sale line. */
  override: boolean;
  /** Refund what is left of the shipping now, whatever the policy. */
  refundShipping: boolean;
  actor: string;
  at?: string;
  /** Set by an exchange: the new goods it paid for, what of the refund they took, and the points they carry over. */
  exchange?: { newOrderId: string; appliedMinor: number; carriedPoints: number };
}

/** Who pays the money back: the channel that took the payment, the register in front of the shopper, or store credit. */
export type RefundDestination = 'shopify' | 'square' | 'register';

export interface ReturnPlan {
  order: Order;
  refund: RefundComputation;
  lines: { line: OrderLine; quantity: number; disposition: ReturnDisposition; location: Location | null; pointsReversed: number; refund: RefundComputation['lines'][number] }[];
  pointsReversed: number;
  pointsRestored: number;
  /** The part paid back as store credit: all of it by choice, or what store credit paid of the order. */
  storeCreditMinor: number;
  /** The part paid back to the order's other payments, by `destination`. */
  originalPaymentMinor: number;
  destination: RefundDestination;
}

function toRefundable(order: Order, previous: { shippingMinor: number; shippingTaxMinor: number }): RefundableOrder {
  return {
    placedAt: order.placedAt, discountMinor: order.discountMinor, shippingMinor: order.shippingMinor, taxMinor: order.taxMinor, totalMinor: order.totalMinor,
    refundedMinor: order.refundedMinor, shippingRefundedMinor: previous.shippingMinor, shippingTaxRefundedMinor: previous.shippingTaxMinor,
    lines: order.lines.map((line) => ({ id: line.id, quantity: line.quantity, returnedQuantity: line.returnedQuantity, unitPriceMinor: line.unitPriceMinor, discountMinor: line.discountMinor, taxMinor: line.taxMinor, finalSale: line.finalSale ?? false })),
  };
}

async function sumOfReturns(db: Queryable, merchantId: string, orderId: string): Promise<{ shippingMinor: number; shippingTaxMinor: number; storeCreditMinor: number }> {
  const row = await db
    .selectFrom('returns')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('shipping_minor'), eb.lit(0)).as('shipping'), eb.fn.coalesce(eb.fn.sum<number>('shipping_tax_minor'), eb.lit(0)).as('shipping_tax'),
      eb.fn.coalesce(eb.fn.sum<number>('store_credit_minor'), eb.lit(0)).as('credit'),
    ])
    .where('merchant_id', '=', merchantId)
    .where('order_id', '=', orderId)
    .executeTakeFirstOrThrow();
  return { shippingMinor: Number(row.shipping), shippingTaxMinor: Number(row.shipping_tax), storeCreditMinor: Number(row.credit) };
}

function destinationOf(order: Order): RefundDestination {
  if (order.source === 'shopify') return 'shopify';
  if (order.source === 'square') return 'square';
  return 'register';
}

/**
 * Store credit gets back what store credit paid (less what earlier returns already gave back), the
 * other payments the rest; or everything, when the shopper chooses store credit.
 */
function splitRefund(order: Order, refundMinor: number, method: RefundMethod, creditReturnedMinor: number): { storeCreditMinor: number; originalPaymentMinor: number } {
  if (method === 'store_credit') return { storeCreditMinor: refundMinor, originalPaymentMinor: 0 };
  const paidWithCredit = order.payments.filter((payment) => payment.method === 'store_credit').reduce((sum, payment) => sum + payment.amountMinor, 0);
  const storeCreditMinor = Math.min(refundMinor, Math.max(0, paidWithCredit - creditReturnedMinor));
  return { storeCreditMinor, originalPaymentMinor: refundMinor - storeCreditMinor };
}

async function restockLocationFor(db: Queryable, merchantId: string, command: ReturnOrderCommand, line: OrderLine): Promise<Location | null> {
  if (command.locationId) return getLocation(db, merchantId, command.locationId);
  return line.fulfilmentLocationId ? getLocation(db, merchantId, line.fulfilmentLocationId) : null;
}

/**
 * A location where cross-channel returns are not rolled out (issue #8) takes back only its own
 * store sales: an online order, or a sale of another store, is refused there. A return that names
 * no location goes back where each line was fulfilled, the order's own way back, and is not checked.
 */
function assertReturnAllowedAt(location: Location, order: Order): void {
  if (location.workflows.crossChannelReturns) return;
  if (order.channel === 'store' && order.locationId === location.id) return;
  throw new AppError('returns.not_enabled_at_location', `${location.name} takes back only its own store sales: its cross_channel_returns workflow is off`, {
    field: 'location_id', location_id: location.id, workflow: 'cross_channel_returns', order_channel: order.channel, order_location_id: order.locationId,
  });
}

/**
 * Computes a return without writing anything: the refund by the one allocation function and the
 * merchant's policy, the points each line takes back and the redeemed points that come back, where
 * each unit goes, and who pays the money back. The preview and the return itself both use it.
 */
export async function planReturn(db: Queryable, merchant: Merchant, command: ReturnOrderCommand): Promise<ReturnPlan> {
  const order = await getOrder(db, merchant.id, command.orderId);
  if (order.status === 'cancelled') throw new AppError('returns.order_cancelled', `Order ${order.orderNumber ?? order.id} was cancelled; its payment was already given back`, { field: 'order_id', order_id: order.id });
  if (command.refundMethod === 'store_credit' && !order.customerId) throw new AppError('returns.customer_required', 'Store credit needs a customer, and this order has none', { field: 'refund_method' });
  if (command.locationId) assertReturnAllowedAt(await getLocation(db, merchant.id, command.locationId), order);
  const previous = await sumOfReturns(db, merchant.id, order.id);
  const refund = computeRefund(toRefundable(order, previous), {
    lines: command.lines.map((line) => ({ lineId: line.orderLineId, quantity: line.quantity, waiveFee: line.waiveFee })), at: command.at ?? nowIso(), override: command.override, refundShipping: command.refundShipping,
  }, merchant.settings.returns);
  const lines: ReturnPlan['lines'] = [];
  for (const [index, wanted] of command.lines.entries()) {
    const line = order.lines.find((candidate) => candidate.id === wanted.orderLineId)!;
    const location = line.variantId ? await restockLocationFor(db, merchant.id, command, line) : null;
    lines.push({ line, quantity: wanted.quantity, disposition: wanted.disposition, location, pointsReversed: order.customerId ? pointsToReverse(line, wanted.quantity) : 0, refund: refund.lines[index]! });
  }
  const returningNow = new Map(command.lines.map((line) => [line.orderLineId, line.quantity]));
  const restored = await planRestoredPoints(db, merchant.id, order, (lineId) => (order.lines.find((line) => line.id === lineId)?.returnedQuantity ?? 0) + (returningNow.get(lineId) ?? 0));
  return {
    order, refund, lines,
    pointsReversed: lines.reduce((sum, line) => sum + line.pointsReversed, 0),
    pointsRestored: restored.reduce((sum, due) => sum + due.points, 0),
    // What an exchange's new goods took of the refund is not paid back; only the rest is.
    ...splitRefund(order, refund.totalMinor - (command.exchange?.appliedMinor ?? 0), command.refundMethod, previous.storeCreditMinor),
    destination: destinationOf(order),
  };
}

export interface ReturnResult {
  returnId: string;
  created: boolean;
  plan: ReturnPlan | null;
}

/**
 * Takes a return in one transaction: the return and its lines with where each unit went, the stock
 * back on the shelf (or set aside as damaged), the points the lines earned taken back and redeemed
 * points given back in proportion, store credit issued, the refunded amount on the order, and the
 * refund pushed to the channel that took the payment through the outbox.
 */
export async function returnOrder(tx: Tx, merchant: Merchant, command: ReturnOrderCommand): Promise<ReturnResult> {
  const sourceRef = command.returnRef ?? newId('rref');
  const known = await tx.selectFrom('returns').select('id').where('merchant_id', '=', merchant.id).where('source', '=', 'continuum').where('source_ref', '=', sourceRef).executeTakeFirst();
  if (known) return { returnId: known.id, created: false, plan: null };
  const plan = await planReturn(tx, merchant, command);
  const { order } = plan;
  const { returnId } = await insertReturn(tx, merchant.id, { orderId: order.id, source: 'continuum', sourceRef, amountMinor: plan.refund.totalMinor, currency: order.currency, note: command.reason, breakdown: plan.refund });
  // The channel that took the payment hears of the return when money goes back to it, and Shopify
  // also when none does (store credit, an exchange), so its order no longer shows the goods sold.
  const pushed = plan.destination !== 'register' && (plan.originalPaymentMinor > 0 || channelTakesGoodsBackWithoutMoney(plan.destination));
  await tx.updateTable('returns').set({
    location_id: command.locationId, refund_method: command.refundMethod, exchange_order_id: command.exchange?.newOrderId ?? null, reason: command.reason, actor: command.actor, push_state: pushed ? 'pending' : 'not_needed',
    store_credit_minor: plan.storeCreditMinor,
    exchange_applied_minor: command.exchange?.appliedMinor ?? 0,
  }).where('merchant_id', '=', merchant.id).where('id', '=', returnId).execute();

  for (const planned of plan.lines) {
    await markLineReturned(tx, merchant.id, planned.line.id, planned.quantity);
    const restocked = planned.disposition === 'restock' && planned.location ? await restock(tx, merchant.id, order, planned, returnId, command.actor) : false;
    await insertReturnLine(tx, merchant.id, returnId, {
      orderLineId: planned.line.id, quantity: planned.quantity, amountMinor: planned.refund.refundMinor, taxMinor: planned.refund.taxMinor,
      restock: restocked ? 'restocked' : planned.disposition === 'damaged' ? 'damaged' : 'not_restocked', restockLocationId: planned.location?.id ?? null, pointsReversed: planned.pointsReversed,
      grossMinor: planned.refund.grossMinor, discountMinor: planned.refund.discountMinor, feeMinor: planned.refund.feeMinor,
    });
  }
  await settleLoyalty(tx, merchant, plan, returnId, command.exchange?.carriedPoints ?? 0);
  await addRefundedAmount(tx, merchant.id, order.id, plan.refund.totalMinor);
  if (pushed) await enqueueOutbox(tx, merchant.id, { destination: plan.destination, kind: 'refund.create', coalesceKey: null, payload: { return_id: returnId } });
  await emitMerchantEvent(tx, merchant.id, 'order.returned', returnEventData(order, { returnId, amountMinor: plan.refund.totalMinor, source: 'continuum' }));
  if (order.customerId) await announceCustomerChange(tx, merchant.id, order.customerId);
  return { returnId, created: true, plan };
}

async function restock(tx: Tx, merchantId: string, order: Order, planned: ReturnPlan['lines'][number], returnId: string, actor: string): Promise<boolean> {
  const location = planned.location!;
  await applyStockMovement(tx, merchantId, {
    locationId: location.id, variantId: planned.line.variantId!, kind: 'return', onHandDelta: planned.quantity, sourceKey: `return:${returnId}:${planned.line.id}:restock`, actor, orderId: order.id, requireAvailable: false,
    reason: `Returned from ${order.channel} order ${order.orderNumber ?? order.sourceRef} at ${location.name}`,
  });
  await announceStockChange(tx, merchantId, location, planned.line.variantId!);
  return true;
}

/** Points the returned lines earned come back out, less those an exchange's new goods carry over. */
async function settleLoyalty(tx: Tx, merchant: Merchant, plan: ReturnPlan, returnId: string, carriedPoints: number): Promise<void> {
  const { order } = plan;
  if (!order.customerId) return;
  const memo = `Return ${returnId} of order ${order.orderNumber ?? order.sourceRef}`;
  const reversed = plan.pointsReversed - carriedPoints;
  if (reversed > 0) await reversePoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: order.customerId, points: reversed, idempotencyKey: `return:${returnId}:reverse`, orderId: order.id, memo });
  await restoreRedeemedPoints(tx, merchant, order, returnId);
  if (plan.storeCreditMinor > 0) await issueStoreCredit(tx, merchant.id, { customerId: order.customerId, amountMinor: plan.storeCreditMinor, currency: order.currency, idempotencyKey: `return:${returnId}:credit`, orderId: order.id, memo });
}
