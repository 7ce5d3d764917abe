import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buyGetUnits, pricePromotions, type PricingContext, type PricingLine, type PromotionCandidate, type PromotionPricingInput, type PromotionUsage } from './promotion-engine.ts';
import { actionValue, noConditions, type Promotion, type PromotionAction } from './promotion-rules.ts';

// The promotion engine's promises, for any cart and any mix of promotions: every discount is
// spread over the lines to the unit, no line is discounted below zero, exclusivity and stacking
// hold, and the answer does not depend on the order the promotions are listed in.

const skus = ['A', 'B', 'C', 'D'];
const runs = Number(process.env['PROMOTION_PROPERTY_RUNS'] ?? 300);

const lineArbitrary: fc.Arbitrary<PricingLine> = fc.record({
  sku: fc.constantFrom(...skus),
  productId: fc.constantFrom('prod_1', 'prod_2', null),
  quantity: fc.integer({ min: 1, max: 12 }),
  unitPriceMinor: fc.integer({ min: 0, max: 50_000 }),
});

const selectorArbitrary = fc.record({ skus: fc.subarray(skus), productIds: fc.subarray(['prod_1', 'prod_2']) });
const nonEmptySelector = fc.record({ skus: fc.subarray(skus, { minLength: 1 }), productIds: fc.constant([] as string[]) });

const actionArbitrary: fc.Arbitrary<PromotionAction> = fc.oneof(
  fc.record({ type: fc.constant('percent_off_order' as const), percentBps: fc.integer({ min: 1, max: 10_000 }) }),
  fc.record({ type: fc.constant('amount_off_order' as const), amountMinor: fc.integer({ min: 1, max: 200_000 }) }),
  fc.record({ type: fc.constant('percent_off_lines' as const), percentBps: fc.integer({ min: 1, max: 10_000 }), items: selectorArbitrary }),
  fc.record({ type: fc.constant('amount_off_lines' as const), amountMinor: fc.integer({ min: 1, max: 200_000 }), items: selectorArbitrary }),
  fc.record({
    type: fc.constant('buy_x_get_y' as const),
    buy: nonEmptySelector.chain((selector) => fc.integer({ min: 1, max: 4 }).map((quantity) => ({ ...selector, quantity }))),
    get: nonEmptySelector.chain((selector) => fc.record({ quantity: fc.integer({ min: 1, max: 3 }), percentBps: fc.integer({ min: 1, max: 10_000 }) }).map((rest) => ({ ...selector, ...rest }))),
    usesPerOrderMax: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
  }),
  fc.record({ type: fc.constant('free_item' as const), sku: fc.constantFrom(...skus), quantity: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ type: fc.constant('free_shipping' as const) }),
  fc.record({ type: fc.constant('member_price' as const), prices: fc.uniqueArray(fc.record({ sku: fc.constantFrom(...skus), unitPriceMinor: fc.integer({ min: 0, max: 60_000 }) }), { selector: (price) => price.sku, minLength: 1 }) }),
);

function promotionArbitrary(index: number): fc.Arbitrary<Promotion> {
  return fc
    .record({
      action: actionArbitrary,
      automatic: fc.boolean(),
      priority: fc.integer({ min: -3, max: 3 }),
      exclusive: fc.boolean(),
      stackable: fc.boolean(),
      minSubtotalMinor: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: null }),
      totalUsageMax: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    })
    .map(({ action, automatic, priority, exclusive, stackable, minSubtotalMinor, totalUsageMax }): Promotion => ({
      id: `promo_${String(index).padStart(3, '0')}`, code: `CODE${index}`, name: `Promotion ${index}`, kind: action.type, value: actionValue(action), channels: ['online', 'store'], active: true,
      startsAt: null, endsAt: null, automatic, priority, exclusive, stackable, totalUsageMax, perCustomerUsageMax: null, conditions: { ...noConditions, minSubtotalMinor }, action,
      shopifyDiscountId: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z',
    }));
}

const inputArbitrary: fc.Arbitrary<PromotionPricingInput> = fc
  .record({
    lines: fc.array(lineArbitrary, { minLength: 1, maxLength: 6 }),
    promotions: fc.integer({ min: 0, max: 8 }).chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => promotionArbitrary(index)))),
    shippingMinor: fc.integer({ min: 0, max: 5_000 }),
    usedTotal: fc.integer({ min: 0, max: 4 }),
  })
  .map(({ lines, promotions, shippingMinor, usedTotal }) => {
    const context: PricingContext = { channel: 'store', locationId: null, at: '2026-06-01T12:00:00.000Z', currency: 'USD', customer: null, shippingMinor };
    const candidates: PromotionCandidate[] = promotions.map((promotion) => ({ promotion, code: promotion.automatic ? null : promotion.code }));
    const usage = new Map<string, PromotionUsage>(promotions.map((promotion) => [promotion.id, { total: usedTotal, byCustomer: 0 }]));
    return { lines, context, candidates, unknownCodes: [], usage };
  });

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

