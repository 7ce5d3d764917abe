import type { Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import type { Order } from '../orders/index.ts';
import { countPromotionUsage, findOnlineAutomaticPromotionByName, findPromotionByCode, recordPromotionRedemption, type Promotion } from '../promotions/index.ts';
import { enqueueOutbox, raiseException, type ExceptionKind } from '../sync/index.ts';

// Uses of promotions, counted across channels (issue #6). A register sale was priced by the engine
// and its limits were checked under the promotion's lock; a channel order already granted its
// discounts, so it is recorded as it happened and a use past a limit raises an exception for a
// person. When the uses reach a total limit, Shopify is told to stop accepting the promotion:
// it cannot count the uses of the other channels itself.

const promotionLimitExceeded: ExceptionKind = 'promotion_limit_exceeded';

interface PromotionUse {
  promotion: Promotion;
  amountMinor: number;
}

/** The limit one more use passes, counted before it; null when within both limits. */
function limitPassed(promotion: Promotion, usedBefore: { total: number; byCustomer: number }, customerId: string | null): { limit: 'usage_limit_total' | 'usage_limit_per_customer'; max: number; used: number } | null {
  if (promotion.totalUsageMax !== null && usedBefore.total + 1 > promotion.totalUsageMax) return { limit: 'usage_limit_total', max: promotion.totalUsageMax, used: usedBefore.total };
  if (promotion.perCustomerUsageMax !== null && customerId !== null && usedBefore.byCustomer + 1 > promotion.perCustomerUsageMax) return { limit: 'usage_limit_per_customer', max: promotion.perCustomerUsageMax, used: usedBefore.byCustomer };
  return null;
}

/** A use recorded past one of its promotion's limits. */
export interface PromotionLimitPassed {
  promotion: Promotion;
  limit: 'usage_limit_total' | 'usage_limit_per_customer';
  max: number;
  used: number;
}

/**
 * Records one use of each promotion by the order, once (a replay records nothing). A use past a
 * limit is recorded all the same (the channel granted it), raises `promotion_limit_exceeded` and is
 * returned; a use that reaches the total limit tells Shopify to deactivate the promotion's discount.
 */
export async function recordPromotionUses(tx: Tx, merchant: Merchant, order: Order, uses: PromotionUse[]): Promise<PromotionLimitPassed[]> {
  const passedLimits: PromotionLimitPassed[] = [];
  const limited = uses.filter(({ promotion }) => promotion.totalUsageMax !== null || promotion.perCustomerUsageMax !== null).map(({ promotion }) => promotion.id);
  const before = await countPromotionUsage(tx, merchant.id, limited, order.customerId);
  for (const { promotion, amountMinor } of uses) {
    const recorded = await recordPromotionRedemption(tx, merchant.id, { promotionId: promotion.id, orderId: order.id, customerId: order.customerId, channel: order.channel, amountMinor });
    if (!recorded) continue;
    const usedBefore = before.get(promotion.id) ?? { total: 0, byCustomer: 0 };
    const passed = limitPassed(promotion, usedBefore, order.customerId);
    if (passed) {
      passedLimits.push({ promotion, ...passed });
      await raiseException(tx, merchant.id, {
        kind: promotionLimitExceeded, dedupeKey: `promotion-limit:${order.id}:${promotion.id}`, subject: promotion.code ?? promotion.name,
        details: { promotion_id: promotion.id, code: promotion.code, order_id: order.id, source: order.source, channel: order.channel, customer_id: order.customerId, reason: passed.limit, max: passed.max, used_before: passed.used, amount_minor: amountMinor },
      });
    }
    if (promotion.totalUsageMax !== null && usedBefore.total + 1 >= promotion.totalUsageMax && promotion.channels.includes('online')) {
      await enqueueOutbox(tx, merchant.id, { destination: 'shopify', kind: 'promotion.deactivate', coalesceKey: `promotion:${promotion.id}:deactivate`, payload: { promotion_id: promotion.id, reason: 'usage_limit_total' } });
    }
  }
  return passedLimits;
}

/**
 * The promotions a channel order used, counted like any use: those it names by code (Shopify
 * `discount_codes`) and the automatic ones Shopify applied by itself, known by the title
 * Continuum gave the automatic discount it pushed (the promotion's name).
 */
export async function recordChannelPromotionUses(tx: Tx, merchant: Merchant, order: Order, codes: { code: string; amountMinor: number }[], automatic: { title: string; amountMinor: number }[]): Promise<PromotionLimitPassed[]> {
  const uses: PromotionUse[] = [];
  for (const code of codes) {
    const promotion = await findPromotionByCode(tx, merchant.id, code.code);
    if (promotion) uses.push({ promotion, amountMinor: code.amountMinor });
  }
  for (const discount of automatic) {
    const promotion = await findOnlineAutomaticPromotionByName(tx, merchant.id, discount.title);
    if (promotion && !uses.some((use) => use.promotion.id === promotion.id)) uses.push({ promotion, amountMinor: discount.amountMinor });
  }
  return recordPromotionUses(tx, merchant, order, uses);
}
