import { assert } from '../shared/app-error.ts';
import { allocateMinor } from '../shared/money.ts';
import { computeEarnedPoints } from './earning-rule.ts';
import { baseEarnMultiplierBps } from './tier-service.ts';

/**
 * Points a purchase earns under a multiplier: the base points of `computeEarnedPoints` × the
 * multiplier / 10 000, rounded down for the order, then allocated to the lines by largest
 * remainder over the same weights (each line's net merchandise), so a refunded line gives back
 * its own share. At 1× the result is exactly the base rule's.
 * Example: lines netting 80.99 and 143.99 USD at 1 point per dollar and 1.5× → 336 points, as [121, 215].
 */
export function computeMultipliedPoints(lineNetMinor: readonly number[], currency: string, pointsPerCurrencyUnit: number, multiplierBps: number): { total: number; perLine: number[] } {
  assert(Number.isSafeInteger(multiplierBps) && multiplierBps >= 0, 'an earn multiplier is a non-negative integer of basis points');
  const base = computeEarnedPoints(lineNetMinor, currency, pointsPerCurrencyUnit);
  if (multiplierBps === baseEarnMultiplierBps) return base;
  // BigInt keeps points × basis points exact whatever their size.
  const total = Number((BigInt(base.total) * BigInt(multiplierBps)) / BigInt(baseEarnMultiplierBps));
  assert(Number.isSafeInteger(total), 'multiplied points fit a safe integer');
  return { total, perLine: allocateMinor(total, lineNetMinor.map((amount) => Math.max(amount, 0))) };
}

/**
 * The multiplier a purchase earns at when a tier and memberships each give one: the larger, never
 * the product, so a VIP membership and a high tier do not compound (docs/loyalty-program.md).
 * Example: tier 1.5×, membership 2× → 2×; tier 1.5×, no membership perk → 1.5×.
 */
export function combineEarnMultipliers(tierBps: number, membershipBps: readonly number[]): number {
  return Math.max(tierBps, ...membershipBps);
}
