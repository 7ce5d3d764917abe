import type { Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { getOrder, type Order } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';
import type { SaleConflict } from './offline-sale.ts';
import { recordPosSale, type PosSaleCommand } from './record-pos-sale.ts';
import { planReturn, returnOrder, type RefundMethod, type ReturnOrderCommand, type ReturnPlan } from './return-order.ts';

/** Goods taken back and new goods given in one operation, against an order from any channel. */
export interface ExchangeCommand {
  orderId: string;
  /** The register's own id for the exchange: sending it again changes nothing. */
  exchangeRef: string;
  registerId: string | null;
  /** Where the exchange happens: the returned units are restocked and the new ones leave from here. */
  locationId: string;
  returnLines: ReturnOrderCommand['lines'];
  newLines: { sku: string; quantity: number; unitPriceMinor?: number | null }[];
  promotionCodes: string[];
  /** How the shopper pays what the new goods cost above the returned ones; null = one unspecified payment. */
  payments: { method: string; amountMinor: number }[] | null;
  /** How the shopper gets back what the returned goods are worth above the new ones. */
  refundMethod: RefundMethod;
  reason: string | null;
  override: boolean;
  actor: string;
  /**
   * Set for an exchange a register made while offline (docs/pos-offline.md): when it happened (the
   * return policy is judged then), and the new goods as the register charged them.
   */
  offline?: { occurredAt: string; charged: NonNullable<PosSaleCommand['offline']>['charged'] };
}

export interface ExchangeResult {
  created: boolean;
  returnId: string;
  newOrder: Order;
  /** Positive: the shopper paid the difference; negative: it was refunded to her; zero: an even exchange. */
  differenceMinor: number;
  pointsCarried: number;
  /** What an offline exchange's new goods did that a live one would have been refused for (an empty shelf). */
  conflicts: SaleConflict[];
}

function returnCommandOf(command: ExchangeCommand): ReturnOrderCommand {
  return {
    orderId: command.orderId, returnRef: `exchange:${command.exchangeRef}`, locationId: command.locationId, lines: command.returnLines, refundMethod: command.refundMethod,
    reason: command.reason ?? 'Exchange', override: command.override, refundShipping: false, actor: command.actor,
    ...(command.offline ? { at: command.offline.occurredAt } : {}),
  };
}

/**
 * An exchange in one transaction: the return is planned by the same rules as any return, its value
 * pays for the new goods (a sale at the location with the same promotion rules, linked to the
 * original order), and only the difference changes hands — charged by the payments given, or
 * refunded by the refund method. Stock moves both ways. Points: the new goods carry over the points
 * the returned ones earned (in proportion when they are worth less), and earn only on what they are
 * worth above the returned ones, so an even exchange leaves the loyalty balance untouched.
 */
export async function exchangeOrder(tx: Tx, merchant: Merchant, command: ExchangeCommand): Promise<ExchangeResult> {
  const returnCommand = returnCommandOf(command);
  const known = await tx.selectFrom('returns').select(['id', 'exchange_order_id']).where('merchant_id', '=', merchant.id).where('source', '=', 'continuum').where('source_ref', '=', returnCommand.returnRef!).executeTakeFirst();
  if (known?.exchange_order_id) {
    const newOrder = await getOrder(tx, merchant.id, known.exchange_order_id);
    return { created: false, returnId: known.id, newOrder, differenceMinor: 0, pointsCarried: 0, conflicts: [] };
  }
  const plan: ReturnPlan = await planReturn(tx, merchant, returnCommand);
  const original = plan.order;
  if (command.newLines.length === 0) throw new AppError('exchanges.invalid_lines', 'An exchange gives at least one new item; take a return instead', { field: 'new_lines' });
  const sale = await recordPosSale(tx, merchant, {
    saleId: `exchange:${command.exchangeRef}`, registerId: command.registerId, locationId: command.locationId, occurredAt: command.offline?.occurredAt ?? null,
    customer: original.customerId ? { customerId: original.customerId } : null,
    lines: command.newLines, promotionCodes: command.promotionCodes, rewards: [], payments: command.payments,
    exchange: { ofOrderId: original.id, creditMinor: plan.refund.totalMinor, returnedPoints: plan.pointsReversed },
    ...(command.offline ? { offline: { charged: command.offline.charged } } : {}),
  });
  const exchange = sale.exchange!;
  const returned = await returnOrder(tx, merchant, { ...returnCommand, exchange: { newOrderId: sale.order.id, appliedMinor: exchange.appliedMinor, carriedPoints: exchange.carriedPoints } });
  return { created: true, returnId: returned.returnId, newOrder: sale.order, differenceMinor: sale.order.totalMinor - plan.refund.totalMinor, pointsCarried: exchange.carriedPoints, conflicts: sale.conflicts ?? [] };
}