describe('pricePromotions, for any cart and promotions', () => {
  test('each applied promotion is spread over the lines (and shipping) to the unit, and takes something', () => {
    fc.assert(fc.property(inputArbitrary, (input) => {
      const pricing = pricePromotions(input);
      for (const applied of pricing.applied) {
        assert.equal(sum(applied.lineAmountsMinor) + applied.shippingMinor, applied.amountMinor);
        assert.ok(applied.amountMinor > 0);
        assert.ok(applied.lineAmountsMinor.every((amount) => Number.isSafeInteger(amount) && amount >= 0));
      }
      assert.deepEqual(pricing.lineDiscountMinor, pricing.grossMinor.map((_, index) => sum(pricing.applied.map((applied) => applied.lineAmountsMinor[index]!))));
    }), { numRuns: runs });
  });

  test('no line is discounted beyond its gross, shipping never below zero, totals never negative', () => {
    fc.assert(fc.property(inputArbitrary, (input) => {
      const pricing = pricePromotions(input);
      pricing.lineDiscountMinor.forEach((discount, index) => assert.ok(discount >= 0 && discount <= pricing.grossMinor[index]!, `line ${index}: ${discount} of ${pricing.grossMinor[index]}`));
      assert.ok(pricing.shippingDiscountMinor >= 0 && pricing.shippingDiscountMinor <= input.context.shippingMinor);
      assert.ok(sum(pricing.grossMinor) - sum(pricing.lineDiscountMinor) + input.context.shippingMinor - pricing.shippingDiscountMinor >= 0);
    }), { numRuns: runs });
  });

  test('an exclusive promotion applies alone; two non-stackable ones never apply together', () => {
    fc.assert(fc.property(inputArbitrary, (input) => {
      const { applied } = pricePromotions(input);
      if (applied.some((entry) => entry.promotion.exclusive)) assert.equal(applied.length, 1);
      assert.ok(applied.filter((entry) => !entry.promotion.stackable).length <= 1);
    }), { numRuns: runs });
  });

  test('every candidate is either applied or reported with a reason, once', () => {
    fc.assert(fc.property(inputArbitrary, (input) => {
      const pricing = pricePromotions(input);
      const seen = [...pricing.applied.map((entry) => entry.promotion.id), ...pricing.notApplied.map((entry) => entry.promotion!.id)].sort();
      assert.deepEqual(seen, input.candidates.map((candidate) => candidate.promotion.id).sort());
    }), { numRuns: runs });
  });

  test('a promotion used up to its total limit never applies', () => {
    fc.assert(fc.property(inputArbitrary, (input) => {
      for (const applied of pricePromotions(input).applied) {
        const limit = applied.promotion.totalUsageMax;
        if (limit !== null) assert.ok(input.usage.get(applied.promotion.id)!.total < limit);
      }
    }), { numRuns: runs });
  });

  test('deterministic: the same cart gives the same answer, whatever order the promotions are listed in', () => {
    fc.assert(fc.property(inputArbitrary, fc.integer(), (input, seed) => {
      const first = pricePromotions(input);
      assert.deepEqual(pricePromotions(input), first);
      const shuffled = [...input.candidates].sort((a, b) => ((a.promotion.id.charCodeAt(7) * 31 + seed) % 7) - ((b.promotion.id.charCodeAt(7) * 31 + seed) % 7));
      assert.deepEqual(pricePromotions({ ...input, candidates: shuffled }), first);
    }), { numRuns: runs });
  });
});

describe('buy X get Y', () => {
  test('applies as many times as disjoint units allow, discounting exactly get × applications units', () => {
    fc.assert(fc.property(fc.array(lineArbitrary, { minLength: 1, maxLength: 6 }), nonEmptySelector, nonEmptySelector, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), (lines, buy, get, buyQuantity, getQuantity) => {
      const action = { type: 'buy_x_get_y' as const, buy: { ...buy, quantity: buyQuantity }, get: { ...get, quantity: getQuantity, percentBps: 10_000 }, usesPerOrderMax: null };
      const { applications, getUnits } = buyGetUnits(action, lines);
      assert.equal(sum(getUnits), applications * getQuantity);
      getUnits.forEach((units, index) => assert.ok(units <= lines[index]!.quantity));
      // Units left for the buys: every unit of the buy set that is not discounted.
      const buyUnitsLeft = sum(lines.map((line, index) => (buy.skus.includes(line.sku) ? line.quantity - getUnits[index]! : 0)));
      assert.ok(buyUnitsLeft >= applications * buyQuantity, 'the buys use no discounted unit');
      // One more application would not fit.
      const totalBuy = sum(lines.map((line) => (buy.skus.includes(line.sku) && !get.skus.includes(line.sku) ? line.quantity : 0)));
      const totalGet = sum(lines.map((line) => (get.skus.includes(line.sku) && !buy.skus.includes(line.sku) ? line.quantity : 0)));
      const shared = sum(lines.map((line) => (buy.skus.includes(line.sku) && get.skus.includes(line.sku) ? line.quantity : 0)));
      const next = applications + 1;
      assert.ok(Math.max(0, next * buyQuantity - totalBuy) + Math.max(0, next * getQuantity - totalGet) > shared);
    }), { numRuns: runs });
  });
});
