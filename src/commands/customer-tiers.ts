import type { Db, Queryable, Tx } from '../db/index.ts';
import {
  baseEarnMultiplierBps, changeTier, combineEarnMultipliers, highestAmountBetween, listAccountsAboveBaseTier, listActiveMemberships, lockLoyaltyAccount, membershipEarnMultipliers, nextTierAbove,
  previousCalendarYear, qualifiedTier, qualifyingWindowAt, readTierState, tierEarnMultiplierBps, tierLadderOf, tierRank, tierRollingPeriodDays, type TierMetric, type TierPeriod, type TierState,
} from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { assert } from '../shared/app-error.ts';
import { announceCustomerChange } from './announce-changes.ts';
import { listLoyaltyJobMerchants } from './loyalty-jobs.ts';
import { readQualifyingAmount, readQualifyingEvents } from './tier-qualification.ts';
import { emitMerchantEvent } from '../sync/index.ts';

// Tier changes (issue #4; the rules are written up in docs/loyalty-program.md): up at once when a
// purchase is recorded, down by the program's policy in a scheduled job.

const dayMs = 86_400_000;
/** Accounts read per page, and pages per merchant and run; the rest waits for the next run. */
export const tierAccountsPerPageMax = 200;
export const tierPagesPerRunMax = 50;

/**
 * The multiplier a purchase placed at `at` earns at: her tier's, or an active membership's when
 * larger (they never compound).
 */
export async function earnMultiplierFor(db: Queryable, merchant: Merchant, customerId: string, at: string): Promise<number> {
  const program = merchant.settings.loyalty;
  const ladder = tierLadderOf(program);
  const memberships = await listActiveMemberships(db, merchant.id, customerId, at);
  // A program whose tiers all earn at the base rate gives that rate whatever tier she holds (a tier
  // no longer on the ladder earns at the base rate too), so her account is not read: one statement
  // less on every order of such a program (bench/orders-end-to-end.ts counts them, issue #9).
  const tierBps = ladder.every((tier) => tier.earnMultiplierBps === baseEarnMultiplierBps)
    ? baseEarnMultiplierBps
    : tierEarnMultiplierBps(ladder, (await readTierState(db, merchant.id, customerId, program.baseTier)).tier);
  return combineEarnMultipliers(tierBps, membershipEarnMultipliers(memberships));
}

/**
 * Upgrade at once: in the transaction that recorded a purchase, her qualifying amount is read again
 * and she moves up to the highest tier it reaches. Never moves her down (that is the policy job's).
 * Returns the new tier, or null when it did not change.
 */
export async function raiseTierIfQualified(tx: Tx, merchant: Merchant, customerId: string, now = new Date()): Promise<string | null> {
  const program = merchant.settings.loyalty;
  const ladder = tierLadderOf(program);
  if (ladder.length === 1) return null;
  await lockLoyaltyAccount(tx, merchant.id, customerId, program.baseTier);
  const state = await readTierState(tx, merchant.id, customerId, program.baseTier);
  const amount = await readQualifyingAmount(tx, merchant.id, customerId, program.tierQualification.metric, qualifyingWindowAt(program.tierQualification.period, now));
  const target = qualifiedTier(ladder, amount);
  if (tierRank(ladder, target.name) <= tierRank(ladder, state.tier)) return null;
  assert(await changeTier(tx, merchant.id, customerId, { from: state.tier, to: target.name, at: now.toISOString() }), 'the locked account still holds the tier just read');
  await emitMerchantEvent(tx, merchant.id, 'loyalty.tier_changed', { customer_id: customerId, from: state.tier, to: target.name, direction: 'up' });
  await announceCustomerChange(tx, merchant.id, customerId);
  return target.name;
}

/** Her highest qualifying amount that the downgrade policy looks at, or null when the policy keeps her tier regardless. */
async function amountForDowngrade(db: Queryable, merchant: Merchant, state: TierState, now: Date): Promise<number | null> {
  const { metric, period, downgrade, downgradeAfterDays } = merchant.settings.loyalty.tierQualification;
  const heldMs = now.getTime() - (state.since ? Date.parse(state.since) : 0);
  const amountIn = (window: { from: string; to: string }) => readQualifyingAmount(db, merchant.id, state.customerId, metric, window);
  if (downgrade === 'never') return null;
  if (downgrade === 'period_end' && period === 'rolling_12_months') {
    // A tier reached is kept for a whole period; after that, as soon as she no longer qualifies.
    return heldMs < tierRollingPeriodDays * dayMs ? null : amountIn(qualifyingWindowAt(period, now));
  }
  if (downgrade === 'period_end') {
    // Calendar year: a tier reached this year is kept to its end; one reached before is kept while
    // the last completed year (or this one so far) reaches it, i.e. it is reviewed on January 1.
    if (state.since !== null && state.since >= qualifyingWindowAt(period, now).from) return null;
    return Math.max(await amountIn(previousCalendarYear(now)), await amountIn(qualifyingWindowAt(period, now)));
  }
  return amountForAfterDays(db, merchant.id, state, { metric, period, afterDays: downgradeAfterDays }, now);
}

