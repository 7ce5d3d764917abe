import { getCustomerIdentity } from '../customers/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import { createMembership, endMembership, isMembershipActive, listMemberships, type Membership, type MembershipKind } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { toIso } from '../shared/clock.ts';

/** A membership as the API shows it, with whether it is active at `now`. */
export function membershipView(membership: Membership, now: string) {
  return {
    id: membership.id,
    customer_id: membership.customerId,
    name: membership.name,
    kind: membership.kind,
    starts_at: membership.startsAt,
    ends_at: membership.endsAt,
    perks: membership.perks.earnMultiplierBps === undefined ? {} : { earn_multiplier_bps: membership.perks.earnMultiplierBps },
    active: isMembershipActive(membership, now),
    created_at: membership.createdAt,
  };
}

export type MembershipView = ReturnType<typeof membershipView>;

/** Memberships go to a live profile; a merged one's points and purchases now belong to its survivor. */
async function requireActiveCustomer(db: Queryable, merchantId: string, customerId: string): Promise<string> {
  const identity = await getCustomerIdentity(db, merchantId, customerId);
  if (identity.state !== 'active') {
    throw new AppError('customers.state_conflict', `Customer ${customerId} is ${identity.state}${identity.mergedInto ? ` into ${identity.mergedInto}` : ''}`, { customer_id: customerId, state: identity.state, merged_into: identity.mergedInto });
  }
  return identity.id;
}

/**
 * Grants a paid or invited membership, starting now unless told otherwise.
 * Example: `await grantMembership(tx, merchant, 'cus_1', { name: 'VIP Club', kind: 'paid', startsAt: null, endsAt: '2027-01-01T00:00:00Z', earnMultiplierBps: 20000 })`.
 */
export async function grantMembership(tx: Tx, merchant: Merchant, customerId: string, input: { name: string; kind: MembershipKind; startsAt: string | null; endsAt: string | null; earnMultiplierBps: number | null }, now = new Date()): Promise<MembershipView> {
  const id = await requireActiveCustomer(tx, merchant.id, customerId);
  const membership = await createMembership(tx, merchant.id, {
    customerId: id, name: input.name, kind: input.kind, startsAt: input.startsAt ? toIso(input.startsAt) : now.toISOString(), endsAt: input.endsAt ? toIso(input.endsAt) : null,
    perks: input.earnMultiplierBps === null ? {} : { earnMultiplierBps: input.earnMultiplierBps }, now: now.toISOString(),
  });
  return membershipView(membership, now.toISOString());
}

/** Every membership of a customer, past and future ones included. */
export async function listCustomerMemberships(db: Queryable, merchant: Merchant, customerId: string, now = new Date()): Promise<MembershipView[]> {
  const identity = await getCustomerIdentity(db, merchant.id, customerId);
  return (await listMemberships(db, merchant.id, identity.id)).map((membership) => membershipView(membership, now.toISOString()));
}

/** Ends a membership now; ending one already ended changes nothing. */
export async function endCustomerMembership(tx: Tx, merchant: Merchant, membershipId: string, now = new Date()): Promise<MembershipView> {
  return membershipView(await endMembership(tx, merchant.id, membershipId, now.toISOString()), now.toISOString());
}
