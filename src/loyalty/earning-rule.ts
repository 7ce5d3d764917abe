import { allocateMinor, currencyExponent } from '../shared/money.ts';

/**
 * Points a purchase earns: `pointsPerCurrencyUnit` per whole currency unit of merchandise after
 * discounts (tax, shipping and gift cards are never in `netMinor`), rounded down for the order,
 * then allocated to its lines by largest remainder so each line knows what to give back on refund.
 * Example: lines netting 80.99 and 143.99 USD at 1 point per dollar → 224 points, as [81, 143].
 */
export function computeEarnedPoints(lineNetMinor: readonly number[], currency: string, pointsPerCurrencyUnit: number): { total: number; perLine: number[] } {
  const netMinor = lineNetMinor.reduce((sum, amount) => sum + Math.max(amount, 0), 0);
  const unitMinor = 10 ** currencyExponent(currency);
  const total = Math.floor((netMinor * pointsPerCurrencyUnit) / unitMinor);
  return { total, perLine: allocateMinor(total, lineNetMinor.map((amount) => Math.max(amount, 0))) };
}
