import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { combineEarnMultipliers, computeEarnedPoints, computeMultipliedPoints, highestAmountBetween, isMembershipActive, nextTierAbove, previousCalendarYear, qualifiedTier, qualifyingWindowAt, tierEarnMultiplierBps, tierLadderOf, type TierProgram } from './index.ts';

// The pure tier rules: the ladder, which tier an amount reaches, the qualifying windows, the
// highest amount over an interval (the after_days downgrade), and the multiplied points.

const qualification = { metric: 'spend', period: 'rolling_12_months', downgrade: 'period_end', downgradeAfterDays: 30 } as const;
const program = (tiers: TierProgram['tiers']): TierProgram => ({ baseTier: 'Member', tiers, tierQualification: qualification });
const silver = { name: 'Silver', threshold: 20_000, earnMultiplierBps: 15_000 };
const gold = { name: 'Gold', threshold: 100_000, earnMultiplierBps: 20_000 };

test('with no tiers the only tier is the base tier at 1×; listed tiers sort by threshold above it', () => {
  assert.deepEqual(tierLadderOf(program([])), [{ name: 'Member', threshold: 0, earnMultiplierBps: 10_000 }]);
  assert.deepEqual(tierLadderOf(program([gold, silver])).map((tier) => tier.name), ['Member', 'Silver', 'Gold']);
  assert.deepEqual(tierLadderOf(program([{ name: 'Member', threshold: 500, earnMultiplierBps: 11_000 }, silver]))[0], { name: 'Member', threshold: 0, earnMultiplierBps: 11_000 }, 'the base tier listed keeps its multiplier and starts at 0');
});

test('an amount reaches the highest tier whose threshold it meets; the next tier says what is left', () => {
  const ladder = tierLadderOf(program([silver, gold]));
  assert.equal(qualifiedTier(ladder, 0).name, 'Member');
  assert.equal(qualifiedTier(ladder, 19_999).name, 'Member');
  assert.equal(qualifiedTier(ladder, 20_000).name, 'Silver');
  assert.equal(qualifiedTier(ladder, 250_000).name, 'Gold');
  assert.deepEqual(nextTierAbove(ladder, 'Member', 12_000), { tier: silver, remaining: 8_000 });
  assert.deepEqual(nextTierAbove(ladder, 'Silver', 12_000), { tier: gold, remaining: 88_000 }, 'a Silver kept by policy looks at Gold');
  assert.equal(nextTierAbove(ladder, 'Gold', 0), null);
  assert.equal(tierEarnMultiplierBps(ladder, 'Platinum'), 10_000, 'a tier the program dropped earns 1×');
});

test('qualifying windows: the last 365 days, or since January 1 UTC; the previous calendar year whole', () => {
  const at = new Date('2027-03-01T10:00:00.000Z');
  assert.deepEqual(qualifyingWindowAt('rolling_12_months', at), { from: '2026-03-01T10:00:00.000Z', to: '2027-03-01T10:00:00.000Z' });
  assert.deepEqual(qualifyingWindowAt('calendar_year', at), { from: '2027-01-01T00:00:00.000Z', to: '2027-03-01T10:00:00.000Z' });
  assert.deepEqual(previousCalendarYear(at), { from: '2026-01-01T00:00:00.000Z', to: '2026-12-31T23:59:59.999Z' });
});

test('the highest amount over an interval is found at its start or at an event inside it, each over its own window', () => {
  const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000);
  const events = [{ at: day(0).toISOString(), amount: 15_000 }, { at: day(100).toISOString(), amount: 10_000 }];
  assert.equal(highestAmountBetween(events, 'rolling_12_months', day(50), day(120)), 25_000);
  assert.equal(highestAmountBetween(events, 'rolling_12_months', day(370), day(400)), 10_000, 'the first order left every window of the interval');
  assert.equal(highestAmountBetween(events, 'rolling_12_months', day(470), day(500)), 0);
  assert.equal(highestAmountBetween(events, 'calendar_year', day(360), day(370)), 25_000, 'the year that ended on day 365 counts until then');
  assert.equal(highestAmountBetween([{ at: day(10).toISOString(), amount: 30_000 }, { at: day(20).toISOString(), amount: -30_000 }], 'rolling_12_months', day(0), day(30)), 30_000, 'a reversal later does not undo having qualified');
});

test('a membership is active within [starts_at, ends_at)', () => {
  const membership = { startsAt: '2027-01-01T00:00:00.000Z', endsAt: '2027-02-01T00:00:00.000Z' };
  assert.equal(isMembershipActive(membership, '2026-12-31T23:59:59.999Z'), false);
  assert.equal(isMembershipActive(membership, '2027-01-01T00:00:00.000Z'), true);
  assert.equal(isMembershipActive(membership, '2027-02-01T00:00:00.000Z'), false);
  assert.equal(isMembershipActive({ ...membership, endsAt: null }, '2099-01-01T00:00:00.000Z'), true);
  assert.equal(combineEarnMultipliers(15_000, [20_000, 12_000]), 20_000);
  assert.equal(combineEarnMultipliers(15_000, []), 15_000);
});

test('multiplied points are the base points × the multiplier rounded down, allocated to the lines by largest remainder; 1× is exactly the base rule', () => {
  assert.deepEqual(computeMultipliedPoints([8_099, 14_399], 'USD', 1, 15_000), { total: 336, perLine: [121, 215] });
  const lines = fc.array(fc.integer({ min: -1_000, max: 1_000_000 }), { minLength: 1, maxLength: 8 });
  fc.assert(fc.property(lines, fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 100_000 }), (lineNet, perUnit, multiplierBps) => {
    const base = computeEarnedPoints(lineNet, 'USD', perUnit);
    const multiplied = computeMultipliedPoints(lineNet, 'USD', perUnit, multiplierBps);
    assert.equal(multiplied.total, Math.floor((base.total * multiplierBps) / 10_000));
    assert.equal(multiplied.perLine.reduce((sum, points) => sum + points, 0), multiplied.total);
    lineNet.forEach((amount, index) => { if (amount <= 0) assert.equal(multiplied.perLine[index], 0, 'a line that earns nothing gets nothing'); });
    assert.deepEqual(computeMultipliedPoints(lineNet, 'USD', perUnit, 10_000), base);
  }), { numRuns: 2_000 });
});
