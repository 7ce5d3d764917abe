import { reuseQuery, type ParameterPlaceholders, type Queryable, type Tx } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { ensureLoyaltyAccount } from './loyalty-ledger.ts';

// Tiers (issue #4): a ladder of named tiers by qualifying spend or points, the base tier at the
// bottom. This file holds the ladder rules (pure) and the tier held on the loyalty account; what
// counts as qualifying spend is read by the caller (src/commands/tier-qualification.ts), since
// orders and returns are not this domain's tables. The rules are written up in
// docs/loyalty-program.md.

export interface TierDefinition {
  name: string;
  /** Qualifying amount needed: minor units of spend, or points, by the program's metric. */
  threshold: number;
  /** Points on purchases are multiplied by this / 10 000 (15 000 = 1.5×). */
  earnMultiplierBps: number;
}

export type TierMetric = 'spend' | 'points';
export type TierPeriod = 'rolling_12_months' | 'calendar_year';
export type TierDowngradePolicy = 'never' | 'period_end' | 'after_days';

/** The program settings tiers read; a merchant's `settings.loyalty` satisfies it. */
export interface TierProgram {
  baseTier: string;
  tiers: readonly TierDefinition[];
  tierQualification: { metric: TierMetric; period: TierPeriod; downgrade: TierDowngradePolicy; downgradeAfterDays: number };
}

/** The multiplier of the base tier and of anyone whose tier is no longer on the ladder: 1×. */
export const baseEarnMultiplierBps = 10_000;
const dayMs = 86_400_000;
/** A rolling qualifying period is the last 365 days, whatever the leap years. */
export const tierRollingPeriodDays = 365;

/**
 * The ladder, lowest first: the base tier at threshold 0 (with its multiplier when the program
 * lists it, otherwise 1×), then the program's other tiers by threshold, ties in list order.
 * Example: baseTier 'Member', tiers [{ name: 'Silver', threshold: 20000, earnMultiplierBps: 15000 }]
 * → [Member 0 ×1, Silver 20000 ×1.5].
 */
export function tierLadderOf(program: TierProgram): TierDefinition[] {
  const listedBase = program.tiers.find((tier) => tier.name === program.baseTier);
  const base: TierDefinition = { name: program.baseTier, threshold: 0, earnMultiplierBps: listedBase?.earnMultiplierBps ?? baseEarnMultiplierBps };
  const others = program.tiers.filter((tier) => tier.name !== program.baseTier).map((tier) => ({ name: tier.name, threshold: tier.threshold, earnMultiplierBps: tier.earnMultiplierBps }));
  return [base, ...others.sort((a, b) => a.threshold - b.threshold)];
}

/** The highest tier whose threshold the amount reaches; the base tier always qualifies. */
export function qualifiedTier(ladder: readonly TierDefinition[], amount: number): TierDefinition {
  assert(ladder.length > 0, 'a ladder has at least the base tier');
  let best = ladder[0]!;
  for (const tier of ladder) if (amount >= tier.threshold) best = tier;
  return best;
}

/** The tier's place on the ladder (0 = base); -1 when the program no longer has a tier of that name. */
export function tierRank(ladder: readonly TierDefinition[], name: string): number {
  return ladder.findIndex((tier) => tier.name === name);
}

/** The rung above the tier held, with how much more qualifying amount it needs; null at the top. */
export function nextTierAbove(ladder: readonly TierDefinition[], currentName: string, amount: number): { tier: TierDefinition; remaining: number } | null {
  const rank = Math.max(tierRank(ladder, currentName), tierRank(ladder, qualifiedTier(ladder, amount).name));
  const next = ladder[rank + 1];
  return next ? { tier: next, remaining: Math.max(0, next.threshold - amount) } : null;
}

/** The earn multiplier of a held tier; a tier the program dropped earns 1×. */
export function tierEarnMultiplierBps(ladder: readonly TierDefinition[], name: string): number {
  return ladder[tierRank(ladder, name)]?.earnMultiplierBps ?? baseEarnMultiplierBps;
}

export interface QualifyingWindow {
  /** Inclusive, ISO-8601 UTC. */
  from: string;
  /** Inclusive, ISO-8601 UTC. */
  to: string;
}

function startOfYearUtc(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), 0, 1));
}

/**
 * The qualifying period that ends at `at`: the last 365 days (rolling), or since January 1 UTC of
 * `at`'s year (calendar year).
 */
export function qualifyingWindowAt(period: TierPeriod, at: Date): QualifyingWindow {
  const from = period === 'calendar_year' ? startOfYearUtc(at) : new Date(at.getTime() - tierRollingPeriodDays * dayMs);
  return { from: from.toISOString(), to: at.toISOString() };
}

