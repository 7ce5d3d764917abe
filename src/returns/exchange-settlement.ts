import { allocateMinor } from '../shared/money.ts';

/**
 * How an exchange settles, from the value of the returned goods (R, what their return refunds) and
 * the total of the new goods (T):
 * - money: the return pays min(R, T) of the new goods; the shopper pays T − R when positive, gets
 *   R − T back when negative;
 * - points: the new goods carry over the X points the returned ones earned — all of them when
 *   T ≥ R, ⌊X × T ÷ R⌋ when less (the rest is reversed) — and earn, of the Y points they would earn
 *   as a plain sale, only ⌊Y × (T − R) ÷ T⌋ for what they are worth above the returned goods. An
 *   even exchange (T = R) carries X and earns nothing: the ledger does not move.
 * The new lines hold carried + earned points, spread over their earning weights by largest
 * remainder, so a later return of the new goods takes back exactly what they hold.
 */
export interface ExchangeSettlement {
  appliedMinor: number;
  carriedPoints: number;
  earnedPoints: number;
  linePoints: number[];
}

export function settleExchange(input: { returnedMinor: number; returnedPoints: number; newTotalMinor: number; plainSalePoints: number[]; earningWeights: number[] }): ExchangeSettlement {
  const { returnedMinor: r, returnedPoints: x, newTotalMinor: t } = input;
  const plainTotal = input.plainSalePoints.reduce((sum, points) => sum + points, 0);
  const carriedPoints = t >= r || r === 0 ? x : Math.floor((x * t) / r);
  const earnedPoints = t > r && t > 0 ? Math.floor((plainTotal * (t - r)) / t) : 0;
  const total = carriedPoints + earnedPoints;
  const weights = input.earningWeights.some((weight) => weight > 0) ? input.earningWeights : input.earningWeights.map(() => 1);
  return { appliedMinor: Math.min(r, t), carriedPoints, earnedPoints, linePoints: weights.length === 0 ? [] : allocateMinor(total, weights) };
}
