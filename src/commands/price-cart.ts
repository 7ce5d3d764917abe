import { findVariantBySku, type Variant } from '../catalog/index.ts';
import type { Queryable } from '../db/index.ts';
import { findActiveReward, listActiveMemberships, tierOf, type Reward, type RewardCode } from '../loyalty/index.ts';
import type { Location, Merchant } from '../merchants/index.ts';
import {
  countPromotionUsage, findPromotionByCode, loadActivePromotions, normalizePromotionCode, pricePromotions,
  type AppliedPromotion, type NotAppliedPromotion, type PricingCustomer, type Promotion, type PromotionCandidate, type SalesChannel,
} from '../promotions/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { allocateMinor, applyBasisPoints } from '../shared/money.ts';
import { findUsableRewardCode } from './online-reward-codes.ts';

// Prices a cart for any channel (issue #6): one function for the register sale, the pickup order
// and `POST /v1/carts/price`, so they never disagree. Promotions first, by the rule engine
// (src/promotions/promotion-engine.ts); then rewards, each on what is left: those redeemed with
// points now, then online reward codes given among the promotion codes; then tax per line at the
// location's rate. Reads only: nothing is written.

export interface CartToPrice {
  channel: SalesChannel;
  /** Where it is sold or collected: its tax rate applies, and location conditions look at it. */
  location: Location | null;
  customerId: string | null;
  lines: { sku: string; quantity: number; unitPriceMinor: number | null }[];
  promotionCodes: string[];
  /** Rewards to redeem with points, by id or code. */
  rewards: string[];
  shippingMinor: number;
  /** ISO-8601 UTC instant the cart is priced at (dates, hours, memberships). */
  at: string;
}

export interface AppliedReward {
  reward: Reward;
  /** An online reward code used at the register (its points were spent when it was issued); null when redeemed now. */
  rewardCode: RewardCode | null;
  amountMinor: number;
  lineAmountsMinor: number[];
  shippingMinor: number;
}

export interface PricedLine {
  sku: string;
  variant: Variant;
  quantity: number;
  unitPriceMinor: number;
  grossMinor: number;
  discountMinor: number;
  netMinor: number;
  taxMinor: number;
}

export interface PricedCart {
  lines: PricedLine[];
  promotions: AppliedPromotion[];
  rewards: AppliedReward[];
  /** Every automatic promotion that did not apply and every code given that did not, with why. */
  notApplied: NotAppliedPromotion[];
  shipping: { grossMinor: number; discountMinor: number; netMinor: number };
  totals: { subtotalMinor: number; discountMinor: number; shippingMinor: number; taxMinor: number; totalMinor: number };
}

/** Options of the pricing; `useMemory: false` reads the active promotions every time (the benchmark's comparison). */
export interface PriceCartOptions {
  useMemory?: boolean;
}

