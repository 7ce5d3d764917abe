import { findVariantBySku, type Variant } from '../catalog/index.ts';
import { getCustomerIdentity, type CustomerClaim } from '../customers/index.ts';
import type { Tx } from '../db/index.ts';
import { applyStockMovement, reserveStock } from '../inventory/index.ts';
import { createPickup } from './pickups.ts';
import { earnOptionsOf, lineEarns } from './loyalty-options.ts';
import { earnMultiplierFor, raiseTierIfQualified } from './customer-tiers.ts';
import { awardFirstStoreVisitBonus } from './loyalty-bonuses.ts';
import { baseEarnMultiplierBps, computeMultipliedPoints, earnPoints, findActiveReward, getLoyaltyBalance, redeemPoints, type LoyaltyBalance, type Reward, type RewardCode } from '../loyalty/index.ts';
import { getLocation, type Location, type Merchant } from '../merchants/index.ts';
import { findOrderBySource, insertOrder, type NewOrder, type Order, type OrderSource } from '../orders/index.ts';
import { evaluatePromotionCode, findPromotionByCode, recordPromotionRedemption, type Promotion } from '../promotions/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso, toIso } from '../shared/clock.ts';
import { allocateMinor, applyBasisPoints } from '../shared/money.ts';
import { announceCustomerChange, announceStockChange } from './announce-changes.ts';
import { resolveEventCustomer } from './resolve-order-customer.ts';
import { findUsableRewardCode, useRewardCodeOnSale } from './online-reward-codes.ts';
import { assertRewardLimits } from './reward-limits.ts';
import { applyReferralOnOrder } from './referral-rewards.ts';
import { emitMerchantEvent } from '../sync/index.ts';

export interface PosSaleCommand {
  /** The register's own id for the sale; with the register id it makes the sale idempotent. */
  saleId: string;
  registerId: string | null;
  locationId: string;
  occurredAt: string | null;
  customer: ({ customerId?: string | null } & CustomerClaim) | null;
  lines: { sku: string; quantity: number; unitPriceMinor?: number | null }[];
  promotionCodes: string[];
  rewards: string[];
  payments: { method: string; amountMinor: number }[] | null;
  /**
   * `sale`: rung up at the register, the goods leave now. `pickup`: ordered online for pickup at
   * the location, the units are reserved there in the same transaction until handed over.
   */
  fulfilment?: 'sale' | 'pickup';
}

export interface PosSaleResult {
  order: Order;
  created: boolean;
  pointsEarned: number;
  pointsRedeemed: number;
  loyalty: LoyaltyBalance | null;
}

interface AppliedReward {
  reward: Reward;
  amountMinor: number;
  /** The sale line the discount belongs to (a free product's); null when it spreads over the sale. */
  lineIndex: number | null;
  /** An online reward code used at the register: its points were spent when it was issued. */
  rewardCode: RewardCode | null;
}

interface PricedDiscounts {
  promotions: { promotion: Promotion; amountMinor: number }[];
  rewards: AppliedReward[];
  totalMinor: number;
}

