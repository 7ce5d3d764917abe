import { sql } from 'kysely';
import type { Queryable } from '../db/index.ts';
import { toInteger, type ReportPeriod } from './report-period.ts';

/** Rewards redeemed in one channel over the period, and the points they cost. */
export interface RewardRow {
  channel: string;
  reward_code: string;
  redemptions: number;
  points: number;
}

/**
 * Rewards taken in the period, by channel: on orders placed in it (cancelled orders not counted),
 * a reward given at the register or on a pickup order (the order's reward discount) and a reward
 * code issued online and used on an order of any channel (counted where it was used); and rewards
 * an offline register handed over without a sale, in the store channel at the time of the
 * handover. Points are the reward's price. A reward code not used yet is not counted.
 */
export async function reportRewards(db: Queryable, merchantId: string, period: ReportPeriod): Promise<RewardRow[]> {
  const onOrders = await db
    .selectFrom('order_discounts')
    .innerJoin('orders', (join) => join.onRef('orders.merchant_id', '=', 'order_discounts.merchant_id').onRef('orders.id', '=', 'order_discounts.order_id'))
    .innerJoin('rewards', (join) => join.onRef('rewards.merchant_id', '=', 'order_discounts.merchant_id').onRef('rewards.id', '=', 'order_discounts.reward_id'))
    .select((eb) => ['orders.channel', 'rewards.code', eb.fn.countAll().as('redemptions'), eb.fn.sum('rewards.points_cost').as('points')])
    .where('order_discounts.merchant_id', '=', merchantId)
    .where('order_discounts.kind', '=', 'reward')
    .where('orders.placed_at', '>=', period.startIso)
    .where('orders.placed_at', '<', period.endIso)
    .where('orders.cancelled_at', 'is', null)
    .groupBy(['orders.channel', 'rewards.code'])
    .execute();
  const byCode = await db
    .selectFrom('reward_codes')
    .innerJoin('orders', (join) => join.onRef('orders.merchant_id', '=', 'reward_codes.merchant_id').onRef('orders.id', '=', 'reward_codes.order_id'))
    .innerJoin('rewards', (join) => join.onRef('rewards.merchant_id', '=', 'reward_codes.merchant_id').onRef('rewards.id', '=', 'reward_codes.reward_id'))
    .select((eb) => ['orders.channel', 'rewards.code', eb.fn.countAll().as('redemptions'), eb.fn.sum('rewards.points_cost').as('points')])
    .where('reward_codes.merchant_id', '=', merchantId)
    .where('reward_codes.state', '=', 'used')
    .where('orders.placed_at', '>=', period.startIso)
    .where('orders.placed_at', '<', period.endIso)
    .where('orders.cancelled_at', 'is', null)
    .groupBy(['orders.channel', 'rewards.code'])
    .execute();
  // Handed over by an offline register without a sale: counted in the store channel, when it happened.
  const handedOver = await db
    .selectFrom('reward_handovers')
    .innerJoin('rewards', (join) => join.onRef('rewards.merchant_id', '=', 'reward_handovers.merchant_id').onRef('rewards.id', '=', 'reward_handovers.reward_id'))
    .select((eb) => [sql<string>`'store'`.as('channel'), 'rewards.code', eb.fn.countAll().as('redemptions'), eb.fn.sum('rewards.points_cost').as('points')])
    .where('reward_handovers.merchant_id', '=', merchantId)
    .where('reward_handovers.handed_over_at', '>=', period.startIso)
    .where('reward_handovers.handed_over_at', '<', period.endIso)
    .groupBy('rewards.code')
    .execute();
  const rows = new Map<string, RewardRow>();
  for (const group of [...onOrders, ...byCode, ...handedOver]) {
    const key = `${group.channel}\u0000${group.code}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { channel: group.channel, reward_code: group.code, redemptions: 0, points: 0 }));
    row.redemptions += toInteger(group.redemptions);
    row.points += toInteger(group.points);
  }
  return [...rows.values()].sort((a, b) => a.channel.localeCompare(b.channel) || a.reward_code.localeCompare(b.reward_code));
}
