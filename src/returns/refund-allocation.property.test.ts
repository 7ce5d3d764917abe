import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AppError } from '../shared/app-error.ts';
import { allocateOrderToLines, computeRefund, type RefundableOrder, type ReturnPolicy } from './refund-allocation.ts';

// The refund rules a customer and a merchant would check by hand: discounts and tax spread over
// lines add up, no line gives back more than it paid, and returning everything in any number of
// partial returns, in any order, gives back exactly what the order cost.

const freePolicy: ReturnPolicy = { windowDays: 0, restockingFeeBps: 0, shippingRefund: 'with_last_item' };

const lineArbitrary = fc.record({ unitPriceMinor: fc.integer({ min: 0, max: 200_000 }), quantity: fc.integer({ min: 1, max: 6 }), discountShare: fc.double({ min: 0, max: 1, noNaN: true }), taxBps: fc.integer({ min: 0, max: 2500 }) });

/** A mixed cart: line discounts, an order-level discount the lines do not carry, line tax, shipping with its own tax. */
const orderArbitrary = fc
  .record({ lines: fc.array(lineArbitrary, { minLength: 1, maxLength: 6 }), orderDiscountShare: fc.double({ min: 0, max: 1, noNaN: true }), shippingMinor: fc.integer({ min: 0, max: 3000 }), shippingTaxMinor: fc.integer({ min: 0, max: 400 }) })
  .map(({ lines, orderDiscountShare, shippingMinor, shippingTaxMinor }): RefundableOrder => {
    const built = lines.map((line, index) => {
      const gross = line.unitPriceMinor * line.quantity;
      const discountMinor = Math.floor(gross * line.discountShare);
      return { id: `line_${index}`, quantity: line.quantity, returnedQuantity: 0, unitPriceMinor: line.unitPriceMinor, discountMinor, taxMinor: Math.floor(((gross - discountMinor) * line.taxBps) / 10_000), finalSale: false };
    });
    const netAfterLines = built.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity - line.discountMinor, 0);
    const orderLevel = Math.floor(netAfterLines * orderDiscountShare);
    const discountMinor = built.reduce((sum, line) => sum + line.discountMinor, 0) + orderLevel;
    const taxMinor = built.reduce((sum, line) => sum + line.taxMinor, 0) + shippingTaxMinor;
    const subtotal = built.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
    return { placedAt: '2026-11-01T00:00:00.000Z', lines: built, discountMinor, shippingMinor, taxMinor, totalMinor: subtotal - discountMinor + shippingMinor + taxMinor, refundedMinor: 0, shippingRefundedMinor: 0, shippingTaxRefundedMinor: 0 };
  });

/** Picks, step by step, some line with units left and some of those units. */
const returnPlanArbitrary = fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 40, maxLength: 40 });

/** Returns every unit of the order in the partial returns the plan picks; the refunds in order. */
function returnEverything(order: RefundableOrder, plan: [number, number][]): { refunds: number[]; perLine: Map<string, number>; shippingTax: number } {
  const state = structuredClone(order);
  const refunds: number[] = [];
  const perLine = new Map<string, number>();
  let step = 0;
  for (;;) {
    const open = state.lines.filter((line) => line.returnedQuantity < line.quantity);
    if (open.length === 0) break;
    const [linePick, quantityPick] = plan[step % plan.length]!;
    step += 1;
    const line = open[linePick % open.length]!;
    const quantity = 1 + (quantityPick % (line.quantity - line.returnedQuantity));
    const refund = computeRefund(state, { lines: [{ lineId: line.id, quantity }], at: '2026-11-02T00:00:00.000Z' }, freePolicy);
    refunds.push(refund.totalMinor);
    perLine.set(line.id, (perLine.get(line.id) ?? 0) + refund.lines[0]!.refundMinor);
    line.returnedQuantity += quantity;
    state.refundedMinor += refund.totalMinor;
    state.shippingRefundedMinor += refund.shippingMinor;
    assert.ok(refund.shippingTaxMinor >= 0 && refund.shippingTaxMinor <= refund.shippingMinor, 'the shipping\'s tax is part of the shipping refunded');
    state.shippingTaxRefundedMinor += refund.shippingTaxMinor;
  }
  return { refunds, perLine, shippingTax: state.shippingTaxRefundedMinor };
}

