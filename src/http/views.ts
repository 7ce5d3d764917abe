import type { Order } from '../orders/index.ts';

/** API money: integer minor units with the currency. */
export function moneyView(amountMinor: number, currency: string) {
  return { amount_minor: amountMinor, currency };
}

export function orderView(order: Order) {
  const money = (amountMinor: number) => moneyView(amountMinor, order.currency);
  return {
    id: order.id,
    channel: order.channel,
    source: order.source,
    source_ref: order.sourceRef,
    order_number: order.orderNumber,
    customer_id: order.customerId,
    location_id: order.locationId,
    register_id: order.registerRef,
    status: order.status,
    placed_at: order.placedAt,
    subtotal: money(order.subtotalMinor),
    discount: money(order.discountMinor),
    shipping: money(order.shippingMinor),
    tax: money(order.taxMinor),
    total: money(order.totalMinor),
    refunded: money(order.refundedMinor),
    lines: order.lines.map((line) => ({
      id: line.id,
      sku: line.sku,
      title: line.title,
      quantity: line.quantity,
      returned_quantity: line.returnedQuantity,
      unit_price: money(line.unitPriceMinor),
      discount: money(line.discountMinor),
      tax: money(line.taxMinor),
      points_earned: line.pointsEarned,
      fulfilment_location_id: line.fulfilmentLocationId,
    })),
    discounts: order.discounts.map((discount) => ({ kind: discount.kind, code: discount.code, amount: money(discount.amountMinor) })),
    payments: order.payments.map((payment) => ({ method: payment.method, amount: money(payment.amountMinor) })),
  };
}
