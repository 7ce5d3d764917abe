import { getCustomerIdentity, isBlockedIdentifier, normalizeEmail, normalizePhone, type IdentityRules, type NormalizedIdentifier } from '../customers/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import {
  countReferralsSince, createReferralCode, ensureLoyaltyAccount, findReferralCode, findReferralOfFriend, findReferrerIdByCode, getReferral,
  insertReferral, listReferralsOfCustomer, lockReferralCode, moveReferral, parseReferralCode, type Referral, type ReferralCode,
} from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { activeExceptionStates, raiseException, writeAudit, type ExceptionKind } from '../sync/index.ts';
import { findActiveCustomerId, startReferralReturnWindow } from './referral-rewards.ts';
import { identityRulesOf, resolveEventCustomer } from './resolve-order-customer.ts';

const dayMs = 86_400_000;

// The exceptions table takes any kind; the `ExceptionKind` union in sync/exceptions.ts does not
// list this one yet, so it is widened here, in one place, until it does.
const referralReviewKind: ExceptionKind = 'referral_review';

/** Why a claim is refused; nothing is written. */
export type ReferralRefusalReason = 'unknown_code' | 'self_referral' | 'already_referred' | 'already_customer';

export interface ReferralClaim {
  code: string;
  friend: { customerId?: string | null; email?: string | null; phone?: string | null; firstName?: string | null; lastName?: string | null };
}

function refuse(reason: ReferralRefusalReason, message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('loyalty.referral_refused', message, { reason, ...details });
}

/** The member's referral code, issued on the first ask. */
export async function getOrCreateReferralCode(tx: Tx, merchant: Merchant, customerId: string): Promise<ReferralCode> {
  const identity = await getCustomerIdentity(tx, merchant.id, customerId);
  if (identity.state !== 'active') throw new AppError('loyalty.referral_not_applicable', `Customer ${customerId} is ${identity.state}; only an active member refers friends`, { customer_id: customerId, state: identity.state });
  return (await findReferralCode(tx, merchant.id, identity.id)) ?? createReferralCode(tx, merchant.id, identity.id);
}

/** The friend's profile: the one named by id (following merges), or the one her email or phone resolves to, enrolled if new. */
async function resolveFriend(tx: Tx, merchant: Merchant, claim: ReferralClaim, code: string): Promise<string> {
  const friend = claim.friend;
  if (friend.customerId) {
    const id = await findActiveCustomerId(tx, merchant.id, friend.customerId);
    if (!id) throw new AppError('customers.not_found', `No active customer ${friend.customerId}`, { field: 'friend.customer_id', customer_id: friend.customerId });
    return id;
  }
  const id = await resolveEventCustomer(tx, merchant, { email: friend.email ?? null, phone: friend.phone ?? null, firstName: friend.firstName ?? null, lastName: friend.lastName ?? null, source: 'referral' }, `referral:${code}`);
  if (!id) throw new AppError('customers.identifier_required', 'The email and phone given for the friend cannot identify anyone (invalid or blocked)', { field: 'friend.email' });
  return id;
}

/** Emails and phones that could name one person: valid, and neither a placeholder nor on the merchant's blocked list. */
function isPersonal(identifier: NormalizedIdentifier, rules: IdentityRules): boolean {
  return identifier.valid && !isBlockedIdentifier(identifier, rules);
}

/**
 * What the referrer and the friend share: an email or a phone (normalized; values flagged too
 * common are compared as well, since a household or a ring of accounts is what this looks for,
 * while blocked and invalid ones are not), or an address. The friend's side includes what she
 * gave in this claim, even when identity resolution did not link it to her profile.
 */
