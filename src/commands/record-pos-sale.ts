import { getCustomerIdentity, type CustomerClaim } from '../customers/index.ts';
import type { Tx } from '../db/index.ts';
import { applyStockMovement, reserveStock } from '../inventory/index.ts';
import { createPickup } from './pickups.ts';
import { earnOptionsOf, lineEarns } from './loyalty-options.ts';
import { earnMultiplierFor, raiseTierIfQualified } from './customer-tiers.ts';
import { awardFirstStoreVisitBonus } from './loyalty-bonuses.ts';
import { baseEarnMultiplierBps, computeMultipliedPoints, earnPoints, getLoyaltyBalance, redeemPoints, type LoyaltyBalance } from '../loyalty/index.ts';
import { getLocation, type Location, type Merchant } from '../merchants/index.ts';
import { findOrderBySource, insertOrder, type NewOrder, type Order, type OrderSource } from '../orders/index.ts';
import { lockPromotionForRedemption } from '../promotions/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso, toIso } from '../shared/clock.ts';
import { createChangeAnnouncer, type ChangeAnnouncer } from './announce-changes.ts';
import { resolveEventCustomer } from './resolve-order-customer.ts';
import { useRewardCodeOnSale } from './online-reward-codes.ts';
import { priceCart, type CartToPrice, type PricedCart } from './price-cart.ts';
import { recordPromotionUses } from './promotion-uses.ts';
import { checkRewardLimits, redeemOfflineReward, useRewardCodeOffline, type SaleConflict } from './offline-sale.ts';
import { spendStoreCreditPayments } from './store-credit-payments.ts';
import { applyReferralOnOrder } from './referral-rewards.ts';
import { settleExchange, type ExchangeSettlement } from '../returns/index.ts';
import { createMerchantEventEmitter } from '../sync/index.ts';
import { orderEventData } from './merchant-event-data.ts';

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
  /** The new goods of an exchange: paid first by the returned goods' value, carrying their points (src/returns/exchange-settlement.ts). */
  exchange?: { ofOrderId: string; creditMinor: number; returnedPoints: number };
  /**
   * Set for a sale a register made while offline (docs/pos-offline.md): it happened, so nothing
   * refuses it. It is recorded as the register charged it (`charged`, from priceAsCharged) instead
   * of being priced; the shelf may go below zero, a reward may overdraw her points, a reward or
   * promotion may pass its limit, and each of these comes back in the result's `conflicts`.
   */
  offline?: { charged: PricedCart };
}

export interface PosSaleResult {
  order: Order;
  created: boolean;
  pointsEarned: number;
  pointsRedeemed: number;
  loyalty: LoyaltyBalance | null;
  exchange?: { appliedMinor: number; carriedPoints: number };
  /** What an offline sale did that a live sale would have been refused for (none for a live sale or a replay). */
  conflicts?: SaleConflict[];
}

async function resolveSaleCustomer(tx: Tx, merchant: Merchant, command: PosSaleCommand): Promise<string | null> {
  if (!command.customer) return null;
  if (command.customer.customerId) return (await getCustomerIdentity(tx, merchant.id, command.customer.customerId)).id;
  return resolveEventCustomer(tx, merchant, command.customer, `pos:sale:${command.saleId}`);
}

/** A sale refuses a given code that does not apply (422), naming why, so the cashier can tell the shopper. */
function assertCodesApplied(priced: PricedCart): void {
  for (const refused of priced.notApplied) {
    if (refused.code === null) continue;
    if (refused.reason === 'unknown_code') throw new AppError('promotions.unknown_code', `No promotion with code ${refused.code}`, { field: 'promotion_codes', code: refused.code });
    throw new AppError('promotions.not_applicable', `Promotion ${refused.code} does not apply: ${refused.message}`, { field: 'promotion_codes', code: refused.code, reason: refused.reason });
  }
}

/**
 * The workflows rolled out at the location (issue #8) that a sale needs: pickup for a pickup order,
 * loyalty for a live store sale that takes rewards. Checked before anything is written. An offline
 * sale already happened: its rewards were handed over and are recorded (it earns nothing there).
 */
function assertWorkflowsAllowSale(location: Location, command: PosSaleCommand): void {
  if (command.fulfilment === 'pickup') {
    if (!location.workflows.pickup) throw new AppError('pickups.not_enabled_at_location', `Pickup is not offered at ${location.name}: its pickup workflow is off`, { field: 'location_id', location_id: location.id, workflow: 'pickup' });
    return;
  }
  if (command.offline === undefined && command.rewards.length > 0 && !location.workflows.loyaltyInStore) {
    throw new AppError('loyalty.not_enabled_at_location', `Rewards are not taken at ${location.name}: its loyalty_in_store workflow is off`, { field: 'rewards', location_id: location.id, workflow: 'loyalty_in_store' });
  }
}

