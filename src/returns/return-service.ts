import { sql } from 'kysely';
import type { Queryable, Tx } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { ReturnBreakdown } from './refund-allocation.ts';

/**
 * Whether a channel's refund can carry returned goods with no money back, so its order stops showing
 * them as sold when store credit or an exchange took the whole refund: Shopify can (refundCreate with
 * refundLineItems and no transactions); Square's RefundPayment moves money only.
 */
export function channelTakesGoodsBackWithoutMoney(channel: 'shopify' | 'square'): boolean {
  return channel === 'shopify';
}

export interface NewReturn {
  orderId: string;
  /** `continuum` for a return taken through the API (by a register or the console). */
  source: 'shopify' | 'square' | 'pos' | 'continuum';
  sourceRef: string;
  amountMinor: number;
  currency: string;
  note: string | null;
  breakdown: ReturnBreakdown;
}

/** A returned line of a channel's refund, split as the order sold it: its price × quantity, less the discount it carried. */
export function splitChannelRefundLine(unitPriceMinor: number, quantity: number, subtotalMinor: number): { grossMinor: number; discountMinor: number } {
  // A line refunded above its list price (a price raised at the register) has no discount to show.
  const grossMinor = Math.max(unitPriceMinor * quantity, subtotalMinor);
  return { grossMinor, discountMinor: grossMinor - subtotalMinor };
}

/**
 * The parts of a channel's refund, which names its lines (their subtotal after discounts and their
 * tax), the shipping it gives back and the money: an amount beyond them was refunded without goods
 * (Shopify's refund discrepancy, Square's custom-amount refund) and counts with the merchandise;
 * an amount short of them was kept, as a fee is.
 */
export function channelRefundBreakdown(amountMinor: number, shipping: { minor: number; taxMinor: number }, lines: readonly { grossMinor: number; discountMinor: number; taxMinor: number }[]): ReturnBreakdown {
  const shippingMinor = shipping.minor;
  const merchandiseMinor = lines.reduce((sum, line) => sum + line.grossMinor, 0);
  const discountMinor = lines.reduce((sum, line) => sum + line.discountMinor, 0);
  const taxMinor = lines.reduce((sum, line) => sum + line.taxMinor, 0);
  const beyond = amountMinor - (merchandiseMinor - discountMinor + taxMinor + shippingMinor);
  return { merchandiseMinor: merchandiseMinor + Math.max(0, beyond), discountMinor, taxMinor, shippingMinor, shippingTaxMinor: shipping.taxMinor, feeMinor: Math.max(0, -beyond) };
}

function assertBreakdownAddsUp(amountMinor: number, parts: ReturnBreakdown): void {
  const named = { merchandise: parts.merchandiseMinor, discount: parts.discountMinor, tax: parts.taxMinor, shipping: parts.shippingMinor, shippingTax: parts.shippingTaxMinor, fee: parts.feeMinor };
  for (const [name, value] of Object.entries(named)) assert(Number.isSafeInteger(value) && value >= 0, `a return's ${name} is a whole number of at least 0 (${value})`);
  const sum = parts.merchandiseMinor - parts.discountMinor + parts.taxMinor + parts.shippingMinor - parts.feeMinor;
  assert(sum === amountMinor, `a return's parts add up to its amount (${sum} against ${amountMinor})`);
  assert(parts.shippingTaxMinor <= parts.shippingMinor, `a return's shipping tax is part of its shipping (${parts.shippingTaxMinor} of ${parts.shippingMinor})`);
}

export interface NewReturnLine {
  orderLineId: string;
  quantity: number;
  /** What the line gives back: its price less its discount, with its tax, less a fee kept. */
  amountMinor: number;
  taxMinor: number;
  restock: 'restocked' | 'not_restocked' | 'damaged';
  restockLocationId: string | null;
  pointsReversed: number;
  grossMinor?: number;
  discountMinor?: number;
  feeMinor?: number;
}

/** Records a return once per (source, source reference); `created: false` on a replay. */
export async function insertReturn(tx: Tx, merchantId: string, input: NewReturn): Promise<{ returnId: string; created: boolean }> {
  const { breakdown: parts } = input;
  assertBreakdownAddsUp(input.amountMinor, parts);
  const returnId = newId('ret');
  const inserted = await tx
    .insertInto('returns')
    .values({
      id: returnId, merchant_id: merchantId, order_id: input.orderId, source: input.source, source_ref: input.sourceRef, amount_minor: input.amountMinor, currency: input.currency, note: input.note, created_at: nowIso(),
      merchandise_minor: parts.merchandiseMinor, discount_minor: parts.discountMinor, tax_minor: parts.taxMinor, shipping_minor: parts.shippingMinor, shipping_tax_minor: parts.shippingTaxMinor, fee_minor: parts.feeMinor,
    })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'source', 'source_ref']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { returnId, created: true };
  const existing = await tx.selectFrom('returns').select('id').where('merchant_id', '=', merchantId).where('source', '=', input.source).where('source_ref', '=', input.sourceRef).executeTakeFirstOrThrow();
  return { returnId: existing.id, created: false };
}

