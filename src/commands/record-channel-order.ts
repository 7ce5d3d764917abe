import { findVariantForChannelLine } from '../catalog/index.ts';
import type { CustomerClaim } from '../customers/index.ts';
import type { Tx } from '../db/index.ts';
import { applyChannelMovement } from '../inventory/index.ts';
import { baseEarnMultiplierBps, computeMultipliedPoints, earnPoints } from '../loyalty/index.ts';
import { findLocationByChannelId, findOnlineFulfilmentLocation, type Location, type Merchant } from '../merchants/index.ts';
import { findOrderBySource, insertOrder, type NewOrderLine, type Order, type OrderChannel } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso, toIso } from '../shared/clock.ts';
import { cancelOrderEffects } from './cancel-order.ts';
import { earnOptionsOf, lineEarns } from './loyalty-options.ts';
import { earnMultiplierFor, raiseTierIfQualified } from './customer-tiers.ts';
import { awardFirstStoreVisitBonus } from './loyalty-bonuses.ts';
import { raiseException } from '../sync/index.ts';
import { createChangeAnnouncer, type ChangeAnnouncer } from './announce-changes.ts';
import { resolveEventCustomer } from './resolve-order-customer.ts';
import { markRewardCodesUsedByOrder } from './online-reward-codes.ts';
import { recordChannelPromotionUses } from './promotion-uses.ts';
import { applyReferralOnOrder } from './referral-rewards.ts';
import { createMerchantEventEmitter } from '../sync/index.ts';
import { orderEventData } from './merchant-event-data.ts';

/** An order a channel took, in canonical form: no channel field names cross this line. */
export interface RecordOrderCommand {
  source: 'shopify' | 'square';
  sourceRef: string;
  channel: OrderChannel;
  orderNumber: string | null;
  placedAt: string;
  sourceUpdatedAt: string | null;
  currency: string;
  status: string;
  customer: CustomerClaim | null;
  /** The channel's id of the location that sold or fulfils it; null for web orders shipped from the online location. */
  channelLocationId: string | null;
  lines: {
    sourceRef: string;
    channelVariantId: string | null;
    sku: string | null;
    title: string;
    quantity: number;
    unitPriceMinor: number;
    discountMinor: number;
    taxMinor: number;
    giftCard: boolean;
  }[];
  subtotalMinor: number;
  discountMinor: number;
  shippingMinor: number;
  taxMinor: number;
  totalMinor: number;
  discountCodes: { code: string; amountMinor: number }[];
  /** Discounts the channel applied by itself (Shopify's automatic discounts), by title, with what each took off. */
  automaticDiscounts: { title: string; amountMinor: number }[];
  /** `sourceRef`: the channel's payment id (a Square payment), which a refund pushed to the channel names. */
  payments: { method: string; amountMinor: number; sourceRef?: string | null }[];
  /** Set when the channel cancelled the order. */
  cancelledAt?: string | null;
  /** The channel's fulfilment state (`fulfilled`, `partial`, or null while nothing shipped). */
  fulfilmentStatus?: string | null;
}

async function findSellingLocation(tx: Tx, merchant: Merchant, command: RecordOrderCommand): Promise<Location | undefined> {
  if (command.channelLocationId) return findLocationByChannelId(tx, merchant.id, command.source, command.channelLocationId);
  return findOnlineFulfilmentLocation(tx, merchant.id);
}

/**
 * Records an order a channel already took, in one transaction: the customer, the unified order,
 * the stock it moved, the points it earned, the promotion uses, and the outbox messages. A repeat
 * of the same order changes nothing.
 */
