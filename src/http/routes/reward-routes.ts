import { z } from 'zod';
import { cancelRewardCode, describeRewardCodes, redeemRewardForCode, rewardCodeView } from '../../commands/index.ts';
import type { LoyaltyBalance } from '../../loyalty/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const identifier = z.string().trim().min(1).max(100);

function balanceView(balance: LoyaltyBalance) {
  return { available: balance.available, pending: balance.pending, tier: balance.tier };
}

/** Online redemption: rewards redeemed for single-use codes pushed to Shopify, their cancellation, and the list. */
export function registerRewardRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;

  app.post('/v1/customers/:id/rewards/:reward/redeem', {
    config: { scope: 'pos' },
    schema: {
      summary: 'Redeem a reward for a single-use discount code: the points are spent now and the code is pushed to Shopify', tags: ['loyalty'],
      params: z.object({ id: identifier, reward: identifier.describe('The reward id or code') }),
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const result = await db.transaction().execute((tx) => redeemRewardForCode(tx, merchant, { customerId: request.params.id, rewardRef: request.params.reward }));
    worker.wake();
    return reply.code(201).send({ data: { reward_code: rewardCodeView(result.rewardCode, result.reward), points_redeemed: result.reward.pointsCost, loyalty: balanceView(result.loyalty) } });
  });

  app.post('/v1/reward-codes/:code/cancel', {
    config: { scope: 'pos' },
    schema: { summary: 'Cancel an unused reward code: its points come back and Shopify stops accepting it', tags: ['loyalty'], params: z.object({ code: identifier }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    const result = await db.transaction().execute((tx) => cancelRewardCode(tx, merchant, { code: request.params.code }));
    worker.wake();
    return { data: { reward_code: rewardCodeView(result.rewardCode, result.reward), points_restored: result.pointsRestored, loyalty: balanceView(result.loyalty) } };
  });

  app.get('/v1/customers/:id/reward-codes', {
    config: { scope: 'read' },
    schema: { summary: 'Her reward codes, newest first: issued, used (with the order) or cancelled', tags: ['loyalty'], params: z.object({ id: identifier }) },
  }, async (request) => ({ data: await describeRewardCodes(db, merchantOf(request), request.params.id) }));
}