/** Pricing rounds of a sale: each locks the limited promotions it newly applies, then prices again. */
const saleLockRoundsMax = 4;

/**
 * Prices a sale with the shared engine, and holds the lock of every applied promotion that has a
 * usage limit before its uses are counted for good: a limited promotion is locked (in id order),
 * then the cart is priced again with the uses counted after the lock, so two registers cannot
 * both take a promotion's last use. A round that applies no newly limited promotion is final.
 */
async function priceSale(tx: Tx, merchant: Merchant, cart: CartToPrice): Promise<PricedCart> {
  const locked = new Set<string>();
  for (let round = 1; round <= saleLockRoundsMax; round += 1) {
    const priced = await priceCart(tx, merchant, cart);
    const toLock = priced.promotions.map((applied) => applied.promotion).filter((promotion) => (promotion.totalUsageMax !== null || promotion.perCustomerUsageMax !== null) && !locked.has(promotion.id)).map((promotion) => promotion.id).sort();
    if (toLock.length === 0) return priced;
    for (const promotionId of toLock) {
      await lockPromotionForRedemption(tx, merchant.id, promotionId);
      locked.add(promotionId);
    }
  }
  throw new Error(`Assertion failed: a sale's pricing settles within ${saleLockRoundsMax} rounds`);
}

/** Where a sale is recorded: its source and reference, unique per merchant, which make a replay find it. */
function saleSource(command: PosSaleCommand): { source: OrderSource; sourceRef: string } {
  return command.fulfilment === 'pickup' ? { source: 'api', sourceRef: `pickup:${command.saleId}` } : { source: 'pos', sourceRef: `${command.registerId ?? 'register'}:${command.saleId}` };
}

function buildOrder(merchant: Merchant, command: PosSaleCommand, location: Location, customerId: string | null, priced: PricedCart, placedAt: string, multiplierBps: number, exchange: ExchangeSettlement | null, earns: boolean): NewOrder {
  const { totals } = priced;
  const points = exchange && customerId ? exchange.linePoints : plainSalePoints(merchant, priced, earns ? customerId : null, multiplierBps);
  const payments = salePayments(command, totals.totalMinor, exchange);
  const paid = payments.reduce((sum, payment) => sum + payment.amountMinor, 0);
  if (paid !== totals.totalMinor) throw new AppError('orders.payment_mismatch', `Payments add up to ${paid}, the sale totals ${totals.totalMinor}`, { field: 'payments', paid_minor: paid, total_minor: totals.totalMinor });
  const pickup = command.fulfilment === 'pickup';
  return {
    channel: pickup ? 'online' : 'store', ...saleSource(command),
    orderNumber: command.saleId, customerId, locationId: location.id, registerRef: command.registerId, status: pickup ? 'open' : 'completed', currency: merchant.currency,
    subtotalMinor: totals.subtotalMinor, discountMinor: totals.discountMinor, shippingMinor: totals.shippingMinor, taxMinor: totals.taxMinor, totalMinor: totals.totalMinor, placedAt, sourceUpdatedAt: null,
    lines: priced.lines.map((line, index) => ({ sourceRef: String(index + 1), variantId: line.variant.id, sku: line.sku, title: line.variant.title, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor, discountMinor: line.discountMinor, taxMinor: line.taxMinor, pointsEarned: points[index]!, fulfilmentLocationId: location.id, finalSale: line.variant.finalSale })),
    discounts: [
      ...priced.promotions.map((applied) => ({ kind: 'promotion' as const, code: applied.code ?? applied.promotion.code, promotionId: applied.promotion.id, rewardId: null, amountMinor: applied.amountMinor })),
      // A reward code names the code, not the reward: its redemption was counted when it was issued.
      ...priced.rewards.map((applied) => ({ kind: 'reward' as const, code: applied.rewardCode?.code ?? applied.reward.code, promotionId: null, rewardId: applied.rewardCode ? null : applied.reward.id, amountMinor: applied.amountMinor })),
    ],
    payments: payments.map((payment) => ({ ...payment, sourceRef: null })),
    exchangeOfOrderId: command.exchange?.ofOrderId ?? null,
  };
}

/** The sale's payments: as given (or one unspecified), after what an exchange's returned goods pay. */
function salePayments(command: PosSaleCommand, totalMinor: number, exchange: ExchangeSettlement | null): { method: string; amountMinor: number }[] {
  const appliedMinor = exchange?.appliedMinor ?? 0;
  const rest = totalMinor - appliedMinor;
  const given = command.payments ?? (rest > 0 ? [{ method: 'unspecified', amountMinor: rest }] : []);
  return appliedMinor > 0 ? [{ method: exchangeCreditMethod, amountMinor: appliedMinor }, ...given] : given;
}

/** The payment method of the value an exchange's returned goods put toward the new ones. */
export const exchangeCreditMethod = 'exchange';

