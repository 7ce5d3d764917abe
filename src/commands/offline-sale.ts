import { findVariantBySku, type Variant } from '../catalog/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import {
  adjustPoints, findActiveReward, findRewardCode, getLoyaltyBalance, getReward, getRewardCodeById, redeemPoints,
  type LoyaltyPosting, type Reward, type RewardCode,
} from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { findPromotion, type AppliedPromotion } from '../promotions/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { allocateMinor } from '../shared/money.ts';
import type { AppliedReward, PricedCart, PricedLine } from './price-cart.ts';
import { useRewardCodeOnSale } from './online-reward-codes.ts';
import { assertRewardLimits } from './reward-limits.ts';

// A sale a register made while it could not reach Continuum (docs/pos-offline.md). It happened:
// the shopper left with the goods, so the engine records it as the register charged it and
// refuses nothing. What a live sale would have been refused for comes back as a conflict, which
// the upload raises as an `offline_conflict` exception for a person.

/** What a sale made offline did that a live sale would have been refused for. */
export type SaleConflict =
  /** The shelf was empty here (sold online or at another register meanwhile): available is now below zero. */
  | { kind: 'oversold'; sku: string; variantId: string; locationId: string; quantity: number; availableAfter: number }
  /** A reward paid with points her balance no longer held (another register redeemed them first). */
  | { kind: 'points_overdrawn'; reward: string; points: number; balanceAfter: number; pointsForgiven: number }
  /** A reward redeemed past its per-customer or total limit. */
  | { kind: 'reward_limit'; reward: string; limit: string; max: number; used: number }
  /** An online reward code used or cancelled before this sale used it. */
  | { kind: 'reward_code_reused'; code: string; state: string; firstOrderId: string | null }
  /** A promotion the register applied past its usage limit. */
  | { kind: 'promotion_limit'; promotion: string; limit: string; max: number; used: number };

/** What the register charged for an offline sale: its own prices and discounts, taken as given. */
export interface ChargedSale {
  lines: { sku: string; quantity: number; unitPriceMinor: number; discountMinor: number; taxMinor: number }[];
  /** Promotions applied, by id or code, each with what it took off the sale in all. */
  promotions: { promotion: string; amountMinor: number }[];
  /** Rewards redeemed (a reward's id or code, or an online reward code), each with what it took off. */
  rewards: { reward: string; amountMinor: number }[];
  /** The total the register charged, if it sent one: checked against the lines. */
  totalMinor: number | null;
}

function invalidTotals(message: string, details: Record<string, unknown>): AppError {
  return new AppError('pos.invalid_totals', message, details);
}

/** The lines of a charged sale add up: discounts within each line, and the named discounts equal the lines' discounts. */
function assertChargedAddsUp(charged: ChargedSale): void {
  for (const [index, line] of charged.lines.entries()) {
    if (line.discountMinor > line.unitPriceMinor * line.quantity) throw invalidTotals(`Line ${index + 1} is discounted by more than its price`, { field: `lines.${index}.discount_minor` });
  }
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const lineDiscountMinor = sum(charged.lines.map((line) => line.discountMinor));
  const namedMinor = sum(charged.promotions.map((use) => use.amountMinor)) + sum(charged.rewards.map((use) => use.amountMinor));
  if (namedMinor !== lineDiscountMinor) {
    throw invalidTotals(`The promotions and rewards take off ${namedMinor}, the lines' discounts add up to ${lineDiscountMinor}`, { field: 'discounts', named_minor: namedMinor, line_discount_minor: lineDiscountMinor });
  }
  const totalMinor = sum(charged.lines.map((line) => line.unitPriceMinor * line.quantity - line.discountMinor + line.taxMinor));
  if (charged.totalMinor !== null && charged.totalMinor !== totalMinor) {
    throw invalidTotals(`The lines add up to ${totalMinor}, the register charged ${charged.totalMinor}`, { field: 'total_minor', lines_minor: totalMinor, total_minor: charged.totalMinor });
  }
}

