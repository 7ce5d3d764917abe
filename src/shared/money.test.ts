import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { AppError } from './app-error.ts';
import { allocateMinor, applyBasisPoints, currencyExponent, decimalToMinor, minorToDecimal } from './money.ts';

// Money is integer minor units. These tests pin the three rules every amount goes through: splitting
// by largest remainder, converting channel decimals without floating point, and rounding a rate
// half away from zero.

function throwsAppError(action: () => unknown, code: string): void {
  assert.throws(action, (error: unknown) => error instanceof AppError && error.code === code);
}

/** total × weight / sum as an exact fraction, compared to a share: |share − exact| < 1. */
function isWithinOneOfExact(share: number, total: number, weight: number, weightSum: number): boolean {
  const exactTimesSum = BigInt(total) * BigInt(weight);
  const distance = BigInt(share) * BigInt(weightSum) - exactTimesSum;
  return (distance < 0n ? -distance : distance) < BigInt(weightSum);
}

const weightsArbitrary = fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 30 }).filter((weights) => weights.some((weight) => weight > 0));
const totalArbitrary = fc.integer({ min: 0, max: 1_000_000_000 });

describe('allocateMinor', () => {
  test("the issue's example: 224 points over lines of 80.99 and 143.99 are 81 and 143", () => {
    assert.deepEqual(allocateMinor(224, [8099, 14399]), [81, 143]);
  });

  test('leftover units go to the largest remainders, ties to the earlier index', () => {
    assert.deepEqual(allocateMinor(1, [1, 1]), [1, 0]);
    assert.deepEqual(allocateMinor(2, [1, 1, 1]), [1, 1, 0]);
    assert.deepEqual(allocateMinor(10, [1, 2]), [3, 7], '3.33 and 6.67: the larger remainder wins');
    assert.deepEqual(allocateMinor(100, [1, 1, 1]), [34, 33, 33]);
    assert.deepEqual(allocateMinor(500, [5000, 0, 2499]), [333, 0, 167]);
  });

  test('edge cases: no weights, a zero total, zero weights, and a positive total with nowhere to land', () => {
    assert.deepEqual(allocateMinor(0, []), []);
    assert.deepEqual(allocateMinor(0, [3, 4]), [0, 0]);
    assert.deepEqual(allocateMinor(0, [0, 0]), [0, 0]);
    assert.deepEqual(allocateMinor(7, [0, 5, 0]), [0, 7, 0]);
    assert.throws(() => allocateMinor(5, [0, 0]), /positive weight/);
  });

  test('invalid input is an assertion failure: a negative or fractional total, a negative weight', () => {
    assert.throws(() => allocateMinor(-1, [1]), /non-negative integer/);
    assert.throws(() => allocateMinor(1.5, [1]), /non-negative integer/);
    assert.throws(() => allocateMinor(10, [1, -1]), /weights are non-negative integers/);
    assert.throws(() => allocateMinor(10, [Number.NaN]), /weights are non-negative integers/);
  });

  test('property: the shares sum exactly to the total, one per weight, none negative', () => {
    fc.assert(fc.property(totalArbitrary, weightsArbitrary, (total, weights) => {
      const shares = allocateMinor(total, weights);
      assert.equal(shares.length, weights.length);
      assert.equal(shares.reduce((sum, share) => sum + share, 0), total);
      assert.ok(shares.every((share) => Number.isSafeInteger(share) && share >= 0));
    }));
  });

  test('property: each share is within 1 of its exact proportion, and a zero weight gets nothing', () => {
    fc.assert(fc.property(totalArbitrary, weightsArbitrary, (total, weights) => {
      const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
      const shares = allocateMinor(total, weights);
      shares.forEach((share, index) => {
        assert.ok(isWithinOneOfExact(share, total, weights[index]!, weightSum), `share ${share} of ${total} for weight ${weights[index]} / ${weightSum}`);
        if (weights[index] === 0) assert.equal(share, 0);
      });
    }));
  });

  test('property: the allocation is deterministic and does not depend on scaling the weights', () => {
    fc.assert(fc.property(totalArbitrary, weightsArbitrary, fc.integer({ min: 1, max: 1000 }), (total, weights, factor) => {
      const shares = allocateMinor(total, weights);
      assert.deepEqual(allocateMinor(total, [...weights]), shares);
      assert.deepEqual(allocateMinor(total, weights.map((weight) => weight * factor)), shares);
    }));
  });

  test('property: products beyond 2^53 stay exact (the total times a weight is computed in BigInt)', () => {
    fc.assert(fc.property(fc.integer({ min: 1_000_000_000, max: Number.MAX_SAFE_INTEGER }), fc.array(fc.integer({ min: 1, max: 2 ** 40 }), { minLength: 2, maxLength: 5 }), (total, weights) => {
      const shares = allocateMinor(total, weights);
      assert.equal(shares.reduce((sum, share) => sum + share, 0), total);
      const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
      shares.forEach((share, index) => assert.ok(isWithinOneOfExact(share, total, weights[index]!, weightSum)));
    }), { numRuns: 50 });
  });
});