/**
 * A sale rung up at a register that talks to Continuum: prices it with the same promotion rules as
 * online, redeems rewards, moves stock at the store, earns points, and records the order, all in
 * one transaction. The same sale sent again returns the first result and changes nothing.
 */
export async function recordPosSale(tx: Tx, merchant: Merchant, command: PosSaleCommand): Promise<PosSaleResult> {
  const location = await getLocation(tx, merchant.id, command.locationId);
  const customerId = await resolveSaleCustomer(tx, merchant, command);
  if (command.rewards.length > 0 && !customerId) throw new AppError('loyalty.customer_required', 'Redeeming a reward needs a customer', { field: 'customer' });
  const placedAt = command.occurredAt ? toIso(command.occurredAt) : nowIso();
  const baseTier = merchant.settings.loyalty.baseTier;
  // A replay is answered before pricing: the first sale has used its reward codes and counted
  // against the rewards' limits, which pricing it again would refuse.
  const { source, sourceRef } = saleSource(command);
  const recorded = await findOrderBySource(tx, merchant.id, source, sourceRef);
  if (recorded) return { order: recorded, created: false, pointsEarned: 0, pointsRedeemed: 0, loyalty: customerId ? await getLoyaltyBalance(tx, merchant.id, customerId, baseTier) : null };
  const pickup = command.fulfilment === 'pickup';
  const offline = command.offline !== undefined;
  assertWorkflowsAllowSale(location, command);
  // Points are earned where loyalty is rolled out; a pickup is an online order, which always earns.
  const earns = pickup || location.workflows.loyaltyInStore;
  const priced = command.offline?.charged ?? await priceSale(tx, merchant, {
    channel: pickup ? 'online' : 'store', location, customerId, at: placedAt, shippingMinor: 0,
    lines: command.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor ?? null })), promotionCodes: command.promotionCodes, rewards: command.rewards,
  });
  if (!offline) assertCodesApplied(priced);
  if (priced.rewards.length > 0 && !customerId) throw new AppError('loyalty.customer_required', 'Redeeming a reward needs a customer', { field: 'customer' });
  const conflicts = customerId ? await checkRewardLimits(tx, merchant.id, customerId, priced.rewards, offline) : [];
  // Her tier's (or an active membership's) multiplier as she holds it when the sale is rung up.
  const multiplierBps = customerId ? await earnMultiplierFor(tx, merchant, customerId, placedAt) : baseEarnMultiplierBps;
  const exchange = command.exchange ? settleSaleExchange(merchant, command.exchange, priced, customerId, multiplierBps, earns) : null;
  const { order, created } = await insertOrder(tx, merchant.id, buildOrder(merchant, command, location, customerId, priced, placedAt, multiplierBps, exchange, earns));
  if (!created) return { order, created, pointsEarned: 0, pointsRedeemed: 0, loyalty: customerId ? await getLoyaltyBalance(tx, merchant.id, customerId, baseTier) : null };
  await spendStoreCreditPayments(tx, merchant.id, order);
  // One emitter and one announcer for the whole sale: the subscriptions and the connected channels
  // are read once, not once per event and per line (issue #9).
  const events = createMerchantEventEmitter(tx, merchant.id);
  const announce = createChangeAnnouncer(tx, merchant.id);
  await events.emit('order.recorded', orderEventData(order));

  let pointsRedeemed = 0;
  for (const [index, applied] of priced.rewards.entries()) {
    if (applied.rewardCode) {
      if (offline) conflicts.push(...(await useRewardCodeOffline(tx, merchant.id, applied.rewardCode, order.id)));
      else await useRewardCodeOnSale(tx, merchant.id, applied.rewardCode, order.id);
      continue;
    }
    const posting = { customerId: customerId!, points: applied.reward.pointsCost, idempotencyKey: `order:${order.id}:reward:${index}`, orderId: order.id, memo: `Redeemed ${applied.reward.name} at ${location.name}` };
    if (offline) conflicts.push(...(await redeemOfflineReward(tx, merchant, applied.reward, posting)));
    else await redeemPoints(tx, merchant.id, baseTier, posting);
    await events.emit('loyalty.reward_redeemed', { customer_id: customerId, order_id: order.id, reward: applied.reward.code, points: applied.reward.pointsCost, channel: order.channel, location_id: location.id });
    pointsRedeemed += applied.reward.pointsCost;
  }
  if (command.fulfilment === 'pickup') await reserveForPickup(tx, merchant.id, order, location, announce);
  else conflicts.push(...(await sellAtRegister(tx, merchant.id, order, location, command, announce)));
  // An exchange's new goods earn only on what they are worth above the returned ones; the points they carry are already hers.
  const pointsEarned = exchange ? exchange.earnedPoints : order.lines.reduce((sum, line) => sum + line.pointsEarned, 0);
  if (customerId && pointsEarned > 0) {
    await earnPoints(tx, merchant.id, baseTier, { customerId, points: pointsEarned, idempotencyKey: `order:${order.id}:earn`, orderId: order.id, memo: `Earned on store sale ${command.saleId}` }, earnOptionsOf(merchant));
    await events.emit('loyalty.points_earned', { customer_id: customerId, order_id: order.id, points: pointsEarned, pending: merchant.settings.loyalty.pendingDays > 0, channel: order.channel });
  }
  if (customerId) {
    if (order.channel === 'store' && earns) await awardFirstStoreVisitBonus(tx, merchant, customerId, order.id);
    await raiseTierIfQualified(tx, merchant, customerId);
  }
  const passedLimits = await recordPromotionUses(tx, merchant, order, priced.promotions.map((applied) => ({ promotion: applied.promotion, amountMinor: applied.amountMinor })));
  if (offline) conflicts.push(...passedLimits.map((passed) => ({ kind: 'promotion_limit' as const, promotion: passed.promotion.code ?? passed.promotion.name, limit: passed.limit, max: passed.max, used: passed.used })));
  await applyReferralOnOrder(tx, merchant, order);
  if (customerId) await announce.customer(customerId);
  return { order, created, pointsEarned, pointsRedeemed, loyalty: customerId ? await getLoyaltyBalance(tx, merchant.id, customerId, baseTier) : null, ...(exchange ? { exchange: { appliedMinor: exchange.appliedMinor, carriedPoints: customerId ? exchange.carriedPoints : 0 } } : {}), conflicts };
}

