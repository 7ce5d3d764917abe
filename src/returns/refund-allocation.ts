import { AppError, assert } from '../shared/app-error.ts';
import { allocateMinor, applyBasisPoints } from '../shared/money.ts';

/**
 * The one refund computation, for every channel's orders (docs/returns.md).
 *
 * 1. What each line paid: its gross, its discounts (the line's own, plus its share of any
 *    order-level discount the channel did not place on lines, spread by largest remainder over the
 *    lines' net — `allocateMinor`), and its tax. Tax the lines do not carry is the shipping's.
 * 2. Returning q more units of a line that has r returned out of Q refunds, for each part, the
 *    difference of cumulative shares: share(r + q) − share(r), where share(n) = ⌊part × n ÷ Q⌋ and
 *    share(Q) = part. So any sequence of partial returns of every unit refunds exactly what the line
 *    paid, never a cent more, and earlier returns never change what later ones get.
 * 3. Policy: outside the return window or a final-sale line is refused unless a manager overrides;
 *    a restocking fee (basis points of the returned merchandise after discounts) is kept unless
 *    waived; shipping (with its tax) is refunded when the last unit comes back, never, or on request.
 */
export interface RefundableLine {
  id: string;
  quantity: number;
  returnedQuantity: number;
  unitPriceMinor: number;
  discountMinor: number;
  taxMinor: number;
  finalSale: boolean;
}

export interface RefundableOrder {
  placedAt: string;
  lines: RefundableLine[];
  discountMinor: number;
  shippingMinor: number;
  taxMinor: number;
  totalMinor: number;
  /** Everything refunded so far, by any channel. */
  refundedMinor: number;
  /** Shipping (with its tax) refunded so far. */
  shippingRefundedMinor: number;
  /** The shipping's tax among it. */
  shippingTaxRefundedMinor: number;
}

export interface ReturnPolicy {
  /** Days after the order a return is accepted; 0 = no limit. */
  windowDays: number;
  /** Kept from the returned merchandise after discounts, in basis points (1500 = 15 %). */
  restockingFeeBps: number;
  /** `with_last_item`: refunded when the order's last unit comes back; `never`: not refundable. */
  shippingRefund: 'with_last_item' | 'never';
}

export interface RefundRequest {
  lines: { lineId: string; quantity: number; waiveFee?: boolean }[];
  at: string;
  /** A manager's decision: accept outside the window and final-sale lines. */
  override?: boolean;
  /** Refund what is left of the shipping now, whatever the policy (the wrong item was sent). */
  refundShipping?: boolean;
}

export interface LineRefund {
  lineId: string;
  quantity: number;
  grossMinor: number;
  discountMinor: number;
  taxMinor: number;
  feeMinor: number;
  /** gross − discount + tax − fee. */
  refundMinor: number;
}

/**
 * What a return gives back, by part, in minor units: amount = merchandise − discount + tax +
 * shipping − fee. Tax is the goods'; shipping counts with its own tax, which `shippingTaxMinor`
 * names; the fee is what was kept of the goods' value (a restocking fee, or what a channel refunded
 * short of the lines it names).
 */
export interface ReturnBreakdown {
  merchandiseMinor: number;
  discountMinor: number;
  taxMinor: number;
  shippingMinor: number;
  shippingTaxMinor: number;
  feeMinor: number;
}

export interface RefundComputation extends ReturnBreakdown {
  lines: LineRefund[];
  totalMinor: number;
}

/** What each line paid, parts placed on lines: discounts and tax the channel left at order level included. */
export interface LinePaid {
  grossMinor: number;
  discountMinor: number;
  taxMinor: number;
}

export function allocateOrderToLines(order: Pick<RefundableOrder, 'lines' | 'discountMinor' | 'taxMinor'>): { lines: LinePaid[]; shippingTaxMinor: number } {
  const gross = order.lines.map((line) => line.unitPriceMinor * line.quantity);
  const lineDiscounts = order.lines.reduce((sum, line) => sum + line.discountMinor, 0);
  assert(lineDiscounts <= order.discountMinor, 'line discounts never exceed the order discount');
  const spread = allocateMinor(order.discountMinor - lineDiscounts, order.lines.map((line, index) => Math.max(0, gross[index]! - line.discountMinor)));
  const lineTax = order.lines.reduce((sum, line) => sum + line.taxMinor, 0);
  // Lines that claim more tax than the order charged are scaled down to it; what lines do not claim is the shipping's.
  const tax = lineTax <= order.taxMinor ? order.lines.map((line) => line.taxMinor) : allocateMinor(order.taxMinor, order.lines.map((line) => line.taxMinor));
  return {
    lines: order.lines.map((line, index) => ({ grossMinor: gross[index]!, discountMinor: line.discountMinor + spread[index]!, taxMinor: tax[index]! })),
    shippingTaxMinor: order.taxMinor - tax.reduce((sum, amount) => sum + amount, 0),
  };
}

