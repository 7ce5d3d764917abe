import type { ChargedSale, ExchangeCommand, PosSaleCommand, ReturnOrderCommand } from '../../commands/index.ts';
import type { CustomerClaim } from '../../customers/index.ts';
import type { Order } from '../../orders/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { toIso } from '../../shared/clock.ts';
import type { OfflineCustomer, OfflineExchangeOp, OfflineOp, OfflineReturnOp, OfflineSaleOp, OfflineUpload } from './types.ts';

// An offline register's operations → the canonical commands. No register field name goes further.

/**
 * The operations in the order they happened: by `occurred_at` as an instant (offsets differ
 * between registers), then by the register's own sequence, then by id, so the order is total.
 * Example: [{ op_id: 'b', occurred_at: '10:05' }, { op_id: 'a', occurred_at: '10:00' }] → a, b.
 */
export function orderOfflineOps(ops: readonly OfflineOp[]): OfflineOp[] {
  const instant = new Map(ops.map((op) => [op, toIso(op.occurred_at)]));
  return [...ops].sort((left, right) => instant.get(left)!.localeCompare(instant.get(right)!) || left.sequence - right.sequence || left.op_id.localeCompare(right.op_id));
}

/** Who the register named, as the identity resolver takes it; the customer id is handled apart (merges). */
export function offlineCustomerClaim(customer: OfflineCustomer): CustomerClaim {
  return { loyaltyCode: customer.loyalty_code ?? null, email: customer.email ?? null, phone: customer.phone ?? null, firstName: customer.first_name ?? null, lastName: customer.last_name ?? null, source: 'pos' };
}

export function toChargedSale(op: OfflineSaleOp): ChargedSale {
  return {
    lines: op.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor, discountMinor: line.discount_minor, taxMinor: line.tax_minor })),
    promotions: op.promotions.map((use) => ({ promotion: use.promotion, amountMinor: use.amount_minor })),
    rewards: op.rewards.map((use) => ({ reward: use.reward, amountMinor: use.amount_minor })),
    totalMinor: op.total_minor ?? null,
  };
}

/** The new goods of an offline exchange as the register charged them (no reward is taken on an exchange). */
export function toChargedExchange(op: OfflineExchangeOp): ChargedSale {
  return {
    lines: op.new_lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor, discountMinor: line.discount_minor, taxMinor: line.tax_minor })),
    promotions: op.promotions.map((use) => ({ promotion: use.promotion, amountMinor: use.amount_minor })),
    rewards: [],
    totalMinor: null,
  };
}

/** The sale command, for the customer the operation resolved to (null: none, or not one to credit). */
export function toPosSaleCommand(upload: OfflineUpload, op: OfflineSaleOp, customer: PosSaleCommand['customer'], charged: NonNullable<PosSaleCommand['offline']>['charged']): PosSaleCommand {
  return {
    saleId: op.op_id, registerId: upload.register_id, locationId: op.location_id ?? upload.location_id, occurredAt: op.occurred_at, customer,
    lines: op.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor })),
    promotionCodes: [], rewards: op.rewards.map((use) => use.reward),
    payments: op.payments?.map((payment) => ({ method: payment.method, amountMinor: payment.amount_minor })) ?? null,
    offline: { charged },
  };
}

/** Where a register sale is recorded: source `pos`, reference `<register>:<sale>` (recordPosSale's own key). */
export function registerSaleRef(upload: OfflineUpload, sale: NonNullable<OfflineReturnOp['sale']>): string {
  return `${sale.register_id ?? upload.register_id}:${sale.sale_id}`;
}

/**
 * The order lines a return or exchange takes back. A line named by its position is the register
 * sale's line of that number (register sale lines are numbered from 1).
 */
function returnedLines(lines: OfflineReturnOp['lines'], order: Order, field: string): ReturnOrderCommand['lines'] {
  return lines.map((line, index) => {
    const orderLine = line.order_line_id ? order.lines.find((candidate) => candidate.id === line.order_line_id) : order.lines.find((candidate) => candidate.sourceRef === String(line.line_number));
    if (!orderLine) throw new AppError('returns.unknown_line', `Line ${index + 1} names no line of order ${order.orderNumber ?? order.id}`, { field: `${field}.${index}`, order_id: order.id });
    return { orderLineId: orderLine.id, quantity: line.quantity, disposition: line.disposition, waiveFee: false };
  });
}

/**
 * The return command against a known order. The return window is judged at the time the return
 * happened; `override` is the caller's decision.
 */
export function toReturnCommand(upload: OfflineUpload, op: OfflineReturnOp, order: Order, override: boolean): ReturnOrderCommand {
  const lines = returnedLines(op.lines, order, 'lines');
  return {
    orderId: order.id, returnRef: `${upload.register_id}:${op.op_id}`, locationId: op.location_id ?? upload.location_id, lines, refundMethod: op.refund_method,
    reason: op.reason ?? null, override, refundShipping: false, actor: `pos:${upload.register_id}`, at: toIso(op.occurred_at),
  };
}

/**
 * The exchange command against a known order: the new goods as the register charged them, the
 * return judged at the time it happened; `override` is the caller's decision.
 */
export function toExchangeCommand(upload: OfflineUpload, op: OfflineExchangeOp, order: Order, charged: NonNullable<ExchangeCommand['offline']>['charged'], override: boolean): ExchangeCommand {
  return {
    orderId: order.id, exchangeRef: `${upload.register_id}:${op.op_id}`, registerId: upload.register_id, locationId: op.location_id ?? upload.location_id,
    returnLines: returnedLines(op.return_lines, order, 'return_lines'),
    newLines: op.new_lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor })),
    promotionCodes: [], payments: op.payments?.map((payment) => ({ method: payment.method, amountMinor: payment.amount_minor })) ?? null,
    refundMethod: op.refund_method, reason: op.reason ?? null, override, actor: `pos:${upload.register_id}`,
    offline: { occurredAt: toIso(op.occurred_at), charged },
  };
}