describe('decimalToMinor and minorToDecimal', () => {
  test('channel decimals become minor units by the currency exponent: USD 2, JPY 0, KWD 3', () => {
    assert.equal(currencyExponent('USD'), 2);
    assert.equal(currencyExponent('JPY'), 0);
    assert.equal(currencyExponent('KWD'), 3);
    assert.equal(decimalToMinor('249.98', 'USD'), 24998);
    assert.equal(decimalToMinor('80.99', 'USD'), 8099);
    assert.equal(decimalToMinor('0.01', 'USD'), 1);
    assert.equal(decimalToMinor('10', 'USD'), 1000);
    assert.equal(decimalToMinor('10.5', 'USD'), 1050);
    assert.equal(decimalToMinor('10.50', 'USD'), 1050);
    assert.equal(decimalToMinor(' 6.48 ', 'USD'), 648, 'surrounding spaces are trimmed');
    assert.equal(decimalToMinor('-87.47', 'USD'), -8747);
    assert.equal(decimalToMinor(89.99, 'USD'), 8999, 'a JSON number too');
    assert.equal(decimalToMinor('1500', 'JPY'), 1500);
    assert.equal(decimalToMinor('1500.00', 'JPY'), 1500, 'zero fraction digits are not precision');
    assert.equal(decimalToMinor('1.234', 'KWD'), 1234);
    assert.equal(decimalToMinor('0.5', 'KWD'), 500);
    assert.equal(minorToDecimal(24998, 'USD'), '249.98');
    assert.equal(minorToDecimal(5, 'USD'), '0.05');
    assert.equal(minorToDecimal(0, 'USD'), '0.00');
    assert.equal(minorToDecimal(-8747, 'USD'), '-87.47');
    assert.equal(minorToDecimal(1500, 'JPY'), '1500');
    assert.equal(minorToDecimal(1234, 'KWD'), '1.234');
    assert.equal(minorToDecimal(7, 'KWD'), '0.007');
  });

  test('more decimals than the currency has is refused, never rounded', () => {
    throwsAppError(() => decimalToMinor('0.001', 'USD'), 'money.invalid_amount');
    throwsAppError(() => decimalToMinor('19.999', 'USD'), 'money.invalid_amount');
    throwsAppError(() => decimalToMinor('1500.5', 'JPY'), 'money.invalid_amount');
    throwsAppError(() => decimalToMinor('1.2345', 'KWD'), 'money.invalid_amount');
    throwsAppError(() => decimalToMinor(0.1 + 0.2, 'USD'), 'money.invalid_amount');
  });

  test('text that is not a plain decimal is refused, and so is a currency that is not ISO-4217', () => {
    for (const text of ['', 'abc', '1,000.00', '1e3', '.5', '5.', '+5', '--5', '5 .00', 'NaN', 'Infinity']) {
      throwsAppError(() => decimalToMinor(text, 'USD'), 'money.invalid_amount');
    }
    throwsAppError(() => decimalToMinor(Number.NaN, 'USD'), 'money.invalid_amount');
    throwsAppError(() => decimalToMinor('1.00', 'usd'), 'money.invalid_currency');
    throwsAppError(() => decimalToMinor('1.00', 'DOLLARS'), 'money.invalid_currency');
    throwsAppError(() => minorToDecimal(100, ''), 'money.invalid_currency');
  });

  test('an amount too large for a safe integer is refused as bad input (money.invalid_amount), not an assertion failure', () => {
    // Regression: a channel sending "100000000000000000.00" failed with "Assertion failed", which marks a bug, not bad input.
    throwsAppError(() => decimalToMinor('100000000000000000.00', 'USD'), 'money.invalid_amount');
    throwsAppError(() => decimalToMinor('-90071992547409.92', 'USD'), 'money.invalid_amount');
    assert.equal(decimalToMinor('90071992547409.91', 'USD'), Number.MAX_SAFE_INTEGER, 'the largest safe amount still converts');
  });

  for (const currency of ['USD', 'JPY', 'KWD']) {
    test(`property: ${currency} minor units survive the round trip through a decimal string`, () => {
      fc.assert(fc.property(fc.integer({ min: -1_000_000_000_000, max: 1_000_000_000_000 }), (amountMinor) => {
        const decimal = minorToDecimal(amountMinor, currency);
        assert.match(decimal, currency === 'JPY' ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${currencyExponent(currency)}}$`));
        assert.equal(decimalToMinor(decimal, currency), amountMinor);
      }));
    });

    test(`property: ${currency} decimal strings with at most the currency's digits survive the round trip`, () => {
      const exponent = currencyExponent(currency);
      const decimalArbitrary = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9_999_999 }), fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: exponent, maxLength: exponent }))
        .map(([negative, whole, fraction]) => `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`)
        .filter((text) => !/^-0(\.0*)?$/.test(text));
      fc.assert(fc.property(decimalArbitrary, (decimal) => {
        assert.equal(minorToDecimal(decimalToMinor(decimal, currency), currency), decimal);
      }));
    });
  }
});

