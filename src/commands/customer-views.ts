import { getCustomerContactDetails, getCustomerIdentities, type CustomerSummary } from '../customers/index.ts';
import type { Queryable } from '../db/index.ts';
import { combineEarnMultipliers, getLoyaltyBalances, listActiveMemberships, listLoyaltyHistory, listLots, membershipEarnMultipliers, type LoyaltyBalance } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { listRecentOrders, type OrderSummary } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';
import { readTierProgress } from './customer-tiers.ts';
import { membershipView } from './customer-memberships.ts';

const profileOrdersMax = 500;

function orderView(order: OrderSummary) {
  return {
    id: order.id,
    channel: order.channel,
    source: order.source,
    order_number: order.orderNumber,
    location_id: order.locationId,
    placed_at: order.placedAt,
    total: { amount_minor: order.totalMinor, currency: order.currency },
    refunded: { amount_minor: order.refundedMinor, currency: order.currency },
  };
}

function loyaltyView(balance: LoyaltyBalance | undefined) {
  return { available: balance?.available ?? 0, pending: balance?.pending ?? 0, tier: balance?.tier ?? null };
}

function summaryView(identity: CustomerSummary, balance: LoyaltyBalance | undefined, orders: OrderSummary[]) {
  return { id: identity.id, name: identity.name, emails: identity.emails, phones: identity.phones, loyalty_code: identity.loyaltyCode, loyalty: loyaltyView(balance), orders: orders.map(orderView) };
}

/** The full profile: identifiers, points, and the whole cross-channel history. */
export async function describeCustomer(db: Queryable, merchant: Merchant, customerId: string) {
  const [identity] = await getCustomerIdentities(db, merchant.id, [customerId]);
  if (!identity) throw new AppError('customers.not_found', `No customer ${customerId}`, { customer_id: customerId });
  const balances = await getLoyaltyBalances(db, merchant.id, [customerId], merchant.settings.loyalty.baseTier);
  const orders = await listRecentOrders(db, merchant.id, [customerId], profileOrdersMax);
  const contact = await getCustomerContactDetails(db, merchant.id, customerId);
  return {
    ...summaryView(identity, balances.get(customerId), orders.get(customerId) ?? []),
    state: identity.state,
    merged_into: identity.mergedInto,
    first_name: identity.firstName,
    last_name: identity.lastName,
    channel_ids: identity.channelIds,
    identifiers: identity.identifiers,
    addresses: contact.addresses,
    consents: contact.consents,
    note: identity.note,
    preferences: identity.preferences,
    created_at: identity.createdAt,
  };
}

export async function describeLoyalty(db: Queryable, merchant: Merchant, customerId: string) {
  const [identity] = await getCustomerIdentities(db, merchant.id, [customerId]);
  if (!identity) throw new AppError('customers.not_found', `No customer ${customerId}`, { customer_id: customerId });
  const balance = (await getLoyaltyBalances(db, merchant.id, [customerId], merchant.settings.loyalty.baseTier)).get(customerId);
  const now = new Date();
  const tier = await readTierProgress(db, merchant, customerId, now);
  const memberships = await listActiveMemberships(db, merchant.id, customerId, now.toISOString());
  return {
    customer_id: customerId,
    ...loyaltyView(balance),
    lifetime_earned: balance?.lifetimeEarned ?? 0,
    // Tier progress: qualifying_amount and thresholds are minor units of spend or points, by `metric`.
    tier: {
      name: tier.name, since: tier.since, metric: tier.metric, period: tier.period, qualifying_amount: tier.qualifyingAmount, earn_multiplier_bps: tier.earnMultiplierBps,
      next_tier: tier.nextTier ? { name: tier.nextTier.name, threshold: tier.nextTier.threshold, remaining: tier.nextTier.remaining } : null,
    },
    memberships: memberships.map((membership) => membershipView(membership, now.toISOString())),
    // What her next purchase earns at: the tier's multiplier or an active membership's, the larger.
    earn_multiplier_bps: combineEarnMultipliers(tier.earnMultiplierBps, membershipEarnMultipliers(memberships)),
    lots: (await listLots(db, merchant.id, customerId)).map((lot) => ({ id: lot.id, points: lot.points, remaining: lot.remaining, earned_at: lot.earned_at, expires_at: lot.expires_at, pending: lot.pending === 1, available_at: lot.available_at })),
    history: await listLoyaltyHistory(db, merchant.id, customerId),
  };
}