/** ⌊part × n ÷ of⌋, exact at n = of. */
function shareOf(part: number, n: number, of: number): number {
  if (n >= of) return part;
  return Number((BigInt(part) * BigInt(n)) / BigInt(of));
}

function unitsShare(part: number, line: RefundableLine, quantity: number): number {
  return shareOf(part, line.returnedQuantity + quantity, line.quantity) - shareOf(part, line.returnedQuantity, line.quantity);
}

function assertReturnable(order: RefundableOrder, request: RefundRequest, policy: ReturnPolicy): void {
  if (policy.windowDays > 0 && !request.override) {
    const closesAt = new Date(Date.parse(order.placedAt) + policy.windowDays * 86_400_000).toISOString();
    if (request.at > closesAt) throw new AppError('returns.window_closed', `The ${policy.windowDays}-day return window closed on ${closesAt}; a manager can override`, { field: 'override', window_days: policy.windowDays, closed_at: closesAt });
  }
  const seen = new Set<string>();
  for (const [index, wanted] of request.lines.entries()) {
    const line = order.lines.find((candidate) => candidate.id === wanted.lineId);
    if (!line) throw new AppError('returns.unknown_line', `The order has no line ${wanted.lineId}`, { field: `lines.${index}.order_line_id`, order_line_id: wanted.lineId });
    if (seen.has(line.id)) throw new AppError('returns.line_repeated', `Line ${line.id} is given more than once`, { field: `lines.${index}.order_line_id`, order_line_id: line.id });
    seen.add(line.id);
    if (!Number.isSafeInteger(wanted.quantity) || wanted.quantity < 1) throw new AppError('returns.invalid_quantity', 'A returned quantity is a whole number of at least 1', { field: `lines.${index}.quantity` });
    if (line.returnedQuantity + wanted.quantity > line.quantity) {
      throw new AppError('returns.quantity_exceeds_purchase', `Line ${line.id} has ${line.quantity - line.returnedQuantity} of ${line.quantity} units left to return`, { field: `lines.${index}.quantity`, returnable: line.quantity - line.returnedQuantity });
    }
    if (line.finalSale && !request.override) throw new AppError('returns.final_sale', `Line ${line.id} was sold as final sale; a manager can override`, { field: `lines.${index}.order_line_id`, order_line_id: line.id });
  }
}

/** The refund for returning some units of an order, by the rules above; writes nothing. */
export function computeRefund(order: RefundableOrder, request: RefundRequest, policy: ReturnPolicy): RefundComputation {
  assertReturnable(order, request, policy);
  const paid = allocateOrderToLines(order);
  const lines = request.lines.map((wanted): LineRefund => {
    const index = order.lines.findIndex((line) => line.id === wanted.lineId);
    const line = order.lines[index]!;
    const part = paid.lines[index]!;
    const grossMinor = unitsShare(part.grossMinor, line, wanted.quantity);
    const discountMinor = unitsShare(part.discountMinor, line, wanted.quantity);
    const taxMinor = unitsShare(part.taxMinor, line, wanted.quantity);
    const feeMinor = wanted.waiveFee ? 0 : Math.min(applyBasisPoints(grossMinor - discountMinor, policy.restockingFeeBps), grossMinor - discountMinor + taxMinor);
    return { lineId: line.id, quantity: wanted.quantity, grossMinor, discountMinor, taxMinor, feeMinor, refundMinor: grossMinor - discountMinor + taxMinor - feeMinor };
  });
  const unitsLeft = order.lines.reduce((sum, line) => sum + line.quantity - line.returnedQuantity, 0) - request.lines.reduce((sum, line) => sum + line.quantity, 0);
  const shippingLeft = order.shippingMinor + paid.shippingTaxMinor - order.shippingRefundedMinor;
  const shippingMinor = request.refundShipping || (policy.shippingRefund === 'with_last_item' && unitsLeft === 0) ? Math.max(0, shippingLeft) : 0;
  // What is left of the shipping is refunded at once, so all its tax not yet refunded goes with it.
  const shippingTaxMinor = Math.min(shippingMinor, Math.max(0, paid.shippingTaxMinor - order.shippingTaxRefundedMinor));
  const sum = (pick: (line: LineRefund) => number) => lines.reduce((total, line) => total + pick(line), 0);
  const totalMinor = sum((line) => line.refundMinor) + shippingMinor;
  // A channel may have refunded amounts no line accounts for (an appeasement); never refund past what was paid.
  if (totalMinor > order.totalMinor - order.refundedMinor) {
    throw new AppError('returns.refund_conflict', `This return would refund ${totalMinor}, and only ${order.totalMinor - order.refundedMinor} of the order is left unrefunded`, { refund_minor: totalMinor, unrefunded_minor: order.totalMinor - order.refundedMinor });
  }
  return { lines, merchandiseMinor: sum((line) => line.grossMinor), discountMinor: sum((line) => line.discountMinor), taxMinor: sum((line) => line.taxMinor), shippingMinor, shippingTaxMinor, feeMinor: sum((line) => line.feeMinor), totalMinor };
}
