import type { Queryable, Tx } from '../db/index.ts';
import { countLiveRewardCodes, countRewardHandovers, hasRedemptionLimits, lockRewardForRedemption, type Reward } from '../loyalty/index.ts';
import { AppError } from '../shared/app-error.ts';

/**
 * Redemptions of a reward so far, across channels: rewards redeemed directly on a sale (an order
 * discount naming the reward), codes issued for online use and not cancelled, and rewards an
 * offline register handed over without a sale. A code used at the register is recorded on the
 * order without the reward's id, so it is counted once, as a code.
 */
export async function countRewardRedemptions(db: Queryable, merchantId: string, rewardId: string, customerId: string | null): Promise<number> {
  let direct = db
    .selectFrom('order_discounts')
    .innerJoin('orders', (join) => join.onRef('orders.id', '=', 'order_discounts.order_id').onRef('orders.merchant_id', '=', 'order_discounts.merchant_id'))
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('order_discounts.merchant_id', '=', merchantId)
    .where('order_discounts.kind', '=', 'reward')
    .where('order_discounts.reward_id', '=', rewardId);
  if (customerId !== null) direct = direct.where('orders.customer_id', '=', customerId);
  const directCount = Number((await direct.executeTakeFirstOrThrow()).count);
  return directCount + (await countLiveRewardCodes(db, merchantId, rewardId, customerId)) + (await countRewardHandovers(db, merchantId, rewardId, customerId));
}

/**
 * Refuses (409 `loyalty.reward_limit_reached`) when redeeming `uses` more of each reward would pass
 * its per-customer or total limit. Limited rewards are locked first, in id order so two sales
 * naming the same rewards in another order cannot deadlock, and counted after the lock, so
 * concurrent redemptions cannot both take the last use (the check-then-write race).
 */
export async function assertRewardLimits(tx: Tx, merchantId: string, customerId: string, uses: { reward: Reward; count: number }[]): Promise<void> {
  const limited = [...new Map(uses.filter((use) => hasRedemptionLimits(use.reward)).map((use) => [use.reward.id, use.reward])).values()].sort((a, b) => a.id.localeCompare(b.id));
  for (const reward of limited) await lockRewardForRedemption(tx, merchantId, reward.id);
  for (const reward of limited) {
    const wanted = uses.filter((use) => use.reward.id === reward.id).reduce((sum, use) => sum + use.count, 0);
    if (reward.perCustomerMax !== null) {
      const used = await countRewardRedemptions(tx, merchantId, reward.id, customerId);
      if (used + wanted > reward.perCustomerMax) throw limitReached(reward, 'per_customer_max', reward.perCustomerMax, used, customerId);
    }
    if (reward.totalMax !== null) {
      const used = await countRewardRedemptions(tx, merchantId, reward.id, null);
      if (used + wanted > reward.totalMax) throw limitReached(reward, 'total_max', reward.totalMax, used, customerId);
    }
  }
}

function limitReached(reward: Reward, limit: 'per_customer_max' | 'total_max', max: number, used: number, customerId: string): AppError {
  const whose = limit === 'per_customer_max' ? 'by this customer' : 'in all';
  return new AppError('loyalty.reward_limit_reached', `Reward ${reward.code} may be redeemed ${max} time(s) ${whose}; it has been redeemed ${used}`, { reward: reward.code, limit, max, used, customer_id: customerId });
}
