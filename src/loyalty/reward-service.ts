import type { Queryable, RewardsTable, Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

/**
 * What a reward gives: an amount off, a percentage of the merchandise left after promotions, one
 * unit of a product free, or free shipping (online only: a register ships nothing).
 */
export type RewardKind = 'amount_off' | 'percent_off' | 'free_product' | 'free_shipping';
export const rewardKinds: readonly RewardKind[] = ['amount_off', 'percent_off', 'free_product', 'free_shipping'];

export const percentOffBpsMax = 10_000;
export const rewardAmountOffMinorMax = 100_000_000;
export const rewardPointsCostMax = 10_000_000;
export const rewardUsesMax = 100_000_000;

// The `rewards_positive` CHECK of migration 0001 (`amount_off_minor > 0`) predates reward kinds and
// holds for every row. Kinds other than amount off store this placeholder and read back null; a
// migration that relaxes the check to amount-off rewards would let them store null (issue #4).
const amountOffPlaceholderMinor = 1;

export interface Reward {
  id: string;
  code: string;
  name: string;
  kind: RewardKind;
  pointsCost: number;
  /** Minor units taken off (amount_off only; null otherwise). */
  amountOffMinor: number | null;
  /** Basis points of the merchandise left after promotions (percent_off only). */
  percentOffBps: number | null;
  /** The SKU of which one unit is free (free_product only). */
  freeSku: string | null;
  /** How many times one customer may redeem it, across channels; null = no limit. */
  perCustomerMax: number | null;
  /** How many times it may be redeemed in all; null = no limit. */
  totalMax: number | null;
  active: boolean;
}

export interface RewardInput {
  code: string;
  name: string;
  pointsCost: number;
  /** Default `amount_off`. */
  kind?: RewardKind;
  amountOffMinor?: number | null;
  percentOffBps?: number | null;
  freeSku?: string | null;
  perCustomerMax?: number | null;
  totalMax?: number | null;
}

function isRewardKind(value: string): value is RewardKind {
  return (rewardKinds as readonly string[]).includes(value);
}

function toReward(row: RewardsTable): Reward {
  assert(isRewardKind(row.kind), `reward ${row.id} has a known kind`);
  return {
    id: row.id, code: row.code, name: row.name, kind: row.kind, pointsCost: row.points_cost,
    amountOffMinor: row.kind === 'amount_off' ? row.amount_off_minor : null,
    percentOffBps: row.kind === 'percent_off' ? row.percent_off_bps : null,
    freeSku: row.kind === 'free_product' ? row.free_sku : null,
    perCustomerMax: row.per_customer_max, totalMax: row.total_max, active: row.active === 1,
  };
}

function invalid(field: string, rule: string, message: string): AppError {
  return new AppError('loyalty.invalid_reward', message, { field, rule });
}

function checkPositiveInteger(value: number | null | undefined, field: string, max: number): void {
  if (value === null || value === undefined) return;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw invalid(field, 'range', `${field} is an integer from 1 to ${max}`);
}

/** Each kind needs its own value and no other kind's; the error names the field (snake_case, as in the API). */
function checkKindValues(kind: RewardKind, input: RewardInput): void {
  const given = { amount_off_minor: input.amountOffMinor, percent_off_bps: input.percentOffBps, free_sku: input.freeSku };
  const needed: Record<RewardKind, keyof typeof given | null> = { amount_off: 'amount_off_minor', percent_off: 'percent_off_bps', free_product: 'free_sku', free_shipping: null };
  for (const [field, value] of Object.entries(given)) {
    const present = value !== null && value !== undefined;
    if (field === needed[kind] && !present) throw invalid(field, 'required', `A ${kind} reward needs ${field}`);
    if (field !== needed[kind] && present) throw invalid(field, 'not_allowed', `A ${kind} reward takes no ${field}`);
  }
  checkPositiveInteger(input.amountOffMinor, 'amount_off_minor', rewardAmountOffMinorMax);
  checkPositiveInteger(input.percentOffBps, 'percent_off_bps', percentOffBpsMax);
  if (input.freeSku !== null && input.freeSku !== undefined && input.freeSku.trim().length === 0) throw invalid('free_sku', 'required', 'free_sku names a SKU');
}

/**
 * Adds a reward to the catalogue. Example:
 * `await createReward(db, merchantId, { code: '10-PCT', name: '10 % off', pointsCost: 300, kind: 'percent_off', percentOffBps: 1000, perCustomerMax: 1 })`.
 */
export async function createReward(db: Queryable, merchantId: string, input: RewardInput): Promise<Reward> {
  const kind = input.kind ?? 'amount_off';
  checkPositiveInteger(input.pointsCost, 'points_cost', rewardPointsCostMax);
  checkKindValues(kind, input);
  checkPositiveInteger(input.perCustomerMax, 'per_customer_max', rewardUsesMax);
  checkPositiveInteger(input.totalMax, 'total_max', rewardUsesMax);
  const existing = await db.selectFrom('rewards').select('id').where('merchant_id', '=', merchantId).where('code', '=', input.code).executeTakeFirst();
  if (existing) throw new AppError('loyalty.duplicate_reward', `A reward with code ${input.code} exists`, { field: 'code' });
  const row: RewardsTable = {
    id: newId('rwd'), merchant_id: merchantId, code: input.code, name: input.name, points_cost: input.pointsCost,
    amount_off_minor: kind === 'amount_off' ? input.amountOffMinor ?? 0 : amountOffPlaceholderMinor, active: 1, created_at: nowIso(), kind,
    percent_off_bps: input.percentOffBps ?? null, free_sku: input.freeSku?.trim() ?? null, per_customer_max: input.perCustomerMax ?? null, total_max: input.totalMax ?? null,
  };
  await db.insertInto('rewards').values(row).execute();
  return toReward(row);
}

export async function listRewards(db: Queryable, merchantId: string): Promise<Reward[]> {
  return (await db.selectFrom('rewards').selectAll().where('merchant_id', '=', merchantId).orderBy('points_cost').execute()).map(toReward);
}

/** Finds an active reward by its id or its code. */
export async function findActiveReward(db: Queryable, merchantId: string, idOrCode: string): Promise<Reward> {
  const row = await db.selectFrom('rewards').selectAll().where('merchant_id', '=', merchantId).where((eb) => eb.or([eb('id', '=', idOrCode), eb('code', '=', idOrCode)])).where('active', '=', 1).executeTakeFirst();
  if (!row) throw new AppError('loyalty.unknown_reward', `No active reward ${idOrCode}`, { field: 'rewards', reward: idOrCode });
  return toReward(row);
}

/** A reward by id whatever its state: a code already paid for keeps its value if the reward is retired since. */
export async function getReward(db: Queryable, merchantId: string, rewardId: string): Promise<Reward> {
  const row = await db.selectFrom('rewards').selectAll().where('merchant_id', '=', merchantId).where('id', '=', rewardId).executeTakeFirst();
  if (!row) throw new AppError('loyalty.reward_not_found', `No reward ${rewardId}`, { reward_id: rewardId });
  return toReward(row);
}

export function hasRedemptionLimits(reward: Reward): boolean {
  return reward.perCustomerMax !== null || reward.totalMax !== null;
}

/**
 * Takes the reward's row lock until the transaction ends, by a write that changes nothing, so two
 * redemptions of a limited reward count its uses one after the other (SQLite transactions already
 * run one at a time; on PostgreSQL the second waits here, then counts what the first committed).
 */
export async function lockRewardForRedemption(tx: Tx, merchantId: string, rewardId: string): Promise<void> {
  const result = await tx.updateTable('rewards').set((eb) => ({ active: eb.ref('active') })).where('merchant_id', '=', merchantId).where('id', '=', rewardId).executeTakeFirst();
  assert(Number(result.numUpdatedRows) === 1, `reward ${rewardId} exists to be locked`);
}
