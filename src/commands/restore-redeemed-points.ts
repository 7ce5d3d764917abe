import type { Tx } from '../db/index.ts';
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
  const lines = await tx.selectFrom('order_lines').select(['quantity', 'returned_quantity', 'unit_price_minor']).where('merchant_id', '=', merchant.id).where('order_id', '=', order.id).execute();
  const boughtMinor = lines.reduce((sum, line) => sum + line.unit_price_minor * line.quantity, 0);
  const refundedMinor = lines.reduce((sum, line) => sum + line.unit_price_minor * line.returned_quantity, 0);
  if (boughtMinor === 0) return 0;
  const redemptions = await redemptionsPayingFor(tx, merchant.id, order.id);
  let restored = 0;
  for (const redemption of redemptions) {
    const alreadyBack = await tx.selectFrom('loyalty_transactions').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('points'), eb.lit(0)).as('points')).where('merchant_id', '=', merchant.id).where('kind', '=', 'restore').where('idempotency_key', '>=', `restore:${redemption.key}:`).where('idempotency_key', '<', `restore:${redemption.key}:\uffff`).executeTakeFirstOrThrow();
    const target = Math.floor((redemption.points * refundedMinor) / boughtMinor);
    const points = target - Number(alreadyBack.points);
    if (points <= 0) continue;
    await restorePoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: order.customerId, points, idempotencyKey: `restore:${redemption.key}:${returnId}`, orderId: order.id, memo: `Points back for refunded items of order ${order.orderNumber ?? order.sourceRef}`, redemptionKey: redemption.key });
    restored += points;
  }
  return restored;
}

/** The redemptions that paid for an order: rewards redeemed at the register, and online reward codes it used. */
async function redemptionsPayingFor(tx: Tx, merchantId: string, orderId: string): Promise<{ key: string; points: number }[]> {
  const atRegister = await tx.selectFrom('loyalty_transactions').select(['idempotency_key', 'points']).where('merchant_id', '=', merchantId).where('order_id', '=', orderId).where('kind', '=', 'redeem').execute();
  const codes = await tx.selectFrom('reward_codes').select('id').where('merchant_id', '=', merchantId).where('order_id', '=', orderId).execute();
  const online = codes.length === 0 ? [] : await tx.selectFrom('loyalty_transactions').select(['idempotency_key', 'points']).where('merchant_id', '=', merchantId).where('kind', '=', 'redeem').where('idempotency_key', 'in', codes.map((code) => `reward-code:${code.id}:redeem`)).execute();
  return [...atRegister, ...online].map((row) => ({ key: row.idempotency_key, points: row.points }));
}
