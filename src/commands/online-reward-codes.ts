import { findExternalId, findVariantBySku } from '../catalog/index.ts';
import { getCustomerIdentity } from '../customers/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import {
  closeRewardCode, findActiveReward, findRedeemedPoints, findRewardCode, getLoyaltyBalance, getReward, getRewardCode, getRewardCodeById, issueRewardCode, listRewardCodes,
  redeemPoints, restorePoints, rewardCodeCancellationKey, rewardCodeRedemptionKey, type LoyaltyBalance, type Reward, type RewardCode,
} from '../loyalty/index.ts';
import { listChannelAccounts, type Merchant } from '../merchants/index.ts';
import type { Order } from '../orders/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { emitMerchantEvent, enqueueOutbox, raiseException, type ExceptionKind } from '../sync/index.ts';
import { announceCustomerChange } from './announce-changes.ts';
import { assertRewardLimits } from './reward-limits.ts';

// Online redemption (issue #4): points are spent when the code is issued, the code is pushed to
// Shopify as a single-use discount through the outbox, an order that uses it marks it used, and an
// unused code can be cancelled for its points back (and deactivated in Shopify).

const rewardCodeReusedKind: ExceptionKind = 'reward_code_reused';

export function rewardCodeView(code: RewardCode, reward: Reward) {
  return {
    id: code.id, code: code.code, state: code.state, customer_id: code.customerId, order_id: code.orderId, created_at: code.createdAt, closed_at: code.closedAt,
    reward: { id: reward.id, code: reward.code, name: reward.name, kind: reward.kind, points_cost: reward.pointsCost },
  };
}

export type RewardCodeView = ReturnType<typeof rewardCodeView>;

async function hasShopify(tx: Queryable, merchantId: string): Promise<boolean> {
  return (await listChannelAccounts(tx, merchantId, 'shopify')).length > 0;
}

/** A free product can be given online only when the store sells it there: a variant with that SKU, mapped to Shopify. */
async function assertFreeProductOnline(tx: Tx, merchantId: string, reward: Reward, shopifyConnected: boolean): Promise<void> {
  assert(reward.freeSku !== null, 'a free-product reward names its SKU');
  const variant = await findVariantBySku(tx, merchantId, reward.freeSku);
  const sold = variant && (!shopifyConnected || (await findExternalId(tx, merchantId, 'variant', variant.id, 'shopify')) !== undefined);
  if (!sold) throw new AppError('loyalty.reward_not_applicable', `Reward ${reward.code} gives ${reward.freeSku}, which the online store does not sell`, { field: 'reward', reward: reward.code, sku: reward.freeSku });
}

/**
 * Redeems a reward for a single-use discount code: the points are spent now (key
 * `reward-code:<id>:redeem`), the code is stored as issued, and a `discount.create` message tells
 * Shopify. Limits are checked under the reward's lock; an overdraw is 409 `loyalty.insufficient_points`.
 */
export async function redeemRewardForCode(tx: Tx, merchant: Merchant, input: { customerId: string; rewardRef: string }): Promise<{ rewardCode: RewardCode; reward: Reward; loyalty: LoyaltyBalance }> {
  const customer = await getCustomerIdentity(tx, merchant.id, input.customerId);
  if (customer.state !== 'active') throw new AppError('customers.state_conflict', `Customer ${customer.id} is ${customer.state}; only an active profile redeems`, { customer_id: customer.id, state: customer.state, merged_into: customer.mergedInto });
  const reward = await findActiveReward(tx, merchant.id, input.rewardRef);
  const shopifyConnected = await hasShopify(tx, merchant.id);
  if (reward.kind === 'free_product') await assertFreeProductOnline(tx, merchant.id, reward, shopifyConnected);
  await assertRewardLimits(tx, merchant.id, customer.id, [{ reward, count: 1 }]);
  const rewardCode = await issueRewardCode(tx, merchant.id, { customerId: customer.id, rewardId: reward.id });
  const baseTier = merchant.settings.loyalty.baseTier;
  await redeemPoints(tx, merchant.id, baseTier, { customerId: customer.id, points: reward.pointsCost, idempotencyKey: rewardCodeRedemptionKey(rewardCode.id), memo: `Redeemed ${reward.name} as code ${rewardCode.code}` });
  await emitMerchantEvent(tx, merchant.id, 'loyalty.reward_redeemed', { customer_id: customer.id, reward: reward.code, points: reward.pointsCost, channel: 'online', code: rewardCode.code });
  if (shopifyConnected) await enqueueOutbox(tx, merchant.id, { destination: 'shopify', kind: 'discount.create', coalesceKey: null, payload: { reward_code_id: rewardCode.id } });
  await announceCustomerChange(tx, merchant.id, customer.id);
  return { rewardCode, reward, loyalty: await getLoyaltyBalance(tx, merchant.id, customer.id, baseTier) };
}

function codeConflict(code: RewardCode, wanted: string): AppError {
  const onOrder = code.orderId ? ` on order ${code.orderId}` : '';
  return new AppError('loyalty.reward_code_conflict', `Reward code ${code.code} is already ${code.state}${onOrder}; ${wanted}`, { code: code.code, state: code.state, order_id: code.orderId });
}

