import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWithinHours, pricePromotions, type PricingContext, type PricingLine, type PromotionCandidate } from './promotion-engine.ts';
import { actionValue, assertValidRule, noConditions, type Promotion, type PromotionAction, type PromotionConditions } from './promotion-rules.ts';
import { AppError } from '../shared/app-error.ts';

// Worked examples of the rules in docs/promotions.md, one per rule, with the amounts a person
// would compute by hand.

let sequence = 0;
function promotion(action: PromotionAction, overrides: Partial<Omit<Promotion, 'conditions'>> & { conditions?: Partial<PromotionConditions> } = {}): Promotion {
  sequence += 1;
  const { conditions, ...rest } = overrides;
  return {
    id: `promo_${String(sequence).padStart(4, '0')}`, code: `P${sequence}`, name: `Promotion ${sequence}`, kind: action.type, value: actionValue(action), channels: ['online', 'store'], active: true,
    startsAt: null, endsAt: null, automatic: true, priority: 0, exclusive: false, stackable: true, totalUsageMax: null, perCustomerUsageMax: null, conditions: { ...noConditions, ...conditions }, action,
    shopifyDiscountId: null, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', ...rest,
  };
}

const context: PricingContext = { channel: 'store', locationId: 'loc_store', at: '2026-06-03T15:30:00.000Z', currency: 'USD', customer: null, shippingMinor: 0 };
const wallet: PricingLine = { sku: 'WALLET', productId: 'prod_wallet', quantity: 1, unitPriceMinor: 5000 };
const beanies: PricingLine = { sku: 'BEANIE', productId: 'prod_beanie', quantity: 3, unitPriceMinor: 2499 };

function price(lines: PricingLine[], promotions: Promotion[], overrides: Partial<PricingContext> = {}, codes: string[] = []) {
  const candidates: PromotionCandidate[] = promotions.map((entry) => ({ promotion: entry, code: entry.automatic ? null : entry.code }));
  return pricePromotions({ lines, candidates, unknownCodes: codes, usage: new Map(), context: { ...context, ...overrides } });
}

