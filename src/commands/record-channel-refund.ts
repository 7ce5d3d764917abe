import type { Tx } from '../db/index.ts';
import { applyChannelMovement, applyStockMovement } from '../inventory/index.ts';
import { reversePoints } from '../loyalty/index.ts';
import { findLocationByChannelId, getLocation, type Location, type Merchant } from '../merchants/index.ts';
import { addRefundedAmount, findOrderBySource, markLineReturned, type Order, type OrderLine } from '../orders/index.ts';
import { channelRefundBreakdown, insertReturn, insertReturnLine, linkChannelRefund, pointsToReverse, splitChannelRefundLine } from '../returns/index.ts';
import { AppError } from '../shared/app-error.ts';
import { announceCustomerChange, announceStockChange } from './announce-changes.ts';
import { restoreRedeemedPoints } from './restore-redeemed-points.ts';
import { emitMerchantEvent } from '../sync/index.ts';
import { returnEventData } from './merchant-event-data.ts';

/** A refund a channel made, in canonical form. */
export interface RecordRefundCommand {
  source: 'shopify' | 'square';
  sourceRef: string;
  orderSourceRef: string;
  amountMinor: number;
  /** Shipping given back, with its tax (Shopify's refund shipping lines); 0 when the channel names none. */
  shippingMinor?: number;
  /** The shipping's tax, part of `shippingMinor`. */
  shippingTaxMinor?: number;
  currency: string;
  note: string | null;
  /** When the channel processed the refund (its restock happened then, by the channel's clock). */
  occurredAt?: string | null;
  /**
   * Set when the channel's refund is one Continuum pushed (our return id rides in Shopify's refund
   * note or Square's refund reason): it is linked to that return, never recorded a second time.
   */
  continuumReturnId?: string | null;
  lines: {
    lineSourceRef: string;
    quantity: number;
    amountMinor: number;
    taxMinor: number;
    /** Whether the units go back on the shelf (Shopify `restock_type` cancel or return). */
    restock: boolean;
    channelLocationId: string | null;
  }[];
}

async function findRestockLocation(tx: Tx, merchant: Merchant, source: 'shopify' | 'square', line: OrderLine, channelLocationId: string | null): Promise<Location | undefined> {
  if (channelLocationId) {
    const mapped = await findLocationByChannelId(tx, merchant.id, source, channelLocationId);
    if (mapped) return mapped;
  }
  return line.fulfilmentLocationId ? getLocation(tx, merchant.id, line.fulfilmentLocationId) : undefined;
}

/**
 * Records a refund once: the return and its lines, restock where the channel says, the points the
 * refunded units earned taken back, the refunded amount on the order, and the outbox messages.
 */
export async function recordChannelRefund(tx: Tx, merchant: Merchant, command: RecordRefundCommand): Promise<{ returnId: string; created: boolean; pointsReversed: number }> {
  const order = await findOrderBySource(tx, merchant.id, command.source, command.orderSourceRef);
  // Out of order: the refund arrived before its order. Failing lets the inbox retry it later.
  if (!order) throw new AppError('orders.not_yet_known', `Order ${command.orderSourceRef} is not recorded yet`, { order_source_ref: command.orderSourceRef });
  if (command.continuumReturnId && (await linkChannelRefund(tx, merchant.id, command.continuumReturnId, { channel: command.source, refundRef: command.sourceRef, orderId: order.id }))) {
    return { returnId: command.continuumReturnId, created: false, pointsReversed: 0 };
  }
  const lines = command.lines.map((refundLine) => {
    const line = order.lines.find((candidate) => candidate.sourceRef === refundLine.lineSourceRef);
    if (!line) throw new AppError('returns.unknown_line', `Order ${order.id} has no line ${refundLine.lineSourceRef}`, { line_source_ref: refundLine.lineSourceRef });
    return { refundLine, line, ...splitChannelRefundLine(line.unitPriceMinor, refundLine.quantity, refundLine.amountMinor), taxMinor: refundLine.taxMinor };
  });
  const breakdown = channelRefundBreakdown(command.amountMinor, { minor: command.shippingMinor ?? 0, taxMinor: command.shippingTaxMinor ?? 0 }, lines);
  const { returnId, created } = await insertReturn(tx, merchant.id, { orderId: order.id, source: command.source, sourceRef: command.sourceRef, amountMinor: command.amountMinor, currency: command.currency, note: command.note, breakdown });
  if (!created) return { returnId, created, pointsReversed: 0 };

  let pointsReversed = 0;
  for (const { refundLine, line, grossMinor, discountMinor } of lines) {
    const points = pointsToReverse(line, refundLine.quantity);
    await markLineReturned(tx, merchant.id, line.id, refundLine.quantity);
    const restockLocation = refundLine.restock ? await restockLine(tx, merchant, order, line, returnId, refundLine, command.occurredAt ?? null) : undefined;
    await insertReturnLine(tx, merchant.id, returnId, {
      orderLineId: line.id, quantity: refundLine.quantity, amountMinor: refundLine.amountMinor + refundLine.taxMinor, taxMinor: refundLine.taxMinor, restock: restockLocation ? 'restocked' : 'not_restocked', restockLocationId: restockLocation?.id ?? null, pointsReversed: points,
      grossMinor, discountMinor,
    });
    pointsReversed += points;
  }
  if (order.customerId && pointsReversed > 0) {
    await reversePoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: order.customerId, points: pointsReversed, idempotencyKey: `return:${returnId}:reverse`, orderId: order.id, memo: `Refund ${command.sourceRef} of order ${order.orderNumber ?? order.sourceRef}` });
  }
  await restoreRedeemedPoints(tx, merchant, order, returnId);
  await addRefundedAmount(tx, merchant.id, order.id, command.amountMinor);
  await emitMerchantEvent(tx, merchant.id, 'order.returned', returnEventData(order, { returnId, amountMinor: command.amountMinor, source: command.source }));
  if (order.customerId) await announceCustomerChange(tx, merchant.id, order.customerId);
  return { returnId, created, pointsReversed };
}

async function restockLine(tx: Tx, merchant: Merchant, order: Order, line: OrderLine, returnId: string, refundLine: RecordRefundCommand['lines'][number], occurredAt: string | null): Promise<Location | undefined> {
  if (!line.variantId) return undefined;
  const location = await findRestockLocation(tx, merchant, order.source === 'square' ? 'square' : 'shopify', line, refundLine.channelLocationId);
  if (!location) return undefined;
  const movement = { locationId: location.id, variantId: line.variantId, kind: 'return' as const, onHandDelta: refundLine.quantity, sourceKey: `return:${returnId}:${line.id}:restock`, actor: `${order.source}:refund`, orderId: order.id, requireAvailable: false, reason: `Restocked from refund of order ${order.orderNumber ?? order.sourceRef}` };
  if (occurredAt) await applyChannelMovement(tx, merchant.id, order.source, { ...movement, occurredAt });
  else await applyStockMovement(tx, merchant.id, movement);
  await announceStockChange(tx, merchant.id, location, line.variantId);
  return location;
}
