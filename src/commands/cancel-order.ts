import type { Tx } from '../db/index.ts';
import { applyChannelMovement, applyStockMovement, endReservation } from '../inventory/index.ts';
import { reversePoints } from '../loyalty/index.ts';
import { getLocation, type Merchant } from '../merchants/index.ts';
import type { Order } from '../orders/index.ts';
import { nowIso } from '../shared/clock.ts';
import { announceCustomerChange, announceStockChange } from './announce-changes.ts';

/**
 * Undoes what an order did, once: its reservations are released, units it sold but never shipped
 * go back on the shelf, and the points it earned (less any already taken back by returns) are
 * reversed. The order keeps its record with status `cancelled`.
 */
export async function cancelOrderEffects(tx: Tx, merchant: Merchant, order: Order, input: { restockSoldUnits: boolean; actor: string; cancelledAt?: string }): Promise<boolean> {
  const cancelled = await tx
    .updateTable('orders')
    .set({ status: 'cancelled', cancelled_at: input.cancelledAt ?? nowIso(), updated_at: nowIso() })
    .where('merchant_id', '=', merchant.id)
    .where('id', '=', order.id)
    .where('cancelled_at', 'is', null)
    .executeTakeFirst();
  if (Number(cancelled.numUpdatedRows) !== 1) return false;

  const reservations = await tx.selectFrom('reservations').select(['id', 'location_id', 'variant_id']).where('merchant_id', '=', merchant.id).where('order_id', '=', order.id).where('state', '=', 'active').execute();
  for (const reservation of reservations) {
    await endReservation(tx, merchant.id, reservation.id, 'released', input.actor);
    await announceStockChange(tx, merchant.id, await getLocation(tx, merchant.id, reservation.location_id), reservation.variant_id);
  }
  if (input.restockSoldUnits) await restockUnshipped(tx, merchant, order, input.actor, input.cancelledAt ?? null);

  const reversed = await tx.selectFrom('return_lines').innerJoin('returns', 'returns.id', 'return_lines.return_id').select((eb) => eb.fn.sum<number>('return_lines.points_reversed').as('points')).where('returns.merchant_id', '=', merchant.id).where('returns.order_id', '=', order.id).executeTakeFirst();
  const pointsLeft = order.lines.reduce((sum, line) => sum + line.pointsEarned, 0) - Number(reversed?.points ?? 0);
  if (order.customerId && pointsLeft > 0) {
    await reversePoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: order.customerId, points: pointsLeft, idempotencyKey: `order:${order.id}:cancel`, orderId: order.id, memo: `Order ${order.orderNumber ?? order.sourceRef} cancelled` });
  }
  if (order.customerId) await announceCustomerChange(tx, merchant.id, order.customerId);
  return true;
}

async function restockUnshipped(tx: Tx, merchant: Merchant, order: Order, actor: string, cancelledAt: string | null): Promise<void> {
  for (const line of order.lines) {
    const units = line.quantity - line.returnedQuantity;
    if (!line.variantId || !line.fulfilmentLocationId || units <= 0) continue;
    const sold = await tx.selectFrom('stock_movements').select('id').where('merchant_id', '=', merchant.id).where('source_key', '=', `order:${order.id}:${line.id}:sale`).executeTakeFirst();
    if (!sold) continue;
    const movement = { locationId: line.fulfilmentLocationId, variantId: line.variantId, kind: 'return' as const, onHandDelta: units, sourceKey: `order:${order.id}:${line.id}:cancel`, actor, orderId: order.id, requireAvailable: false, reason: `Order ${order.orderNumber ?? order.sourceRef} cancelled before it shipped` };
    // A channel's cancellation happened at its own time: its counts taken since already include the units back.
    if (cancelledAt && (order.source === 'shopify' || order.source === 'square')) await applyChannelMovement(tx, merchant.id, order.source, { ...movement, occurredAt: cancelledAt });
    else await applyStockMovement(tx, merchant.id, movement);
    await announceStockChange(tx, merchant.id, await getLocation(tx, merchant.id, line.fulfilmentLocationId), line.variantId);
  }
}