describe('promotion engine examples', () => {
  test('10 % off the order on a 50.00 wallet and three 24.99 beanies: 12.50 spread by largest remainder', () => {
    const pricing = price([wallet, beanies], [promotion({ type: 'percent_off_order', percentBps: 1000 })]);
    assert.equal(pricing.applied[0]!.amountMinor, 1250, '10 % of 124.97, half away from zero');
    assert.deepEqual(pricing.applied[0]!.lineAmountsMinor, [500, 750]);
  });

  test('buy 2 beanies get 1 free: the third beanie is free; a wallet alone does not qualify', () => {
    const bogo = promotion({ type: 'buy_x_get_y', buy: { skus: ['BEANIE'], productIds: [], quantity: 2 }, get: { skus: ['BEANIE'], productIds: [], quantity: 1, percentBps: 10_000 }, usesPerOrderMax: null });
    assert.deepEqual(price([wallet, beanies], [bogo]).applied[0]!.lineAmountsMinor, [0, 2499]);
    const refused = price([wallet], [bogo]).notApplied[0]!;
    assert.equal(refused.reason, 'no_matching_items');
  });

  test('a member price needs the tier; for a Gold customer the beanie costs 19.99', () => {
    const memberPrice = promotion({ type: 'member_price', prices: [{ sku: 'BEANIE', unitPriceMinor: 1999 }] }, { conditions: { customerTiers: ['Gold'] } });
    assert.equal(price([beanies], [memberPrice]).notApplied[0]!.reason, 'customer_required');
    const member = { id: 'cus_1', tier: 'Member', memberships: [], hasEarlierOrder: true };
    assert.equal(price([beanies], [memberPrice], { customer: member }).notApplied[0]!.reason, 'tier_required');
    const gold = price([beanies], [memberPrice], { customer: { ...member, tier: 'Gold' } });
    assert.equal(gold.applied[0]!.amountMinor, 3 * 500);
  });

  test('a minimum subtotal says what it needs and what the cart has', () => {
    const refused = price([{ ...wallet, unitPriceMinor: 5999 }], [promotion({ type: 'amount_off_order', amountMinor: 1000 }, { conditions: { minSubtotalMinor: 10_000 } })]).notApplied[0]!;
    assert.equal(refused.reason, 'min_subtotal');
    assert.match(refused.message, /needs 100\.00, cart has 59\.99/);
  });

  test('the exclusive promotion with the highest priority applies alone; a non-stackable one does not join another', () => {
    const exclusive = promotion({ type: 'percent_off_order', percentBps: 2000 }, { priority: 5, exclusive: true });
    const other = promotion({ type: 'amount_off_order', amountMinor: 100 });
    const pricing = price([wallet], [other, exclusive]);
    assert.deepEqual(pricing.applied.map((entry) => entry.promotion.id), [exclusive.id]);
    assert.equal(pricing.notApplied[0]!.reason, 'exclusive_conflict');
    const first = promotion({ type: 'amount_off_order', amountMinor: 100 }, { stackable: false, priority: 2 });
    const second = promotion({ type: 'amount_off_order', amountMinor: 200 }, { stackable: false });
    const stacked = price([wallet], [second, first]);
    assert.deepEqual(stacked.applied.map((entry) => entry.promotion.id), [first.id]);
    assert.equal(stacked.notApplied[0]!.reason, 'not_stackable');
  });

  test('line discounts come before order discounts, each on what is left', () => {
    const order = promotion({ type: 'amount_off_order', amountMinor: 10_000 }, { priority: 9 });
    const line = promotion({ type: 'percent_off_lines', percentBps: 5000, items: { skus: ['WALLET'], productIds: [] } });
    const pricing = price([wallet, beanies], [order, line]);
    assert.deepEqual(pricing.applied.map((entry) => [entry.promotion.id, entry.amountMinor]), [[line.id, 2500], [order.id, 9997]]);
    assert.deepEqual(pricing.lineDiscountMinor, [5000, 7497], 'the order discount takes what is left, never more');
  });

  test('hours are checked in the promotion time zone: 15:30 UTC on a Wednesday is 11:30 in Toronto', () => {
    const hours = { days: [3], start: '09:00', end: '12:00', timeZone: 'America/Toronto' };
    assert.equal(isWithinHours(hours, '2026-06-03T15:30:00.000Z'), true);
    assert.equal(isWithinHours({ ...hours, timeZone: 'UTC' }, '2026-06-03T15:30:00.000Z'), false);
    assert.equal(price([wallet], [promotion({ type: 'amount_off_order', amountMinor: 100 }, { conditions: { hours: { ...hours, timeZone: 'UTC' } } })]).notApplied[0]!.reason, 'outside_hours');
  });

  test('unknown codes, other channels, ended promotions and free shipping without shipping say why', () => {
    const pricing = price([wallet], [
      promotion({ type: 'amount_off_order', amountMinor: 100 }, { channels: ['online'] }),
      promotion({ type: 'amount_off_order', amountMinor: 100 }, { endsAt: '2026-05-01T00:00:00.000Z' }),
      promotion({ type: 'free_shipping' }),
    ], {}, ['NOPE']);
    assert.deepEqual(pricing.notApplied.map((entry) => entry.reason), ['unknown_code', 'not_in_channel', 'ended', 'no_shipping']);
  });

  test('a rule that cannot work is refused with the field it breaks', () => {
    const invalid = (rule: Promotion, field: string) => assert.throws(() => assertValidRule(rule), (error: unknown) => error instanceof AppError && error.code === 'promotions.invalid_rule' && error.details['field'] === field);
    invalid(promotion({ type: 'member_price', prices: [{ sku: 'BEANIE', unitPriceMinor: 1 }] }), 'conditions.customer_tiers');
    invalid(promotion({ type: 'percent_off_order', percentBps: 10_001 }), 'action.percent_bps');
    invalid(promotion({ type: 'amount_off_order', amountMinor: 1 }, { automatic: false, code: null }), 'code');
    invalid(promotion({ type: 'amount_off_order', amountMinor: 1 }, { conditions: { hours: { days: [1], start: '10:00', end: '09:00', timeZone: 'UTC' } } }), 'conditions.hours.end');
    invalid(promotion({ type: 'amount_off_order', amountMinor: 1 }, { conditions: { hours: { days: [1], start: '09:00', end: '10:00', timeZone: 'Mars/Olympus' } } }), 'conditions.hours.time_zone');
  });
});