async function findCartVariants(db: Queryable, merchantId: string, lines: CartToPrice['lines']): Promise<Variant[]> {
  const variants: Variant[] = [];
  for (const [index, line] of lines.entries()) {
    const variant = await findVariantBySku(db, merchantId, line.sku);
    if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${line.sku}`, { field: `lines.${index}.sku`, sku: line.sku });
    variants.push(variant);
  }
  return variants;
}

interface SortedCodes {
  candidates: PromotionCandidate[];
  unknownCodes: string[];
  rewardCodes: { reward: Reward; rewardCode: RewardCode }[];
}

/**
 * Each code given is a promotion's (active or not: the engine says why an inactive one does not
 * apply), else an online reward code issued to this customer, else unknown. A code given twice is
 * refused (422 `promotions.code_repeated`).
 */
async function sortCodes(db: Queryable, merchantId: string, typed: string[], customerId: string | null, active: ReadonlyMap<string, Promotion>): Promise<SortedCodes> {
  const codes = typed.map(normalizePromotionCode);
  const repeated = codes.find((code, index) => codes.indexOf(code) !== index);
  if (repeated) throw new AppError('promotions.code_repeated', `Promotion ${repeated} is given more than once`, { field: 'promotion_codes', code: repeated });
  const sorted: SortedCodes = { candidates: [], unknownCodes: [], rewardCodes: [] };
  for (const code of codes) {
    const promotion = active.get(code) ?? (await findPromotionByCode(db, merchantId, code));
    if (promotion) {
      sorted.candidates.push({ promotion, code });
      continue;
    }
    const usable = await findUsableRewardCode(db, merchantId, code, customerId);
    if (usable) sorted.rewardCodes.push(usable);
    else sorted.unknownCodes.push(code);
  }
  return sorted;
}

/** What the candidates' conditions need to know about the customer, and only that, read once. */
async function readPricingCustomer(db: Queryable, merchant: Merchant, customerId: string | null, candidates: readonly PromotionCandidate[], at: string): Promise<PricingCustomer | null> {
  if (customerId === null) return null;
  let needsTier = false;
  let needsMemberships = false;
  let needsOrders = false;
  for (const { promotion } of candidates) {
    needsTier ||= promotion.conditions.customerTiers.length > 0;
    needsMemberships ||= promotion.conditions.memberships.length > 0;
    needsOrders ||= promotion.conditions.firstOrder;
  }
  const tier = needsTier ? (await tierOf(db, merchant.id, merchant.settings.loyalty, customerId)).name : null;
  const memberships = needsMemberships ? (await listActiveMemberships(db, merchant.id, customerId, at)).map((membership) => membership.name) : [];
  let hasEarlierOrder = false;
  if (needsOrders) {
    // Any order of hers placed before this one and not cancelled, in any channel.
    const earlier = await db.selectFrom('orders').select('id').where('merchant_id', '=', merchant.id).where('customer_id', '=', customerId).where('placed_at', '<', at).where('cancelled_at', 'is', null).limit(1).executeTakeFirst();
    hasEarlierOrder = earlier !== undefined;
  }
  return { id: customerId, tier, memberships, hasEarlierOrder };
}

/**
 * Prices a cart: gross per line, each promotion's and reward's share of each line, net, tax and
 * totals, and why every other promotion did not apply. Writes nothing.
 * Example: a 50.00 wallet with SUMMER10 at a 13 % store → 5.00 off, 5.85 tax, 50.85 in all.
 */
export async function priceCart(db: Queryable, merchant: Merchant, cart: CartToPrice, options: PriceCartOptions = {}): Promise<PricedCart> {
  const variants = await findCartVariants(db, merchant.id, cart.lines);
  const active = await loadActivePromotions(db, merchant.id, { useMemory: options.useMemory ?? true });
  const codes = await sortCodes(db, merchant.id, cart.promotionCodes, cart.customerId, active.byCode);
  const toRedeem: { reward: Reward; rewardCode: RewardCode | null; field: string }[] = [];
  for (const rewardRef of cart.rewards) toRedeem.push({ reward: await findActiveReward(db, merchant.id, rewardRef), rewardCode: null, field: 'rewards' });
  toRedeem.push(...codes.rewardCodes.map((usable) => ({ ...usable, field: 'promotion_codes' })));
  const candidates = [...active.automatic.map((promotion) => ({ promotion, code: null })), ...codes.candidates];
  const limited = [...new Set(candidates.filter(({ promotion }) => promotion.totalUsageMax !== null || promotion.perCustomerUsageMax !== null).map(({ promotion }) => promotion.id))];
  const lines = cart.lines.map((line, index) => ({ sku: line.sku, productId: variants[index]!.productId, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor ?? variants[index]!.priceMinor }));
  const promotions = pricePromotions({
    lines, candidates, unknownCodes: codes.unknownCodes, usage: await countPromotionUsage(db, merchant.id, limited, cart.customerId),
    context: { channel: cart.channel, locationId: cart.location?.id ?? null, at: cart.at, currency: merchant.currency, customer: await readPricingCustomer(db, merchant, cart.customerId, candidates, cart.at), shippingMinor: cart.shippingMinor },
  });
  const remaining = promotions.grossMinor.map((gross, index) => gross - promotions.lineDiscountMinor[index]!);
  const rewards = priceRewards(toRedeem, { lines, remaining, shippingLeft: cart.shippingMinor - promotions.shippingDiscountMinor });
  return assemblePricedCart(cart, variants, promotions, rewards, remaining);
}

/** Rewards in the order given, each on what is left of the lines (and of shipping); never below zero. */
function priceRewards(toRedeem: { reward: Reward; rewardCode: RewardCode | null; field: string }[], left: { lines: { sku: string; unitPriceMinor: number }[]; remaining: number[]; shippingLeft: number }): AppliedReward[] {
  const afterPromotionsMinor = left.remaining.reduce((sum, amount) => sum + amount, 0);
  const applied: AppliedReward[] = [];
  for (const item of toRedeem) {
    const amounts = priceReward(item.reward, left, afterPromotionsMinor, item.field);
    amounts.lines.forEach((amount, index) => {
      assert(amount >= 0 && amount <= left.remaining[index]!, 'a reward takes at most what is left of a line');
      left.remaining[index]! -= amount;
    });
    left.shippingLeft -= amounts.shipping;
    applied.push({ reward: item.reward, rewardCode: item.rewardCode, amountMinor: amounts.lines.reduce((sum, amount) => sum + amount, 0) + amounts.shipping, lineAmountsMinor: amounts.lines, shippingMinor: amounts.shipping });
  }
  return applied;
}

/**
 * What one reward takes off, by kind: its amount, or its percentage of the merchandise left after
 * promotions, spread over what is left of the lines by largest remainder; one unit of the first
 * line with its SKU that still has something left; free shipping takes the shipping left (422 when
 * there is none: a register sale ships nothing). A reward with nothing left to take off is refused
 * (422): it would cost points for nothing.
 */
function priceReward(reward: Reward, left: { lines: { sku: string; unitPriceMinor: number }[]; remaining: number[]; shippingLeft: number }, afterPromotionsMinor: number, field: string): { lines: number[]; shipping: number } {
  const details = { field, reward: reward.code };
  const leftMinor = left.remaining.reduce((sum, amount) => sum + amount, 0);
  const zero = left.remaining.map(() => 0);
  let result: { lines: number[]; shipping: number };
  switch (reward.kind) {
    case 'amount_off':
      result = { lines: allocateMinor(Math.min(reward.amountOffMinor ?? 0, leftMinor), left.remaining), shipping: 0 };
      break;
    case 'percent_off':
      result = { lines: allocateMinor(Math.min(applyBasisPoints(afterPromotionsMinor, reward.percentOffBps ?? 0), leftMinor), left.remaining), shipping: 0 };
      break;
    case 'free_product': {
      const index = left.lines.findIndex((line, candidate) => line.sku === reward.freeSku && left.remaining[candidate]! > 0);
      if (index < 0) throw new AppError('loyalty.reward_not_applicable', `Reward ${reward.code} gives one ${reward.freeSku} free, and the sale has no ${reward.freeSku} left to give`, { ...details, sku: reward.freeSku });
      result = { lines: zero.map((_, candidate) => (candidate === index ? Math.min(left.lines[index]!.unitPriceMinor, left.remaining[index]!) : 0)), shipping: 0 };
      break;
    }
    case 'free_shipping':
      if (left.shippingLeft <= 0) throw new AppError('loyalty.reward_not_applicable', `Reward ${reward.code} is free shipping, and this sale ships nothing`, details);
      result = { lines: zero, shipping: left.shippingLeft };
      break;
  }
  if (result.lines.every((amount) => amount === 0) && result.shipping === 0) throw new AppError('loyalty.reward_not_applicable', `Nothing is left of the sale for reward ${reward.code} to take off`, details);
  return result;
}

function assemblePricedCart(cart: CartToPrice, variants: Variant[], promotions: ReturnType<typeof pricePromotions>, rewards: AppliedReward[], remaining: number[]): PricedCart {
  const taxRateBps = cart.location?.taxRateBps ?? 0;
  const lines = cart.lines.map((line, index): PricedLine => {
    const grossMinor = promotions.grossMinor[index]!;
    const netMinor = remaining[index]!;
    assert(netMinor >= 0 && netMinor <= grossMinor, 'a line is never discounted below zero');
    return { sku: line.sku, variant: variants[index]!, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor ?? variants[index]!.priceMinor, grossMinor, discountMinor: grossMinor - netMinor, netMinor, taxMinor: applyBasisPoints(netMinor, taxRateBps) };
  });
  const shippingDiscountMinor = promotions.shippingDiscountMinor + rewards.reduce((sum, reward) => sum + reward.shippingMinor, 0);
  const shipping = { grossMinor: cart.shippingMinor, discountMinor: shippingDiscountMinor, netMinor: cart.shippingMinor - shippingDiscountMinor };
  assert(shipping.netMinor >= 0, 'shipping is never discounted below zero');
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const subtotalMinor = sum(lines.map((line) => line.grossMinor));
  const lineDiscountMinor = sum(lines.map((line) => line.discountMinor));
  const taxMinor = sum(lines.map((line) => line.taxMinor));
  const totals = { subtotalMinor, discountMinor: lineDiscountMinor + shippingDiscountMinor, shippingMinor: cart.shippingMinor, taxMinor, totalMinor: subtotalMinor - lineDiscountMinor + shipping.netMinor + taxMinor };
  assert(totals.discountMinor === sum(promotions.applied.map((applied) => applied.amountMinor)) + sum(rewards.map((reward) => reward.amountMinor)), 'the discounts add up to what each promotion and reward took');
  return { lines, promotions: promotions.applied, rewards, notApplied: promotions.notApplied, shipping, totals };
}
