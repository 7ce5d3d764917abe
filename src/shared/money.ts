import { AppError, assert } from './app-error.ts';

/** Money is always integer minor units with its ISO-4217 currency. */
export interface Money {
  amountMinor: number;
  currency: string;
}

// ISO-4217 minor-unit exponents that differ from the usual 2. Source: ISO 4217 list of currency codes.
const exponentExceptions: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
};

export function currencyExponent(currency: string): number {
  if (!/^[A-Z]{3}$/.test(currency)) throw new AppError('money.invalid_currency', `"${currency}" is not an ISO-4217 currency code`, { currency });
  return exponentExceptions[currency] ?? 2;
}

/**
 * Converts a channel's decimal string ("249.98") into integer minor units (24998) without floating
 * point. More fraction digits than the currency has is an error, never a silent rounding.
 */
export function decimalToMinor(decimal: string | number, currency: string): number {
  const text = typeof decimal === 'number' ? String(decimal) : decimal.trim();
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new AppError('money.invalid_amount', `"${text}" is not a decimal amount`, { amount: text });
  const [, sign, whole, fraction = ''] = match;
  const exponent = currencyExponent(currency);
  const significantFraction = fraction.replace(/0+$/, '');
  if (significantFraction.length > exponent) {
    throw new AppError('money.invalid_amount', `"${text}" has more decimals than ${currency} allows (${exponent})`, { amount: text, currency });
  }
  const minor = Number(whole) * 10 ** exponent + Number(fraction.padEnd(exponent, '0').slice(0, exponent) || '0');
  if (!Number.isSafeInteger(minor)) throw new AppError('money.invalid_amount', `"${text}" is too large an amount`, { amount: text });
  return sign === '-' ? -minor : minor;
}

/** Formats minor units back to a decimal string ("87.47") for channels that want decimals. */
export function minorToDecimal(amountMinor: number, currency: string): string {
  const exponent = currencyExponent(currency);
  const sign = amountMinor < 0 ? '-' : '';
  const digits = String(Math.abs(amountMinor)).padStart(exponent + 1, '0');
  if (exponent === 0) return sign + digits;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/**
 * Splits `total` over `weights` in proportion, as integers that sum exactly to `total`.
 * Rounding rule: largest remainder (Hamilton). Each share is first floored; the units left over go
 * one each to the shares with the largest fractional remainders, ties to the earlier index.
 * Example: allocateMinor(224, [8099, 14399]) → [81, 143].
 */
export function allocateMinor(total: number, weights: readonly number[]): number[] {
  assert(Number.isSafeInteger(total) && total >= 0, 'allocateMinor total is a non-negative integer');
  assert(weights.every((weight) => Number.isSafeInteger(weight) && weight >= 0), 'allocateMinor weights are non-negative integers');
  const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
  if (weights.length === 0) return [];
  if (weightSum === 0) {
    assert(total === 0, 'a positive total needs a positive weight to land on');
    return weights.map(() => 0);
  }
  // BigInt keeps total × weight exact even when the product passes 2^53.
  const shares = weights.map((weight, index) => {
    const numerator = BigInt(total) * BigInt(weight);
    return { index, floor: Number(numerator / BigInt(weightSum)), remainder: numerator % BigInt(weightSum) };
  });
  let leftover = total - shares.reduce((sum, share) => sum + share.floor, 0);
  const byRemainder = [...shares].sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const share of byRemainder) {
    if (leftover === 0) break;
    share.floor += 1;
    leftover -= 1;
  }
  const result = shares.map((share) => share.floor);
  assert(result.reduce((sum, part) => sum + part, 0) === total, 'allocation sums to the total');
  return result;
}

/** Rounds amount × basis points / 10000 half away from zero, in integers. */
export function applyBasisPoints(amountMinor: number, basisPoints: number): number {
  assert(Number.isSafeInteger(amountMinor) && Number.isSafeInteger(basisPoints), 'integers only');
  const product = BigInt(amountMinor) * BigInt(basisPoints);
  const quotient = product / 10000n;
  const remainder = product % 10000n;
  const absoluteRemainder = remainder < 0n ? -remainder : remainder;
  const roundAway = absoluteRemainder * 2n >= 10000n ? (product < 0n ? -1n : 1n) : 0n;
  return Number(quotient + roundAway);
}