async function findChargedVariants(db: Queryable, merchantId: string, charged: ChargedSale): Promise<Variant[]> {
  const variants: Variant[] = [];
  for (const [index, line] of charged.lines.entries()) {
    const variant = await findVariantBySku(db, merchantId, line.sku);
    if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${line.sku}`, { field: `lines.${index}.sku`, sku: line.sku });
    variants.push(variant);
  }
  return variants;
}

/** A reward the register redeemed: an online reward code (its points were spent when issued), else a reward by id or code. */
async function findChargedReward(db: Queryable, merchantId: string, ref: string): Promise<{ reward: Reward; rewardCode: RewardCode | null }> {
  const rewardCode = await findRewardCode(db, merchantId, ref);
  if (rewardCode) return { reward: await getReward(db, merchantId, rewardCode.rewardId), rewardCode };
  return { reward: await findActiveReward(db, merchantId, ref), rewardCode: null };
}

/**
 * The sale as the register charged it, in the shape a priced cart has, so it is recorded like any
 * register sale: no promotion rule is evaluated and no price is looked up. Reads only. Refuses
 * (422 `pos.invalid_totals`) figures that do not add up, and names an unknown SKU, promotion or reward.
 * Example: one 50.00 wallet, 5.00 off by SUMMER10, 5.85 tax → subtotal 5000, discount 500, total 5085.
 */
export async function priceAsCharged(db: Queryable, merchant: Merchant, charged: ChargedSale): Promise<PricedCart> {
  assertChargedAddsUp(charged);
  const variants = await findChargedVariants(db, merchant.id, charged);
  const lineDiscounts = charged.lines.map((line) => line.discountMinor);
  const lines = charged.lines.map((line, index): PricedLine => {
    const grossMinor = line.unitPriceMinor * line.quantity;
    return { sku: line.sku, variant: variants[index]!, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor, grossMinor, discountMinor: line.discountMinor, netMinor: grossMinor - line.discountMinor, taxMinor: line.taxMinor };
  });
  // Which line each discount came off is the register's to know; the shares are spread by the lines' discounts.
  const promotions: AppliedPromotion[] = [];
  for (const [index, use] of charged.promotions.entries()) {
    const promotion = await findPromotion(db, merchant.id, use.promotion);
    if (!promotion) throw new AppError('promotions.unknown_code', `No promotion ${use.promotion}`, { field: `promotions.${index}.promotion`, code: use.promotion });
    promotions.push({ promotion, code: promotion.code, amountMinor: use.amountMinor, lineAmountsMinor: allocateMinor(use.amountMinor, lineDiscounts), shippingMinor: 0 });
  }
  const rewards: AppliedReward[] = [];
  for (const use of charged.rewards) {
    const found = await findChargedReward(db, merchant.id, use.reward);
    rewards.push({ ...found, amountMinor: use.amountMinor, lineAmountsMinor: allocateMinor(use.amountMinor, lineDiscounts), shippingMinor: 0 });
  }
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const subtotalMinor = sum(lines.map((line) => line.grossMinor));
  const discountMinor = sum(lineDiscounts);
  const taxMinor = sum(lines.map((line) => line.taxMinor));
  return {
    lines, promotions, rewards, notApplied: [], shipping: { grossMinor: 0, discountMinor: 0, netMinor: 0 },
    totals: { subtotalMinor, discountMinor, shippingMinor: 0, taxMinor, totalMinor: subtotalMinor - discountMinor + taxMinor },
  };
}

/**
 * Reward limits of a sale: refused (409) for a live sale; for an offline one, a limit passed is a
 * conflict and the sale goes on. The limits are read under the rewards' locks either way.
 */
export async function checkRewardLimits(tx: Tx, merchantId: string, customerId: string, rewards: Pick<AppliedReward, 'reward' | 'rewardCode'>[], offline: boolean): Promise<SaleConflict[]> {
  const uses = rewards.filter((applied) => applied.rewardCode === null).map((applied) => ({ reward: applied.reward, count: 1 }));
  if (!offline) {
    await assertRewardLimits(tx, merchantId, customerId, uses);
    return [];
  }
  try {
    await assertRewardLimits(tx, merchantId, customerId, uses);
    return [];
  } catch (error) {
    // assertRewardLimits only reads before it throws, so the transaction goes on unharmed.
    if (!(error instanceof AppError && error.code === 'loyalty.reward_limit_reached')) throw error;
    const details = error.details as { reward: string; limit: string; max: number; used: number };
    return [{ kind: 'reward_limit', reward: details.reward, limit: details.limit, max: details.max, used: details.used }];
  }
}

/**
 * Spends a reward's points for an offline sale whatever the balance holds now. What the balance
 * no longer covers is a debt (the program rule `allowNegativeBalance`, on by default) or, when the
 * merchant keeps balances at zero or above, forgiven by an adjustment back to zero. Either way the
 * redemption is recorded at its full cost, and an overdraw is a conflict.
 */
export async function redeemOfflineReward(tx: Tx, merchant: Merchant, reward: Reward, posting: LoyaltyPosting): Promise<SaleConflict[]> {
  const { baseTier, allowNegativeBalance, lotExpiryMonths } = merchant.settings.loyalty;
  if (!(await redeemPoints(tx, merchant.id, baseTier, posting, { allowDebt: true }))) return [];
  const after = await getLoyaltyBalance(tx, merchant.id, posting.customerId, baseTier);
  if (after.available >= 0) return [];
  const pointsForgiven = allowNegativeBalance ? 0 : Math.min(posting.points, -after.available);
  if (pointsForgiven > 0) {
    await adjustPoints(tx, merchant.id, baseTier, { customerId: posting.customerId, points: pointsForgiven, idempotencyKey: `${posting.idempotencyKey}:forgiven`, orderId: posting.orderId ?? null, memo: `Offline redemption of ${reward.name} beyond the balance, forgiven (negative balances are off)` }, lotExpiryMonths);
  }
  return [{ kind: 'points_overdrawn', reward: reward.code, points: posting.points, balanceAfter: after.available + pointsForgiven, pointsForgiven }];
}

/** An online reward code an offline sale used: marked used, or, when another sale or a cancellation closed it first, a conflict. */
export async function useRewardCodeOffline(tx: Tx, merchantId: string, rewardCode: RewardCode, orderId: string): Promise<SaleConflict[]> {
  try {
    await useRewardCodeOnSale(tx, merchantId, rewardCode, orderId);
    return [];
  } catch (error) {
    // The refusal comes after a conditional update that changed nothing: the transaction goes on unharmed.
    if (!(error instanceof AppError && error.code === 'loyalty.reward_code_conflict')) throw error;
    const current = await getRewardCodeById(tx, merchantId, rewardCode.id);
    assert(current.state !== 'issued', `reward code ${rewardCode.code} that could not be closed is closed already`);
    return [{ kind: 'reward_code_reused', code: current.code, state: current.state, firstOrderId: current.orderId }];
  }
}