/** The calendar year before `at`'s, whole: the period that ended on the last January 1. */
export function previousCalendarYear(at: Date): QualifyingWindow {
  const start = startOfYearUtc(at);
  return { from: new Date(Date.UTC(at.getUTCFullYear() - 1, 0, 1)).toISOString(), to: new Date(start.getTime() - 1).toISOString() };
}

/** A dated change of qualifying amount: an order's net merchandise, or points earned (negative when reversed). */
export interface QualifyingEvent {
  at: string;
  amount: number;
}

/**
 * The highest qualifying amount she had at any moment in [from, to]. The amount in the window
 * ending at t only rises when an event enters it, so the highest is reached at `from` or at one of
 * the events inside the interval; each candidate is summed over its own window.
 * Example: rolling, one 250.00 order on day 0, interval days 380–410 → 0 (it left the window on day 365).
 */
export function highestAmountBetween(events: readonly QualifyingEvent[], period: TierPeriod, from: Date, to: Date): number {
  const candidates = [from, ...events.filter((event) => event.at > from.toISOString() && event.at <= to.toISOString()).map((event) => new Date(event.at))];
  let highest = Number.NEGATIVE_INFINITY;
  for (const candidate of candidates) {
    const window = qualifyingWindowAt(period, candidate);
    const amount = events.filter((event) => event.at >= window.from && event.at <= window.to).reduce((sum, event) => sum + event.amount, 0);
    highest = Math.max(highest, amount);
  }
  return highest;
}

export interface TierState {
  customerId: string;
  tier: string;
  /** When she reached the tier she holds; null for a base tier never changed. */
  since: string | null;
}

// Read by every order, built and compiled once: Kysely's building and compiling cost ~70 µs of CPU
// per statement (found by bench/orders-end-to-end.ts, issue #9).
const tierStateOf = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerId: string }>) => db
  .selectFrom('loyalty_accounts').select(['tier', 'tier_since']).where('merchant_id', '=', param('merchantId')).where('customer_id', '=', param('customerId')));

/** The tier an account holds; the base tier when she has no account yet. */
export async function readTierState(db: Queryable, merchantId: string, customerId: string, baseTier: string): Promise<TierState> {
  const [row] = await tierStateOf.execute(db, { merchantId, customerId });
  return { customerId, tier: row?.tier ?? baseTier, since: row?.tier_since ?? null };
}

/**
 * The tier a customer holds and what it gives, for other domains (member-only promotions, #6).
 * Example: `const { name, earnMultiplierBps } = await tierOf(db, merchant.id, merchant.settings.loyalty, customerId)`.
 */
export async function tierOf(db: Queryable, merchantId: string, program: TierProgram, customerId: string): Promise<{ name: string; since: string | null; rank: number; earnMultiplierBps: number }> {
  const ladder = tierLadderOf(program);
  const state = await readTierState(db, merchantId, customerId, program.baseTier);
  return { name: state.tier, since: state.since, rank: tierRank(ladder, state.tier), earnMultiplierBps: tierEarnMultiplierBps(ladder, state.tier) };
}

/**
 * Takes the account row's write lock before a tier decision, by an update that changes nothing:
 * on PostgreSQL a concurrent order of the same customer waits, so the qualifying amount read next
 * includes everything committed before. SQLite transactions already hold the database's write lock.
 */
export async function lockLoyaltyAccount(tx: Tx, merchantId: string, customerId: string, baseTier: string): Promise<void> {
  await ensureLoyaltyAccount(tx, merchantId, customerId, baseTier);
  const result = await tx.updateTable('loyalty_accounts').set((eb) => ({ tier: eb.ref('tier') })).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
  assert(Number(result.numUpdatedRows) === 1, 'the account to lock exists');
}

/** Moves an account from one tier to another, only if it still holds `from` (compare-and-swap). */
export async function changeTier(tx: Tx, merchantId: string, customerId: string, change: { from: string; to: string; at: string }): Promise<boolean> {
  assert(change.from !== change.to, 'a tier change changes the tier');
  const result = await tx
    .updateTable('loyalty_accounts')
    .set({ tier: change.to, tier_since: change.at, updated_at: change.at })
    .where('merchant_id', '=', merchantId)
    .where('customer_id', '=', customerId)
    .where('tier', '=', change.from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Accounts holding a tier other than the base one, by customer id after `afterCustomerId` (keyset pages). */
export async function listAccountsAboveBaseTier(db: Queryable, merchantId: string, baseTier: string, afterCustomerId: string, limit: number): Promise<TierState[]> {
  const rows = await db
    .selectFrom('loyalty_accounts')
    .select(['customer_id', 'tier', 'tier_since'])
    .where('merchant_id', '=', merchantId)
    .where('tier', '<>', baseTier)
    .where('customer_id', '>', afterCustomerId)
    .orderBy('customer_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ customerId: row.customer_id, tier: row.tier, since: row.tier_since }));
}