/** What each line earns: its net after discounts (SKUs that never earn: nothing) at her multiplier; nothing without a customer. */
function earningNet(merchant: Merchant, priced: PricedCart): number[] {
  return priced.lines.map((line) => (lineEarns(merchant, { sku: line.sku }) ? line.netMinor : 0));
}

function plainSalePoints(merchant: Merchant, priced: PricedCart, customerId: string | null, multiplierBps: number): number[] {
  if (!customerId) return priced.lines.map(() => 0);
  return computeMultipliedPoints(earningNet(merchant, priced), merchant.currency, merchant.settings.loyalty.pointsPerCurrencyUnit, multiplierBps).perLine;
}

/** `earns` false (loyalty not rolled out at the location): the new goods carry the returned ones' points and earn none. */
function settleSaleExchange(merchant: Merchant, exchange: NonNullable<PosSaleCommand['exchange']>, priced: PricedCart, customerId: string | null, multiplierBps: number, earns: boolean): ExchangeSettlement {
  return settleExchange({
    returnedMinor: exchange.creditMinor, returnedPoints: customerId ? exchange.returnedPoints : 0, newTotalMinor: priced.totals.totalMinor,
    plainSalePoints: plainSalePoints(merchant, priced, earns ? customerId : null, multiplierBps), earningWeights: earningNet(merchant, priced),
  });
}

/**
 * The goods leave with the shopper: a sale movement per line, refused (409) if the shelf is empty.
 * An offline sale already took the goods: it is never refused, and a shelf it takes below zero is a conflict.
 */
async function sellAtRegister(tx: Tx, merchantId: string, order: Order, location: Location, command: PosSaleCommand, announce: ChangeAnnouncer): Promise<SaleConflict[]> {
  const offline = command.offline !== undefined;
  const conflicts: SaleConflict[] = [];
  for (const line of order.lines) {
    const moved = await applyStockMovement(tx, merchantId, { locationId: location.id, variantId: line.variantId!, kind: 'sale', onHandDelta: -line.quantity, sourceKey: `order:${order.id}:${line.id}:sale`, actor: `pos:${command.registerId ?? 'register'}`, orderId: order.id, requireAvailable: !offline, reason: `${offline ? 'Offline store sale' : 'Store sale'} ${command.saleId}`, ...(offline ? { occurredAt: order.placedAt } : {}) });
    if (moved.oversold) conflicts.push({ kind: 'oversold', sku: line.sku ?? '', variantId: line.variantId!, locationId: location.id, quantity: line.quantity, availableAfter: moved.level.available });
    await announce.stock(location, line.variantId!);
  }
  return conflicts;
}

/** The shopper collects later: the pickup is placed and every line reserved at the store, or nothing is. */
async function reserveForPickup(tx: Tx, merchantId: string, order: Order, location: Location, announce: ChangeAnnouncer): Promise<void> {
  const pickupId = await createPickup(tx, merchantId, order.id, location.id);
  for (const line of order.lines) {
    await reserveStock(tx, merchantId, { locationId: location.id, variantId: line.variantId!, quantity: line.quantity, kind: 'pickup', orderId: order.id, pickupId, actor: 'api:pickup' });
    await announce.stock(location, line.variantId!);
  }
}
