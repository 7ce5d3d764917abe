import type { Order } from '../orders/index.ts';

/**
 * What the merchant's own systems receive about an order (`order.recorded`): enough to act on (who,
 * where, how much) without a call back, and ids to fetch the rest.
 */
export function orderEventData(order: Order) {
  return {
    order_id: order.id, channel: order.channel, source: order.source, source_ref: order.sourceRef, order_number: order.orderNumber, customer_id: order.customerId, location_id: order.locationId,
    placed_at: order.placedAt, currency: order.currency, total_minor: order.totalMinor, lines: order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unit_price_minor: line.unitPriceMinor })),
  };
}

/** `order.returned`: a return taken in Continuum or a refund a channel made. */
export function returnEventData(order: Order, returned: { returnId: string; amountMinor: number; source: string }) {
  return { return_id: returned.returnId, order_id: order.id, customer_id: order.customerId, source: returned.source, currency: order.currency, amount_minor: returned.amountMinor };
}
