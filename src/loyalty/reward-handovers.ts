import type { Queryable, Tx } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

/** A reward an offline register handed over without a sale, as its operation described it. */
export interface RewardHandover {
  customerId: string;
  rewardId: string;
  locationId: string | null;
  registerId: string;
  opId: string;
  handedOverAt: string;
}

/**
 * Keeps the handover so the reward's limits count it. One row per register operation: the
 * operation applies once (pos_offline_ops), and the unique key says so again.
 */
export async function recordRewardHandover(tx: Tx, merchantId: string, handover: RewardHandover): Promise<void> {
  await tx.insertInto('reward_handovers').values({
    merchant_id: merchantId, id: newId('rwh'), customer_id: handover.customerId, reward_id: handover.rewardId, location_id: handover.locationId,
    register_id: handover.registerId, op_id: handover.opId, handed_over_at: handover.handedOverAt, created_at: nowIso(),
  }).execute();
}

/** Handovers of a reward, in all (customerId null) or to one customer. */
export async function countRewardHandovers(db: Queryable, merchantId: string, rewardId: string, customerId: string | null): Promise<number> {
  let query = db.selectFrom('reward_handovers').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('reward_id', '=', rewardId);
  if (customerId !== null) query = query.where('customer_id', '=', customerId);
  return Number((await query.executeTakeFirstOrThrow()).count);
}