async function findSharedIdentity(tx: Tx, merchant: Merchant, referrerId: string, friendId: string, claim: ReferralClaim): Promise<('email' | 'phone' | 'address')[]> {
  const rules = identityRulesOf(merchant);
  const identifiers = await tx
    .selectFrom('customer_identifiers')
    .select(['customer_id', 'kind', 'value_normalized'])
    .where('merchant_id', '=', merchant.id)
    .where('customer_id', 'in', [referrerId, friendId])
    .where('kind', 'in', ['email', 'phone'])
    .where((eb) => eb.or([eb('flag', 'is', null), eb('flag', '=', 'over_limit')]))
    .execute();
  const values = (owner: string) => identifiers.filter((row) => row.customer_id === owner).map((row) => ({ kind: row.kind === 'email' ? 'email' as const : 'phone' as const, original: row.value_normalized, normalized: row.value_normalized, valid: true }));
  const claimed = [
    ...(claim.friend.email ? [normalizeEmail(claim.friend.email, rules.foldGmailAddresses)] : []),
    ...(claim.friend.phone ? [normalizePhone(claim.friend.phone, rules.defaultCountry)] : []),
  ];
  const referrerValues = values(referrerId).filter((identifier) => isPersonal(identifier, rules));
  const friendValues = [...values(friendId), ...claimed].filter((identifier) => isPersonal(identifier, rules));
  const shared = new Set<'email' | 'phone' | 'address'>();
  for (const value of friendValues) {
    if (referrerValues.some((other) => other.kind === value.kind && other.normalized === value.normalized)) shared.add(value.kind === 'email' ? 'email' : 'phone');
  }
  const addresses = await tx.selectFrom('customer_addresses').select(['customer_id', 'fingerprint']).where('merchant_id', '=', merchant.id).where('customer_id', 'in', [referrerId, friendId]).execute();
  const referrerAddresses = new Set(addresses.filter((row) => row.customer_id === referrerId).map((row) => row.fingerprint));
  if (addresses.some((row) => row.customer_id === friendId && referrerAddresses.has(row.fingerprint))) shared.add('address');
  return [...shared];
}

interface ReviewFinding {
  reasons: string[];
  details: Record<string, unknown>;
}

/** Why a claim needs a person: a second profile of the referrer herself, or too many referrals too fast. */
async function findReviewReasons(tx: Tx, merchant: Merchant, referrerId: string, friendId: string, claim: ReferralClaim): Promise<ReviewFinding> {
  const reasons: string[] = [];
  const shared = await findSharedIdentity(tx, merchant, referrerId, friendId, claim);
  if (shared.length > 0) reasons.push(`shares ${shared.join(', ')} with the referrer`);
  const { velocityMax, velocityWindowDays } = merchant.settings.loyalty.referral;
  const since = new Date(Date.now() - velocityWindowDays * dayMs).toISOString();
  const recent = await countReferralsSince(tx, merchant.id, referrerId, since);
  if (recent >= velocityMax) reasons.push(`more than ${velocityMax} referrals within ${velocityWindowDays} days`);
  return { reasons, details: { shared, referrals_in_window: recent + 1, velocity_max: velocityMax, velocity_window_days: velocityWindowDays } };
}

/**
 * A friend claims a member's referral code. Refused (nothing written) when the code is unknown,
 * the friend is the referrer, was already referred, or already has an order; sent to review when
 * she shares an identity with the referrer or the referrer is over the velocity limit; otherwise
 * pending until her first order. The friend is enrolled when new.
 * Example: `await claimReferral(tx, merchant, { code: 'REF-7KQ2M9', friend: { email: 'sam@example.com' } })`.
 */
export async function claimReferral(tx: Tx, merchant: Merchant, claim: ReferralClaim): Promise<Referral> {
  const code = parseReferralCode(claim.code);
  const holderId = code ? await findReferrerIdByCode(tx, merchant.id, code) : undefined;
  const referrerId = holderId ? await findActiveCustomerId(tx, merchant.id, holderId) : undefined;
  if (!code || !holderId || !referrerId) throw refuse('unknown_code', `No member holds referral code ${claim.code}`, { field: 'code' });
  const friendId = await resolveFriend(tx, merchant, claim, code);
  if (friendId === referrerId) throw refuse('self_referral', 'The friend is the referrer herself', { referrer_id: referrerId });
  const earlier = await findReferralOfFriend(tx, merchant.id, friendId);
  if (earlier) throw refuse('already_referred', 'This friend was already referred', { friend_id: friendId, referral_id: earlier.id });
  const order = await tx.selectFrom('orders').select('id').where('merchant_id', '=', merchant.id).where('customer_id', '=', friendId).limit(1).executeTakeFirst();
  if (order) throw refuse('already_customer', 'The friend is already a customer', { friend_id: friendId });

  await lockReferralCode(tx, merchant.id, holderId);
  const review = await findReviewReasons(tx, merchant, referrerId, friendId, claim);
  const inReview = review.reasons.length > 0;
  const referral = await insertReferral(tx, merchant.id, { referrerId, friendId, state: inReview ? 'review' : 'pending', reason: inReview ? review.reasons.join('; ') : null });
  // Another claim for the same friend committed between the check and this insert.
  if (!referral) throw refuse('already_referred', 'This friend was already referred', { friend_id: friendId });
  await ensureLoyaltyAccount(tx, merchant.id, friendId, merchant.settings.loyalty.baseTier);
  if (inReview) {
    await raiseException(tx, merchant.id, { kind: referralReviewKind, dedupeKey: reviewKey(referral.id), subject: referral.id, details: { referral_id: referral.id, referrer_id: referrerId, friend_id: friendId, code, reasons: review.reasons, ...review.details } });
  }
  return referral;
}