describe('refund allocation', () => {
  test('discounts and tax spread over lines add up to the order’s', () => {
    fc.assert(fc.property(orderArbitrary, (order) => {
      const paid = allocateOrderToLines(order);
      assert.equal(paid.lines.reduce((sum, line) => sum + line.discountMinor, 0), order.discountMinor);
      assert.equal(paid.lines.reduce((sum, line) => sum + line.taxMinor, 0) + paid.shippingTaxMinor, order.taxMinor);
      for (const line of paid.lines) assert.ok(line.discountMinor <= line.grossMinor, 'no line is discounted below zero');
    }), { numRuns: 300 });
  });

  test('any sequence of partial returns of every line refunds exactly the order total, the shipping\'s tax among it', () => {
    fc.assert(fc.property(orderArbitrary, returnPlanArbitrary, (order, plan) => {
      const { refunds, shippingTax } = returnEverything(order, plan);
      assert.equal(refunds.reduce((sum, refund) => sum + refund, 0), order.totalMinor);
      assert.equal(shippingTax, allocateOrderToLines(order).shippingTaxMinor, 'the tax the lines do not carry goes back with the shipping');
      for (const refund of refunds) assert.ok(refund >= 0, 'a refund is never negative');
    }), { numRuns: 300 });
  });

  test('no line ever refunds more than it paid', () => {
    fc.assert(fc.property(orderArbitrary, returnPlanArbitrary, (order, plan) => {
      const paid = allocateOrderToLines(order);
      const { perLine } = returnEverything(order, plan);
      for (const [index, line] of order.lines.entries()) {
        const linePaid = paid.lines[index]!.grossMinor - paid.lines[index]!.discountMinor + paid.lines[index]!.taxMinor;
        assert.equal(perLine.get(line.id), linePaid, `line ${line.id} refunds what it paid, in total`);
      }
    }), { numRuns: 200 });
  });

  test('a restocking fee is kept from the merchandise and never makes a refund negative', () => {
    fc.assert(fc.property(orderArbitrary, fc.integer({ min: 0, max: 10_000 }), (order, feeBps) => {
      const refund = computeRefund(order, { lines: order.lines.map((line) => ({ lineId: line.id, quantity: line.quantity })), at: '2026-11-02T00:00:00.000Z' }, { ...freePolicy, restockingFeeBps: feeBps });
      for (const line of refund.lines) assert.ok(line.refundMinor >= 0 && line.feeMinor >= 0);
      assert.equal(refund.totalMinor + refund.feeMinor, order.totalMinor);
    }), { numRuns: 200 });
  });

  test('policy: outside the window and final-sale lines are refused unless a manager overrides', () => {
    const order: RefundableOrder = { placedAt: '2026-10-01T00:00:00.000Z', lines: [{ id: 'a', quantity: 1, returnedQuantity: 0, unitPriceMinor: 1000, discountMinor: 0, taxMinor: 130, finalSale: true }], discountMinor: 0, shippingMinor: 0, taxMinor: 130, totalMinor: 1130, refundedMinor: 0, shippingRefundedMinor: 0, shippingTaxRefundedMinor: 0 };
    const policy: ReturnPolicy = { windowDays: 30, restockingFeeBps: 0, shippingRefund: 'never' };
    const request = { lines: [{ lineId: 'a', quantity: 1 }], at: '2026-11-15T00:00:00.000Z' };
    assert.throws(() => computeRefund(order, request, policy), (error: unknown) => error instanceof AppError && error.code === 'returns.window_closed');
    assert.throws(() => computeRefund(order, { ...request, at: '2026-10-05T00:00:00.000Z' }, policy), (error: unknown) => error instanceof AppError && error.code === 'returns.final_sale');
    assert.equal(computeRefund(order, { ...request, override: true }, policy).totalMinor, 1130);
  });
});
