import type { Queryable, Tx } from '../db/index.ts';
import { restorePoints } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import type { Order } from '../orders/index.ts';

/**
 * When part of an order that was paid in part with points is refunded, gives back the redeemed
 * points in proportion to the merchandise refunded so far: floor(redeemed × refunded ÷ bought),
 * less what earlier refunds already gave back. Returning everything gives back exactly what was
 * redeemed; a refund never takes points (a partial refund that leaves out a line charges nothing).
 */
export async function restoreRedeemedPoints(tx: Tx, merchant: Merchant, order: Order, returnId: string): Promise<number> {
  if (!order.customerId) return 0;
  const lines = await tx.selectFrom('order_lines').select(['id', 'returned_quantity']).where('merchant_id', '=', merchant.id).where('order_id', '=', order.id).execute();
  const returned = new Map(lines.map((line) => [line.id, line.returned_quantity]));
  let restored = 0;
  for (const due of await planRestoredPoints(tx, merchant.id, order, (lineId) => returned.get(lineId) ?? 0)) {
    await restorePoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: order.customerId, points: due.points, idempotencyKey: `restore:${due.redemptionKey}:${returnId}`, orderId: order.id, memo: `Points back for refunded items of order ${order.orderNumber ?? order.sourceRef}`, redemptionKey: due.redemptionKey });
    restored += due.points;
  }
  return restored;
}

/**
 * The points each redemption that paid for the order has due back once `returnedUnits(line)` units
 * of each line are returned; writes nothing, so a return preview shows the same figure.
 */
export async function planRestoredPoints(db: Queryable, merchantId: string, order: Order, returnedUnits: (lineId: string) => number): Promise<{ redemptionKey: string; points: number }[]> {
  if (!order.customerId) return [];
  const boughtMinor = order.lines.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
  const refundedMinor = order.lines.reduce((sum, line) => sum + line.unitPriceMinor * returnedUnits(line.id), 0);
  if (boughtMinor === 0) return [];
  const due: { redemptionKey: string; points: number }[] = [];
  for (const redemption of await redemptionsPayingFor(db, merchantId, order.id)) {
    const alreadyBack = await db.selectFrom('loyalty_transactions').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('points'), eb.lit(0)).as('points')).where('merchant_id', '=', merchantId).where('kind', '=', 'restore').where('idempotency_key', '>=', `restore:${redemption.key}:`).where('idempotency_key', '<', `restore:${redemption.key}:\uffff`).executeTakeFirstOrThrow();
    const points = Math.floor((redemption.points * refundedMinor) / boughtMinor) - Number(alreadyBack.points);
    if (points > 0) due.push({ redemptionKey: redemption.key, points });
  }
  return due;
}

/** The redemptions that paid for an order: rewards redeemed at the register, and online reward codes it used. */
async function redemptionsPayingFor(db: Queryable, merchantId: string, orderId: string): Promise<{ key: string; points: number }[]> {
  const atRegister = await db.selectFrom('loyalty_transactions').select(['idempotency_key', 'points']).where('merchant_id', '=', merchantId).where('order_id', '=', orderId).where('kind', '=', 'redeem').execute();
  const codes = await db.selectFrom('reward_codes').select('id').where('merchant_id', '=', merchantId).where('order_id', '=', orderId).execute();
  const online = codes.length === 0 ? [] : await db.selectFrom('loyalty_transactions').select(['idempotency_key', 'points']).where('merchant_id', '=', merchantId).where('kind', '=', 'redeem').where('idempotency_key', 'in', codes.map((code) => `reward-code:${code.id}:redeem`)).execute();
  return [...atRegister, ...online].map((row) => ({ key: row.idempotency_key, points: row.points }));
}