function reviewKey(referralId: string): string {
  return `referral:${referralId}:review`;
}

async function closeReview(tx: Tx, merchantId: string, referral: Referral, decision: { state: 'pending' | 'refused'; reason: string | null; resolution: string; actor: string }): Promise<void> {
  if (referral.state !== 'review' || !(await moveReferral(tx, merchantId, referral.id, 'review', { state: decision.state, reason: decision.reason, closed: decision.state === 'refused' }))) {
    throw new AppError('loyalty.referral_conflict', `Referral ${referral.id} is ${referral.state}, not in review`, { referral_id: referral.id, state: referral.state });
  }
  await tx.updateTable('exceptions').set({ state: 'resolved', resolution: decision.resolution, resolved_at: nowIso(), updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('dedupe_key', '=', reviewKey(referral.id)).where('state', 'in', activeExceptionStates).execute();
  await writeAudit(tx, merchantId, { actor: decision.actor, action: `loyalty.referral_${decision.state === 'pending' ? 'approve' : 'reject'}`, subject: referral.id, details: { review_reason: referral.reason, resolution: decision.resolution } });
}

/**
 * A person approves a referral held for review: it becomes pending. When the friend ordered while
 * it waited, her earliest order that was not cancelled is her first order and starts the window now.
 */
export async function approveReferral(tx: Tx, merchant: Merchant, referralId: string, input: { actor: string; note: string | null }): Promise<Referral> {
  const referral = await getReferral(tx, merchant.id, referralId);
  await closeReview(tx, merchant.id, referral, { state: 'pending', reason: null, resolution: input.note ? `approved: ${input.note}` : 'approved', actor: input.actor });
  const first = await tx
    .selectFrom('orders')
    .select('id')
    .where('merchant_id', '=', merchant.id)
    .where('customer_id', '=', referral.friendId)
    .where('status', '!=', 'cancelled')
    .orderBy('placed_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  const pending = await getReferral(tx, merchant.id, referralId);
  if (first) await startReferralReturnWindow(tx, merchant, pending, await getOrderSummary(tx, merchant.id, first.id));
  return getReferral(tx, merchant.id, referralId);
}

async function getOrderSummary(db: Queryable, merchantId: string, orderId: string) {
  return db.selectFrom('orders').select(['id', 'placed_at as placedAt', 'order_number as orderNumber', 'source_ref as sourceRef']).where('merchant_id', '=', merchantId).where('id', '=', orderId).executeTakeFirstOrThrow();
}

/** A person rejects a referral held for review: it is refused for good. */
export async function rejectReferral(tx: Tx, merchant: Merchant, referralId: string, input: { actor: string; note: string | null }): Promise<Referral> {
  const referral = await getReferral(tx, merchant.id, referralId);
  const reason = input.note ? `rejected on review: ${input.note}` : 'rejected on review';
  await closeReview(tx, merchant.id, referral, { state: 'refused', reason, resolution: reason, actor: input.actor });
  return getReferral(tx, merchant.id, referralId);
}

/** The referrals a member made and the one she was named in, with their states, newest first. */
export async function listCustomerReferrals(db: Queryable, merchant: Merchant, customerId: string): Promise<Referral[]> {
  const identity = await getCustomerIdentity(db, merchant.id, customerId);
  return listReferralsOfCustomer(db, merchant.id, identity.id);
}

/** A referral as the API shows it. */
export function referralView(referral: Referral) {
  return {
    id: referral.id, referrer_id: referral.referrerId, friend_id: referral.friendId, state: referral.state, reason: referral.reason,
    order_id: referral.orderId, created_at: referral.createdAt, qualifies_at: referral.qualifiesAt, closed_at: referral.closedAt,
  };
}