export async function insertReturnLine(tx: Tx, merchantId: string, returnId: string, line: NewReturnLine): Promise<void> {
  await tx
    .insertInto('return_lines')
    .values({ id: newId('rln'), merchant_id: merchantId, return_id: returnId, order_line_id: line.orderLineId, quantity: line.quantity, amount_minor: line.amountMinor, tax_minor: line.taxMinor, restock: line.restock, restock_location_id: line.restockLocationId, points_reversed: line.pointsReversed, gross_minor: line.grossMinor ?? 0, discount_minor: line.discountMinor ?? 0, fee_minor: line.feeMinor ?? 0 })
    .execute();
}

export async function listReturnsForOrder(db: Queryable, merchantId: string, orderId: string) {
  const returns = await db.selectFrom('returns').selectAll().where('merchant_id', '=', merchantId).where('order_id', '=', orderId).orderBy('created_at').execute();
  const lines = returns.length === 0 ? [] : await db.selectFrom('return_lines').selectAll().where('merchant_id', '=', merchantId).where('return_id', 'in', returns.map((row) => row.id)).execute();
  return returns.map((row) => ({ ...row, lines: lines.filter((line) => line.return_id === row.id) }));
}

/**
 * Points to take back when `quantity` more units of a line are returned: the difference between
 * what the returned units have earned after and before, so returning every unit in any number of
 * partial returns takes back exactly what the line earned.
 */
export function pointsToReverse(line: { pointsEarned: number; quantity: number; returnedQuantity: number }, quantity: number): number {
  const earnedShare = (returned: number) => Math.floor((line.pointsEarned * returned) / line.quantity);
  return earnedShare(line.returnedQuantity + quantity) - earnedShare(line.returnedQuantity);
}

/**
 * Records that the channel holds the refund of a return made in Continuum (its refund id), once
 * the push succeeded or the channel's refund webhook came back. False when there is no such return.
 */
export async function linkChannelRefund(db: Queryable, merchantId: string, returnId: string, refund: { channel: string; refundRef: string; orderId?: string }): Promise<boolean> {
  let update = db
    .updateTable('returns')
    .set({ channel_refund_ref: `${refund.channel}:${refund.refundRef}`, push_state: 'pushed' })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', returnId)
    // Only a return of ours waiting for (or holding) its channel refund: a marker typed by hand
    // into another order's refund note never swallows a refund Continuum did not push.
    .where('source', '=', 'continuum')
    .where('push_state', 'in', ['pending', 'pushed', 'failed'])
    // A refund the channel reported failed stays failed: the push's answer (PENDING) recorded
    // after the failure's webhook does not undo it.
    .where((eb) => eb.not(eb.and([eb('push_state', '=', 'failed'), eb(eb.fn.coalesce('channel_refund_ref', sql.lit('')), '=', `${refund.channel}:${refund.refundRef}`)])));
  if (refund.orderId) update = update.where('order_id', '=', refund.orderId);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The channel reports that a refund it accepted from Continuum later failed (Square's REJECTED or
 * FAILED): the return's refund is marked failed. Only a return of ours whose refund is pushed or
 * waiting, and that names this refund or none yet (its webhook may come before the push's answer
 * is recorded). False when no such return: a refund someone made in the channel, or one already
 * marked failed.
 */
export async function markChannelRefundFailed(db: Queryable, merchantId: string, returnId: string, refund: { channel: string; refundRef: string }): Promise<boolean> {
  const channelRefundRef = `${refund.channel}:${refund.refundRef}`;
  const result = await db
    .updateTable('returns')
    .set({ push_state: 'failed', channel_refund_ref: channelRefundRef })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', returnId)
    .where('source', '=', 'continuum')
    .where('push_state', 'in', ['pending', 'pushed'])
    .where((eb) => eb.or([eb('channel_refund_ref', 'is', null), eb('channel_refund_ref', '=', channelRefundRef)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A refund push the channel refused for good (after its retries): the return stays, a person follows up. */
export async function markRefundPushFailed(db: Queryable, merchantId: string, returnId: string): Promise<void> {
  await db.updateTable('returns').set({ push_state: 'failed' }).where('merchant_id', '=', merchantId).where('id', '=', returnId).execute();
}
