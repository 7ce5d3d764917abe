import type { Queryable, RewardsTable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export interface Reward {
  id: string;
  code: string;
  name: string;
  pointsCost: number;
  amountOffMinor: number;
  active: boolean;
}

function toReward(row: RewardsTable): Reward {
  return { id: row.id, code: row.code, name: row.name, pointsCost: row.points_cost, amountOffMinor: row.amount_off_minor, active: row.active === 1 };
}

export async function createReward(db: Queryable, merchantId: string, input: { code: string; name: string; pointsCost: number; amountOffMinor: number }): Promise<Reward> {
  const existing = await db.selectFrom('rewards').select('id').where('merchant_id', '=', merchantId).where('code', '=', input.code).executeTakeFirst();
  if (existing) throw new AppError('loyalty.duplicate_reward', `A reward with code ${input.code} exists`, { field: 'code' });
  const row: RewardsTable = { id: newId('rwd'), merchant_id: merchantId, code: input.code, name: input.name, points_cost: input.pointsCost, amount_off_minor: input.amountOffMinor, active: 1, created_at: nowIso(), kind: 'amount_off', percent_off_bps: null, free_sku: null, per_customer_max: null, total_max: null };
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