export async function recordChannelOrder(tx: Tx, merchant: Merchant, command: RecordOrderCommand): Promise<{ order: Order; created: boolean }> {
  if (command.currency !== merchant.currency) {
    throw new AppError('orders.currency_mismatch', `Order in ${command.currency}, the merchant keeps ${merchant.currency}`, { currency: command.currency });
  }
  const eventRef = `${command.source}:order:${command.sourceRef}`;
  // A replay of an order already held changes nothing, not even the profile it would resolve to
  // (a shopper erased since must not come back from an old order delivered again).
  const existing = await findOrderBySource(tx, merchant.id, command.source, command.sourceRef);
  if (existing) return { order: existing, created: false };
  const customerId = await resolveEventCustomer(tx, merchant, command.customer, eventRef);
  const location = await findSellingLocation(tx, merchant, command);
  // Her tier's (or an active membership's) multiplier as she holds it when the order is recorded.
  const multiplierBps = customerId ? await earnMultiplierFor(tx, merchant, customerId, toIso(command.placedAt)) : baseEarnMultiplierBps;
  const earning = computeMultipliedPoints(command.lines.map((line) => (lineEarns(merchant, line) ? line.unitPriceMinor * line.quantity - line.discountMinor : 0)), command.currency, merchant.settings.loyalty.pointsPerCurrencyUnit, multiplierBps);
  // A store sale at a location where loyalty is not rolled out (issue #8) earns nothing.
  const earns = customerId !== null && (command.channel !== 'store' || !location || location.workflows.loyaltyInStore);
  const pointsPerLine = earns ? earning.perLine : command.lines.map(() => 0);

  const lines: NewOrderLine[] = [];
  for (const [index, line] of command.lines.entries()) {
    const variant = await findVariantForChannelLine(tx, merchant.id, command.source, { externalVariantId: line.channelVariantId, sku: line.sku });
    lines.push({ sourceRef: line.sourceRef, variantId: variant?.id ?? null, sku: line.sku, title: line.title, quantity: line.quantity, unitPriceMinor: line.unitPriceMinor, discountMinor: line.discountMinor, taxMinor: line.taxMinor, pointsEarned: pointsPerLine[index] ?? 0, fulfilmentLocationId: location?.id ?? null, finalSale: variant?.finalSale ?? false });
  }
  const { order, created } = await insertOrder(tx, merchant.id, {
    channel: command.channel, source: command.source, sourceRef: command.sourceRef, orderNumber: command.orderNumber, customerId, locationId: command.channelLocationId ? location?.id ?? null : null,
    registerRef: null, status: command.status, currency: command.currency, subtotalMinor: command.subtotalMinor, discountMinor: command.discountMinor,
    shippingMinor: command.shippingMinor, taxMinor: command.taxMinor, totalMinor: command.totalMinor, placedAt: command.placedAt, sourceUpdatedAt: command.sourceUpdatedAt,
    lines, discounts: command.discountCodes.map((code) => ({ kind: 'channel' as const, code: code.code, promotionId: null, rewardId: null, amountMinor: code.amountMinor })),
    payments: command.payments.map((payment) => ({ method: payment.method, amountMinor: payment.amountMinor, sourceRef: payment.sourceRef ?? null })),
  });
  if (!created) return { order, created };

  // What the order announces (merchant events, channel pushes) reads the subscriptions and the
  // connected channels once for the whole order.
  const announcer = createChangeAnnouncer(tx, merchant.id);
  const merchantEvents = createMerchantEventEmitter(tx, merchant.id);
  await merchantEvents.emit('order.recorded', orderEventData(order));
  await moveSoldStock(tx, merchant, order, location, eventRef, announcer);
  const totalPoints = order.lines.reduce((sum, line) => sum + line.pointsEarned, 0);
  if (customerId && totalPoints > 0) {
    await earnPoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId, points: totalPoints, idempotencyKey: `order:${order.id}:earn`, orderId: order.id, memo: `Earned on ${command.source} order ${command.orderNumber ?? command.sourceRef}` }, earnOptionsOf(merchant));
    await merchantEvents.emit('loyalty.points_earned', { customer_id: customerId, order_id: order.id, points: totalPoints, pending: merchant.settings.loyalty.pendingDays > 0, channel: order.channel });
  }
  // An order first seen already cancelled is undone right after; it neither visits nor qualifies.
  if (customerId && !command.cancelledAt) {
    if (order.channel === 'store' && earns) await awardFirstStoreVisitBonus(tx, merchant, customerId, order.id);
    await raiseTierIfQualified(tx, merchant, customerId);
  }
  // Shopify cannot know the uses of the other channels: a use past a limit is recorded and raised.
  await recordChannelPromotionUses(tx, merchant, order, command.discountCodes, command.automaticDiscounts);
  await markRewardCodesUsedByOrder(tx, merchant.id, order, command.discountCodes.map((code) => code.code));
  await applyReferralOnOrder(tx, merchant, order);
  if (customerId) await announcer.customer(customerId);
  return { order, created };
}

