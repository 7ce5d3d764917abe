import {
  findLookupMatches, getCustomerContactDetails, getCustomerIdentities, parseLookupQuery, rankedLookupIds, readLookupProfiles, soleLookupIdentifier,
  type CustomerLookupProfile, type CustomerSummary, type LookupSearch,
} from '../customers/index.ts';
import type { Queryable } from '../db/index.ts';
import { combineEarnMultipliers, getLoyaltyBalances, listActiveMemberships, listLoyaltyHistory, listLots, membershipEarnMultipliers, type LoyaltyBalance } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { listRecentOrders, readRecentOrders, type OrderSummary } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';
import { lookupHoldersAnswer, lookupOrdersPerCustomer } from './lookup-answer.ts';
import { identityRulesOf } from './resolve-order-customer.ts';
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

export type CustomerSummaryView = ReturnType<typeof summaryView>;

function lookupView(merchant: Merchant, profile: CustomerLookupProfile, orders: OrderSummary[] | undefined) {
  return {
    id: profile.id, name: profile.name, emails: profile.emails, phones: profile.phones, loyalty_code: profile.loyaltyCode,
    // A customer without a loyalty account shows the base tier, as getLoyaltyBalances reads her.
    loyalty: { available: profile.loyalty.available, pending: profile.loyalty.pending, tier: profile.loyalty.tier ?? merchant.settings.loyalty.baseTier },
    orders: (orders ?? []).map(orderView),
  };
}

/**
 * What the register shows for a search by name or loyalty code: ranked profiles with points and
 * recent orders from every channel. Each statement is compiled once. A name search reads its
 * matches with their profiles in one statement; then the exact matches' profiles (phone, loyalty
 * code, read by id) and everyone's latest orders are read together (found by
 * bench/customer-lookup.ts, issue #9).
 */
async function lookupCustomerSummaries(db: Queryable, merchant: Merchant, search: LookupSearch): Promise<CustomerSummaryView[]> {
  const { exactIds, byName } = await findLookupMatches(db, merchant.id, search);
  const ids = rankedLookupIds(exactIds, byName);
  const named = new Map(byName.map((profile) => [profile.id, profile]));
  // Both reads need only the ids: sent together, the reader thread runs the second as soon as the
  // first is done instead of after a turn of the event loop.
  const [exact, orders] = await Promise.all([
    readLookupProfiles(db, merchant.id, exactIds.filter((id) => !named.has(id))),
    readRecentOrders(db, merchant.id, ids, lookupOrdersPerCustomer),
  ]);
  const profiles = new Map([...named, ...exact.map((profile) => [profile.id, profile] as const)]);
  return ids.flatMap((id) => {
    const profile = profiles.get(id);
    return profile ? [lookupView(merchant, profile, orders.get(id))] : [];
  });
}

/**
 * The register's answer to what an associate typed, `{"data":[…]}`, as JSON text. A search for
 * one email or phone is answered whole by the database (`lookupHoldersAnswer`, lookup-answer.ts);
 * a name, a loyalty code, or a phone that is also a code is built here from the rows found.
 */
export async function lookupAnswer(db: Queryable, merchant: Merchant, query: string): Promise<string> {
  const search = parseLookupQuery(query, identityRulesOf(merchant));
  const identifier = soleLookupIdentifier(search);
  if (identifier) return lookupHoldersAnswer(db, merchant, identifier);
  return JSON.stringify({ data: await lookupCustomerSummaries(db, merchant, search) });
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