describe('applyBasisPoints', () => {
  test('a rate in basis points rounds half away from zero', () => {
    assert.equal(applyBasisPoints(4000, 1300), 520, '13 % tax on 40.00');
    assert.equal(applyBasisPoints(5000, 1000), 500, 'SUMMER10 on 50.00');
    assert.equal(applyBasisPoints(5, 5000), 3, '2.5 rounds up');
    assert.equal(applyBasisPoints(-5, 5000), -3, '-2.5 rounds down, away from zero');
    assert.equal(applyBasisPoints(1, 5000), 1, '0.5 rounds to 1');
    assert.equal(applyBasisPoints(-1, 5000), -1);
    assert.equal(applyBasisPoints(1, 4999), 0, '0.4999 rounds to 0');
    assert.equal(applyBasisPoints(-1, 4999), 0);
    assert.equal(applyBasisPoints(2499, 1300), 325, '324.87 rounds to 325');
    assert.equal(applyBasisPoints(3, -5000), -2, 'a negative rate: -1.5 rounds to -2');
    assert.equal(applyBasisPoints(0, 1300), 0);
    assert.equal(applyBasisPoints(12345, 10_000), 12345);
    assert.throws(() => applyBasisPoints(1.5, 100), /integers only/);
  });

  test('property: the result is the nearest integer, and an exact half goes away from zero', () => {
    fc.assert(fc.property(fc.integer({ min: -1_000_000_000_000, max: 1_000_000_000_000 }), fc.integer({ min: -20_000, max: 20_000 }), (amountMinor, basisPoints) => {
      const result = applyBasisPoints(amountMinor, basisPoints);
      const product = BigInt(amountMinor) * BigInt(basisPoints);
      const twiceDistance = 2n * (BigInt(result) * 10_000n - product);
      const absoluteTwiceDistance = twiceDistance < 0n ? -twiceDistance : twiceDistance;
      assert.ok(absoluteTwiceDistance <= 10_000n, 'within half a unit of the exact value');
      if (absoluteTwiceDistance === 10_000n) {
        assert.ok(result < 0 ? BigInt(result) * 10_000n < product : BigInt(result) * 10_000n > product, 'a tie goes away from zero');
      }
      assert.equal(applyBasisPoints(-amountMinor, basisPoints), -result || 0, 'symmetric around zero');
    }));
  });
});