/** The channel already sold these units: record the sale as it happened and flag what went wrong. */
async function moveSoldStock(tx: Tx, merchant: Merchant, order: Order, location: Location | undefined, eventRef: string, announcer: ChangeAnnouncer): Promise<void> {
  for (const line of order.lines) {
    if (!line.variantId) {
      await raiseException(tx, merchant.id, { kind: 'unmapped_sku', dedupeKey: `unmapped:${order.id}:${line.id}`, subject: line.sku ?? line.title, details: { order_id: order.id, line_id: line.id, sku: line.sku, title: line.title, event: eventRef } });
      continue;
    }
    if (!location) {
      await raiseException(tx, merchant.id, { kind: 'unmapped_sku', dedupeKey: `unlocated:${order.id}`, subject: order.id, details: { order_id: order.id, reason: 'no location maps to the channel location, and no location fulfils online orders', event: eventRef } });
      return;
    }
    const result = await applyChannelMovement(tx, merchant.id, order.source, { locationId: location.id, variantId: line.variantId, kind: 'sale', onHandDelta: -line.quantity, sourceKey: `order:${order.id}:${line.id}:sale`, actor: eventRef, orderId: order.id, requireAvailable: false, occurredAt: order.placedAt, reason: `Sold on ${order.source} order ${order.orderNumber ?? order.sourceRef}` });
    if (result.oversold) {
      await raiseException(tx, merchant.id, { kind: 'oversell', dedupeKey: `oversell:${order.id}:${line.id}`, subject: line.sku ?? line.variantId, details: { order_id: order.id, location_id: location.id, variant_id: line.variantId, available: result.level.available } });
    }
    await announcer.stock(location, line.variantId);
  }
}

export type OrderUpdateOutcome = 'recorded' | 'updated' | 'cancelled' | 'stale' | 'unchanged';

/**
 * Applies a channel's later version of an order (Shopify `orders/updated`, `orders/cancelled`):
 * the record is updated, never duplicated; an older version than the one held is not applied; a
 * cancellation undoes what the order did. The first sight of an order may be an update.
 */
export async function updateChannelOrder(tx: Tx, merchant: Merchant, command: RecordOrderCommand): Promise<OrderUpdateOutcome> {
  const existing = await findOrderBySource(tx, merchant.id, command.source, command.sourceRef);
  if (!existing) {
    const { order } = await recordChannelOrder(tx, merchant, command);
    // First seen through an update: the record takes the update's fulfilment state too, so the
    // older orders/create arriving after it finds nothing left to change.
    if (command.fulfilmentStatus) await tx.updateTable('orders').set({ fulfilment_status: command.fulfilmentStatus }).where('merchant_id', '=', merchant.id).where('id', '=', order.id).execute();
    if (command.cancelledAt) await cancelOrderEffects(tx, merchant, order, { restockSoldUnits: !command.fulfilmentStatus, actor: `${command.source}:cancel`, cancelledAt: command.cancelledAt });
    return 'recorded';
  }
  const held = await tx.selectFrom('orders').select(['source_updated_at', 'cancelled_at', 'status', 'fulfilment_status']).where('merchant_id', '=', merchant.id).where('id', '=', existing.id).executeTakeFirstOrThrow();
  if (command.sourceUpdatedAt && held.source_updated_at && command.sourceUpdatedAt < held.source_updated_at) return 'stale';
  if (command.cancelledAt && !held.cancelled_at) {
    await cancelOrderEffects(tx, merchant, existing, { restockSoldUnits: !command.fulfilmentStatus, actor: `${command.source}:cancel`, cancelledAt: command.cancelledAt });
    await tx.updateTable('orders').set({ source_updated_at: command.sourceUpdatedAt, fulfilment_status: command.fulfilmentStatus ?? null }).where('merchant_id', '=', merchant.id).where('id', '=', existing.id).execute();
    return 'cancelled';
  }
  const status = held.cancelled_at ? 'cancelled' : command.status;
  if (status === held.status && (command.fulfilmentStatus ?? null) === held.fulfilment_status && command.sourceUpdatedAt === held.source_updated_at) return 'unchanged';
  await tx.updateTable('orders').set({ status, fulfilment_status: command.fulfilmentStatus ?? null, source_updated_at: command.sourceUpdatedAt, updated_at: nowIso() }).where('merchant_id', '=', merchant.id).where('id', '=', existing.id).execute();
  return 'updated';
}