async function findSaleVariants(tx: Tx, merchant: Merchant, command: PosSaleCommand): Promise<Variant[]> {
  const variants: Variant[] = [];
  for (const [index, line] of command.lines.entries()) {
    const variant = await findVariantBySku(tx, merchant.id, line.sku);
    if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${line.sku}`, { field: `lines.${index}.sku`, sku: line.sku });
    variants.push(variant);
  }
  return variants;
}

async function resolveSaleCustomer(tx: Tx, merchant: Merchant, command: PosSaleCommand): Promise<string | null> {
  if (!command.customer) return null;
  if (command.customer.customerId) return (await getCustomerIdentity(tx, merchant.id, command.customer.customerId)).id;
  return resolveEventCustomer(tx, merchant, command.customer, `pos:sale:${command.saleId}`);
}

/**
 * Promotions first, each on what is left of the subtotal, then rewards: those redeemed now, then
 * online reward codes given among the promotion codes (a code no promotion has that is an issued
 * reward code of this customer). Never below zero.
 */
async function priceDiscounts(tx: Tx, merchant: Merchant, sale: { command: PosSaleCommand; variants: Variant[]; customerId: string | null }, subtotalMinor: number, at: string): Promise<PricedDiscounts> {
  const { command } = sale;
  const channel = command.fulfilment === 'pickup' ? 'online' : 'store';
  const priced: PricedDiscounts = { promotions: [], rewards: [], totalMinor: 0 };
  const codes = command.promotionCodes.map((code) => code.trim().toUpperCase());
  const repeated = codes.find((code, index) => codes.indexOf(code) !== index);
  if (repeated) throw new AppError('promotions.code_repeated', `Promotion ${repeated} is given more than once`, { field: 'promotion_codes', code: repeated });
  const toRedeem: { reward: Reward; rewardCode: RewardCode | null; field: string }[] = [];
  for (const rewardRef of command.rewards) toRedeem.push({ reward: await findActiveReward(tx, merchant.id, rewardRef), rewardCode: null, field: 'rewards' });
  for (const code of codes) {
    const usable = (await findPromotionByCode(tx, merchant.id, code)) ? undefined : await findUsableRewardCode(tx, merchant.id, code, sale.customerId);
    if (usable) {
      toRedeem.push({ ...usable, field: 'promotion_codes' });
      continue;
    }
    const result = await evaluatePromotionCode(tx, merchant.id, { code, channel, subtotalMinor: subtotalMinor - priced.totalMinor, at });
    priced.promotions.push(result);
    priced.totalMinor += result.amountMinor;
  }
  const afterPromotionsMinor = subtotalMinor - priced.totalMinor;
  const lineRoomMinor = command.lines.map((line, index) => (line.unitPriceMinor ?? sale.variants[index]!.priceMinor) * line.quantity);
  for (const item of toRedeem) {
    const applied = priceReward(item.reward, sale, { afterPromotionsMinor, leftMinor: subtotalMinor - priced.totalMinor, lineRoomMinor, field: item.field });
    if (applied.lineIndex !== null) lineRoomMinor[applied.lineIndex]! -= applied.amountMinor;
    priced.rewards.push({ ...applied, rewardCode: item.rewardCode });
    priced.totalMinor += applied.amountMinor;
  }
  return priced;
}

/**
 * What one reward takes off a register sale, by kind: its amount; its percentage of the merchandise
 * left after promotions; one unit's price of the first line with its SKU that a free product has not
 * already taken; free shipping never (422: a register sale ships nothing). At most what is left.
 */
function priceReward(reward: Reward, sale: { command: PosSaleCommand; variants: Variant[] }, left: { afterPromotionsMinor: number; leftMinor: number; lineRoomMinor: number[]; field: string }): { reward: Reward; amountMinor: number; lineIndex: number | null } {
  const details = { field: left.field, reward: reward.code };
  let valueMinor: number;
  let lineIndex: number | null = null;
  switch (reward.kind) {
    case 'amount_off':
      valueMinor = reward.amountOffMinor ?? 0;
      break;
    case 'percent_off':
      valueMinor = applyBasisPoints(left.afterPromotionsMinor, reward.percentOffBps ?? 0);
      break;
    case 'free_product': {
      const index = sale.variants.findIndex((variant, candidate) => variant.sku === reward.freeSku && left.lineRoomMinor[candidate]! > 0);
      if (index < 0) throw new AppError('loyalty.reward_not_applicable', `Reward ${reward.code} gives one ${reward.freeSku} free, and the sale has no ${reward.freeSku} left to give`, { ...details, sku: reward.freeSku });
      lineIndex = index;
      valueMinor = Math.min(sale.command.lines[index]!.unitPriceMinor ?? sale.variants[index]!.priceMinor, left.lineRoomMinor[index]!);
      break;
    }
    case 'free_shipping':
      throw new AppError('loyalty.reward_not_applicable', `Reward ${reward.code} is free shipping, and a register sale ships nothing`, details);
  }
  const amountMinor = Math.min(valueMinor, left.leftMinor);
  // A reward with nothing left to take off would cost points for nothing.
  if (amountMinor <= 0) throw new AppError('loyalty.reward_not_applicable', `Nothing is left of the sale for reward ${reward.code} to take off`, details);
  return { reward, amountMinor, lineIndex };
}

/** Where a sale is recorded: its source and reference, unique per merchant, which make a replay find it. */
function saleSource(command: PosSaleCommand): { source: OrderSource; sourceRef: string } {
  return command.fulfilment === 'pickup' ? { source: 'api', sourceRef: `pickup:${command.saleId}` } : { source: 'pos', sourceRef: `${command.registerId ?? 'register'}:${command.saleId}` };
}

/**
 * Discounts per line: a free product's on its own line, the rest spread over what each line has
 * left by largest remainder (so no line goes below zero). Without free products this is
 * `allocateMinor(total, gross)`, as before.
 */
function allocateLineDiscounts(discounts: PricedDiscounts, gross: number[]): number[] {
  const targeted = gross.map(() => 0);
  for (const applied of discounts.rewards) if (applied.lineIndex !== null) targeted[applied.lineIndex]! += applied.amountMinor;
  const targetedTotal = targeted.reduce((sum, amount) => sum + amount, 0);
  const spread = allocateMinor(discounts.totalMinor - targetedTotal, gross.map((amount, index) => amount - targeted[index]!));
  return gross.map((_, index) => targeted[index]! + spread[index]!);
}

function buildOrder(merchant: Merchant, command: PosSaleCommand, location: Location, variants: Variant[], customerId: string | null, discounts: PricedDiscounts, placedAt: string, multiplierBps: number): NewOrder {
  const gross = command.lines.map((line, index) => (line.unitPriceMinor ?? variants[index]!.priceMinor) * line.quantity);
  const subtotalMinor = gross.reduce((sum, amount) => sum + amount, 0);
  const lineDiscounts = allocateLineDiscounts(discounts, gross);
  const lineNet = gross.map((amount, index) => amount - lineDiscounts[index]!);
  const lineTax = lineNet.map((amount) => applyBasisPoints(amount, location.taxRateBps));
  const taxMinor = lineTax.reduce((sum, amount) => sum + amount, 0);
  const totalMinor = subtotalMinor - discounts.totalMinor + taxMinor;
  const points = customerId ? computeMultipliedPoints(lineNet.map((amount, index) => (lineEarns(merchant, { sku: command.lines[index]!.sku }) ? amount : 0)), merchant.currency, merchant.settings.loyalty.pointsPerCurrencyUnit, multiplierBps).perLine : lineNet.map(() => 0);
  const payments = command.payments ?? [{ method: 'unspecified', amountMinor: totalMinor }];
  const paid = payments.reduce((sum, payment) => sum + payment.amountMinor, 0);
  if (paid !== totalMinor) throw new AppError('orders.payment_mismatch', `Payments add up to ${paid}, the sale totals ${totalMinor}`, { field: 'payments', paid_minor: paid, total_minor: totalMinor });
  const pickup = command.fulfilment === 'pickup';
  return {
    channel: pickup ? 'online' : 'store', ...saleSource(command),
    orderNumber: command.saleId, customerId, locationId: location.id, registerRef: command.registerId, status: pickup ? 'open' : 'completed', currency: merchant.currency, subtotalMinor, discountMinor: discounts.totalMinor, shippingMinor: 0, taxMinor, totalMinor, placedAt, sourceUpdatedAt: null,
    lines: command.lines.map((line, index) => ({ sourceRef: String(index + 1), variantId: variants[index]!.id, sku: line.sku, title: variants[index]!.title, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor ?? variants[index]!.priceMinor, discountMinor: lineDiscounts[index]!, taxMinor: lineTax[index]!, pointsEarned: points[index]!, fulfilmentLocationId: location.id })),
    discounts: [
      ...discounts.promotions.map((applied) => ({ kind: 'promotion' as const, code: applied.promotion.code, promotionId: applied.promotion.id, rewardId: null, amountMinor: applied.amountMinor })),
      // A reward code names the code, not the reward: its redemption was counted when it was issued.
      ...discounts.rewards.map((applied) => ({ kind: 'reward' as const, code: applied.rewardCode?.code ?? applied.reward.code, promotionId: null, rewardId: applied.rewardCode ? null : applied.reward.id, amountMinor: applied.amountMinor })),
    ],
    payments: payments.map((payment) => ({ ...payment, sourceRef: null })),
  };
}

/**
 * A sale rung up at a register that talks to Continuum: prices it with the same promotion rules as
 * online, redeems rewards, moves stock at the store, earns points, and records the order, all in
 * one transaction. The same sale sent again returns the first result and changes nothing.
 */
export async function recordPosSale(tx: Tx, merchant: Merchant, command: PosSaleCommand): Promise<PosSaleResult> {
  const location = await getLocation(tx, merchant.id, command.locationId);
  const variants = await findSaleVariants(tx, merchant, command);
  const customerId = await resolveSaleCustomer(tx, merchant, command);
  if (command.rewards.length > 0 && !customerId) throw new AppError('loyalty.customer_required', 'Redeeming a reward needs a customer', { field: 'customer' });
  const placedAt = command.occurredAt ? toIso(command.occurredAt) : nowIso();
  const baseTier = merchant.settings.loyalty.baseTier;
  // A replay is answered before pricing: the first sale has used its reward codes and counted
  // against the rewards' limits, which pricing it again would refuse.
  const { source, sourceRef } = saleSource(command);
  const recorded = await findOrderBySource(tx, merchant.id, source, sourceRef);
  if (recorded) return { order: recorded, created: false, pointsEarned: 0, pointsRedeemed: 0, loyalty: customerId ? await getLoyaltyBalance(tx, merchant.id, customerId, baseTier) : null };
  const grossSubtotal = command.lines.reduce((sum, line, index) => sum + (line.unitPriceMinor ?? variants[index]!.priceMinor) * line.quantity, 0);
  const discounts = await priceDiscounts(tx, merchant, { command, variants, customerId }, grossSubtotal, placedAt);
  if (customerId) await assertRewardLimits(tx, merchant.id, customerId, discounts.rewards.filter((applied) => applied.rewardCode === null).map((applied) => ({ reward: applied.reward, count: 1 })));
  // Her tier's (or an active membership's) multiplier as she holds it when the sale is rung up.
  const multiplierBps = customerId ? await earnMultiplierFor(tx, merchant, customerId, placedAt) : baseEarnMultiplierBps;
  const { order, created } = await insertOrder(tx, merchant.id, buildOrder(merchant, command, location, variants, customerId, discounts, placedAt, multiplierBps));
  if (!created) return { order, created, pointsEarned: 0, pointsRedeemed: 0, loyalty: customerId ? await getLoyaltyBalance(tx, merchant.id, customerId, baseTier) : null };

  let pointsRedeemed = 0;
  for (const [index, applied] of discounts.rewards.entries()) {
    if (applied.rewardCode) {
      await useRewardCodeOnSale(tx, merchant.id, applied.rewardCode, order.id);
      continue;
    }
    await redeemPoints(tx, merchant.id, baseTier, { customerId: customerId!, points: applied.reward.pointsCost, idempotencyKey: `order:${order.id}:reward:${index}`, orderId: order.id, memo: `Redeemed ${applied.reward.name} at ${location.name}` });
    await emitMerchantEvent(tx, merchant.id, 'loyalty.reward_redeemed', { customer_id: customerId, order_id: order.id, reward: applied.reward.code, points: applied.reward.pointsCost, channel: order.channel, location_id: location.id });
    pointsRedeemed += applied.reward.pointsCost;
  }
  if (command.fulfilment === 'pickup') await reserveForPickup(tx, merchant.id, order, location);
  else await sellAtRegister(tx, merchant.id, order, location, command);
  const pointsEarned = order.lines.reduce((sum, line) => sum + line.pointsEarned, 0);
  if (customerId && pointsEarned > 0) {
    await earnPoints(tx, merchant.id, baseTier, { customerId, points: pointsEarned, idempotencyKey: `order:${order.id}:earn`, orderId: order.id, memo: `Earned on store sale ${command.saleId}` }, earnOptionsOf(merchant));
    await emitMerchantEvent(tx, merchant.id, 'loyalty.points_earned', { customer_id: customerId, order_id: order.id, points: pointsEarned, pending: merchant.settings.loyalty.pendingDays > 0, channel: order.channel });
  }
  if (customerId) {
    if (order.channel === 'store') await awardFirstStoreVisitBonus(tx, merchant, customerId, order.id);
    await raiseTierIfQualified(tx, merchant, customerId);
  }
  for (const applied of discounts.promotions) await recordPromotionRedemption(tx, merchant.id, { promotionId: applied.promotion.id, orderId: order.id, customerId, channel: order.channel, amountMinor: applied.amountMinor });
  await applyReferralOnOrder(tx, merchant, order);
  if (customerId) await announceCustomerChange(tx, merchant.id, customerId);
  return { order, created, pointsEarned, pointsRedeemed, loyalty: customerId ? await getLoyaltyBalance(tx, merchant.id, customerId, baseTier) : null };
}

/** The goods leave with the shopper: a sale movement per line, refused (409) if the shelf is empty. */
async function sellAtRegister(tx: Tx, merchantId: string, order: Order, location: Location, command: PosSaleCommand): Promise<void> {
  for (const line of order.lines) {
    await applyStockMovement(tx, merchantId, { locationId: location.id, variantId: line.variantId!, kind: 'sale', onHandDelta: -line.quantity, sourceKey: `order:${order.id}:${line.id}:sale`, actor: `pos:${command.registerId ?? 'register'}`, orderId: order.id, requireAvailable: true, reason: `Store sale ${command.saleId}` });
    await announceStockChange(tx, merchantId, location, line.variantId!);
  }
}

/** The shopper collects later: the pickup is placed and every line reserved at the store, or nothing is. */
async function reserveForPickup(tx: Tx, merchantId: string, order: Order, location: Location): Promise<void> {
  const pickupId = await createPickup(tx, merchantId, order.id, location.id);
  for (const line of order.lines) {
    await reserveStock(tx, merchantId, { locationId: location.id, variantId: line.variantId!, quantity: line.quantity, kind: 'pickup', orderId: order.id, pickupId, actor: 'api:pickup' });
    await announceStockChange(tx, merchantId, location, line.variantId!);
  }
}