/**
 * after_days: she keeps her tier until, for `afterDays` days in a row, her amount never reached its
 * threshold, and never within `afterDays` days of reaching it. Returns the highest amount she had
 * at any moment of the last `afterDays` days.
 */
async function amountForAfterDays(db: Queryable, merchantId: string, state: TierState, rule: { metric: TierMetric; period: TierPeriod; afterDays: number }, now: Date): Promise<number | null> {
  const heldMs = now.getTime() - (state.since ? Date.parse(state.since) : 0);
  if (heldMs < rule.afterDays * dayMs) return null;
  const from = new Date(now.getTime() - rule.afterDays * dayMs);
  const { events, complete } = await readQualifyingEvents(db, merchantId, state.customerId, rule.metric, { from: qualifyingWindowAt(rule.period, from).from, to: now.toISOString() });
  // Too long a history to replay: she keeps her tier rather than lose it on a guess.
  if (!complete) return null;
  return highestAmountBetween(events, rule.period, from, now);
}

/** The tier she drops to under the downgrade policy at `now`, or null when she keeps hers. */
export async function dueTierDowngrade(db: Queryable, merchant: Merchant, state: TierState, now: Date): Promise<string | null> {
  const amount = await amountForDowngrade(db, merchant, state, now);
  if (amount === null) return null;
  const ladder = tierLadderOf(merchant.settings.loyalty);
  const target = qualifiedTier(ladder, amount);
  const currentRank = tierRank(ladder, state.tier);
  // A tier the program no longer has is replaced by the one she qualifies for.
  return currentRank === -1 || tierRank(ladder, target.name) < currentRank ? target.name : null;
}

/** Decides again under the account's lock (a purchase may have landed since the first look), then moves her down. */
async function downgradeTierIfDue(tx: Tx, merchant: Merchant, customerId: string, now: Date): Promise<boolean> {
  const baseTier = merchant.settings.loyalty.baseTier;
  await lockLoyaltyAccount(tx, merchant.id, customerId, baseTier);
  const state = await readTierState(tx, merchant.id, customerId, baseTier);
  const target = await dueTierDowngrade(tx, merchant, state, now);
  if (target === null) return false;
  assert(await changeTier(tx, merchant.id, customerId, { from: state.tier, to: target, at: now.toISOString() }), 'the locked account still holds the tier just read');
  await emitMerchantEvent(tx, merchant.id, 'loyalty.tier_changed', { customer_id: state.customerId, from: state.tier, to: target, direction: 'down' });
  await announceCustomerChange(tx, merchant.id, customerId);
  return true;
}

async function downgradeMerchantTiers(db: Db, merchant: Merchant, now: Date): Promise<number> {
  let changed = 0;
  let after = '';
  for (let page = 0; page < tierPagesPerRunMax; page += 1) {
    const accounts = await listAccountsAboveBaseTier(db, merchant.id, merchant.settings.loyalty.baseTier, after, tierAccountsPerPageMax);
    for (const account of accounts) {
      if ((await dueTierDowngrade(db, merchant, account, now)) === null) continue;
      if (await db.transaction().execute((tx) => downgradeTierIfDue(tx, merchant, account.customerId, now))) changed += 1;
    }
    if (accounts.length < tierAccountsPerPageMax) break;
    after = accounts[accounts.length - 1]!.customerId;
  }
  return changed;
}

/**
 * The scheduled downgrade job: every merchant whose policy is not `never`, every account above the
 * base tier, in bounded pages. `now` is a parameter so a test can run it in the future.
 * Returns how many customers moved down.
 */
export async function downgradeDueTiers(db: Db, now = new Date()): Promise<number> {
  let changed = 0;
  for (const merchant of await listLoyaltyJobMerchants(db)) {
    if (merchant.settings.loyalty.tierQualification.downgrade === 'never') continue;
    changed += await downgradeMerchantTiers(db, merchant, now);
  }
  return changed;
}

export interface TierProgress {
  name: string;
  since: string | null;
  metric: TierMetric;
  period: TierPeriod;
  qualifyingAmount: number;
  earnMultiplierBps: number;
  nextTier: { name: string; threshold: number; remaining: number } | null;
}

/** Her tier, her qualifying amount in the current period and what the next tier still needs. */
export async function readTierProgress(db: Queryable, merchant: Merchant, customerId: string, now = new Date()): Promise<TierProgress> {
  const program = merchant.settings.loyalty;
  const { metric, period } = program.tierQualification;
  const ladder = tierLadderOf(program);
  const state = await readTierState(db, merchant.id, customerId, program.baseTier);
  const amount = await readQualifyingAmount(db, merchant.id, customerId, metric, qualifyingWindowAt(period, now));
  const next = nextTierAbove(ladder, state.tier, amount);
  return {
    name: state.tier, since: state.since, metric, period, qualifyingAmount: amount, earnMultiplierBps: tierEarnMultiplierBps(ladder, state.tier),
    nextTier: next ? { name: next.tier.name, threshold: next.tier.threshold, remaining: next.remaining } : null,
  };
}