/**
 * Cancels an unused code: issued → cancelled (409 `loyalty.reward_code_conflict` when used or
 * cancelled already), the points go back into the lots that paid for it (key
 * `reward-code:<id>:cancel`), and a `discount.deactivate` message tells Shopify to stop accepting it.
 */
export async function cancelRewardCode(tx: Tx, merchant: Merchant, input: { code: string }): Promise<{ rewardCode: RewardCode; reward: Reward; pointsRestored: number; loyalty: LoyaltyBalance }> {
  const found = await getRewardCode(tx, merchant.id, input.code);
  if (!(await closeRewardCode(tx, merchant.id, found.id, { state: 'cancelled' }))) throw codeConflict(await getRewardCodeById(tx, merchant.id, found.id), 'only an issued code can be cancelled');
  const reward = await getReward(tx, merchant.id, found.rewardId);
  const points = await findRedeemedPoints(tx, merchant.id, found.id);
  assert(points !== undefined, `the redemption of reward code ${found.code} was posted with the code`);
  const baseTier = merchant.settings.loyalty.baseTier;
  await restorePoints(tx, merchant.id, baseTier, { customerId: found.customerId, points, idempotencyKey: rewardCodeCancellationKey(found.id), redemptionKey: rewardCodeRedemptionKey(found.id), memo: `Reward code ${found.code} cancelled` });
  if (await hasShopify(tx, merchant.id)) await enqueueOutbox(tx, merchant.id, { destination: 'shopify', kind: 'discount.deactivate', coalesceKey: null, payload: { reward_code_id: found.id } });
  await announceCustomerChange(tx, merchant.id, found.customerId);
  const rewardCode = await getRewardCodeById(tx, merchant.id, found.id);
  return { rewardCode, reward, pointsRestored: points, loyalty: await getLoyaltyBalance(tx, merchant.id, found.customerId, baseTier) };
}

/**
 * Whether a code typed at the register is an issued reward code of this sale's customer. Another
 * customer's code reads as unknown (the register learns nothing about it); a used or cancelled one
 * of hers is 409 `loyalty.reward_code_conflict`.
 */
export async function findUsableRewardCode(tx: Queryable, merchantId: string, typed: string, customerId: string | null): Promise<{ rewardCode: RewardCode; reward: Reward } | undefined> {
  const rewardCode = await findRewardCode(tx, merchantId, typed);
  if (!rewardCode) return undefined;
  if (customerId === null) throw new AppError('loyalty.customer_required', `Reward code ${rewardCode.code} is redeemed by the customer it was issued to: name her`, { field: 'customer', code: rewardCode.code });
  if (rewardCode.customerId !== customerId) return undefined;
  if (rewardCode.state !== 'issued') throw codeConflict(rewardCode, 'a reward code is used once');
  return { rewardCode, reward: await getReward(tx, merchantId, rewardCode.rewardId) };
}

/**
 * A register sale used the code: mark it, or refuse the sale (409) when another sale took it first.
 * Shopify may already accept the code online, so it is told to stop, as for a cancellation.
 */
export async function useRewardCodeOnSale(tx: Tx, merchantId: string, rewardCode: RewardCode, orderId: string): Promise<void> {
  if (!(await closeRewardCode(tx, merchantId, rewardCode.id, { state: 'used', orderId }))) throw codeConflict(await getRewardCodeById(tx, merchantId, rewardCode.id), 'a reward code is used once');
  if (await hasShopify(tx, merchantId)) await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'discount.deactivate', coalesceKey: null, payload: { reward_code_id: rewardCode.id } });
}

/**
 * A channel order that used reward codes (Shopify `discount_codes`): each issued code is marked used
 * by the order. The channel already granted the discount, so a code used or cancelled before is
 * recorded as it happened and raises a `reward_code_reused` exception for a person.
 */
export async function markRewardCodesUsedByOrder(tx: Tx, merchantId: string, order: Order, typedCodes: string[]): Promise<void> {
  for (const typed of typedCodes) {
    const rewardCode = await findRewardCode(tx, merchantId, typed);
    if (!rewardCode) continue;
    if (await closeRewardCode(tx, merchantId, rewardCode.id, { state: 'used', orderId: order.id })) continue;
    const current = await getRewardCodeById(tx, merchantId, rewardCode.id);
    await raiseException(tx, merchantId, {
      kind: rewardCodeReusedKind,
      dedupeKey: `reward_code_reused:${rewardCode.id}:${order.id}`,
      subject: rewardCode.code,
      details: { reward_code_id: rewardCode.id, code: rewardCode.code, state: current.state, first_order_id: current.orderId, order_id: order.id, order_customer_id: order.customerId, code_customer_id: rewardCode.customerId },
    });
  }
}

/** A customer's reward codes, newest first, with what each gives. */
export async function describeRewardCodes(db: Queryable, merchant: Merchant, customerId: string): Promise<RewardCodeView[]> {
  const customer = await getCustomerIdentity(db, merchant.id, customerId);
  const codes = await listRewardCodes(db, merchant.id, customer.id);
  const rewards = new Map<string, Reward>();
  for (const code of codes) if (!rewards.has(code.rewardId)) rewards.set(code.rewardId, await getReward(db, merchant.id, code.rewardId));
  return codes.map((code) => {
    const reward = rewards.get(code.rewardId);
    assert(reward, `reward ${code.rewardId} of code ${code.code} was read`);
    return rewardCodeView(code, reward);
  });
}
