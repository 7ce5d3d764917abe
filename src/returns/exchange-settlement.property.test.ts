import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { settleExchange } from './exchange-settlement.ts';

// An exchange never makes or loses points by accident: the new lines hold exactly what is carried
// plus what is earned, an even exchange moves nothing, and less valuable goods never carry more.

const exchangeArbitrary = fc.record({
  returnedMinor: fc.integer({ min: 0, max: 1_000_000 }),
  returnedPoints: fc.integer({ min: 0, max: 10_000 }),
  newTotalMinor: fc.integer({ min: 0, max: 1_000_000 }),
  lines: fc.array(fc.record({ points: fc.integer({ min: 0, max: 10_000 }), weight: fc.integer({ min: 0, max: 100_000 }) }), { minLength: 1, maxLength: 5 }),
});

test('exchange settlement: points held by the new lines = carried + earned; even exchanges move nothing; money applied never exceeds either side', () => {
  fc.assert(fc.property(exchangeArbitrary, (input) => {
    const settled = settleExchange({ returnedMinor: input.returnedMinor, returnedPoints: input.returnedPoints, newTotalMinor: input.newTotalMinor, plainSalePoints: input.lines.map((line) => line.points), earningWeights: input.lines.map((line) => line.weight) });
    assert.equal(settled.linePoints.reduce((sum, points) => sum + points, 0), settled.carriedPoints + settled.earnedPoints);
    assert.ok(settled.carriedPoints <= input.returnedPoints && settled.carriedPoints >= 0);
    assert.equal(settled.appliedMinor, Math.min(input.returnedMinor, input.newTotalMinor));
    if (input.newTotalMinor === input.returnedMinor) {
      assert.equal(settled.carriedPoints, input.returnedPoints, 'an even exchange carries every point');
      assert.equal(settled.earnedPoints, 0, 'and earns none');
    }
    if (input.newTotalMinor < input.returnedMinor) assert.equal(settled.earnedPoints, 0);
  }), { numRuns: 500 });
});
