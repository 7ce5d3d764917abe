import { reuseQuery, type ParameterPlaceholders, type Queryable, type ReferralsTable, type Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { generateReferralCode } from './referral-code.ts';

/**
 * pending: claimed, waiting for the friend's first order. review: a person decides (shared
 * identity, velocity). awaiting_return_window: the friend ordered and got her reward; the referrer
 * is paid when the order clears its return window. paid and refused are final.
 */
export type ReferralState = 'pending' | 'awaiting_return_window' | 'paid' | 'review' | 'refused';

export interface Referral {
  id: string;
  referrerId: string;
  friendId: string;
  state: ReferralState;
  orderId: string | null;
  reason: string | null;
  createdAt: string;
  qualifiesAt: string | null;
  closedAt: string | null;
}

export interface ReferralCode {
  customerId: string;
  code: string;
  createdAt: string;
}

const referralStates: readonly ReferralState[] = ['pending', 'awaiting_return_window', 'paid', 'review', 'refused'];
const referralCodeAttemptsMax = 5;
export const referralListMax = 500;

function toReferral(row: ReferralsTable): Referral {
  const state = referralStates.find((known) => known === row.state);
  assert(state, `referral ${row.id} has a known state`);
  return { id: row.id, referrerId: row.referrer_id, friendId: row.friend_id, state, orderId: row.order_id, reason: row.reason, createdAt: row.created_at, qualifiesAt: row.qualifies_at, closedAt: row.closed_at };
}

export async function findReferralCode(db: Queryable, merchantId: string, customerId: string): Promise<ReferralCode | undefined> {
  const row = await db.selectFrom('referral_codes').select(['code', 'created_at']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
  return row ? { customerId, code: row.code, createdAt: row.created_at } : undefined;
}

/**
 * Gives a member her referral code, once: a concurrent first ask for the same member keeps one
 * code (the primary key), and a code another member holds is never issued twice (checked before
 * writing, so a collision never aborts the transaction).
 */
export async function createReferralCode(tx: Tx, merchantId: string, customerId: string): Promise<ReferralCode> {
  for (let attempt = 1; attempt <= referralCodeAttemptsMax; attempt += 1) {
    const code = generateReferralCode();
    const taken = await tx.selectFrom('referral_codes').select('customer_id').where('merchant_id', '=', merchantId).where('code', '=', code).executeTakeFirst();
    if (taken) continue;
    await tx
      .insertInto('referral_codes')
      .values({ merchant_id: merchantId, customer_id: customerId, code, created_at: nowIso() })
      .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id']).doNothing())
      .execute();
    const held = await findReferralCode(tx, merchantId, customerId);
    assert(held, 'a member holds a referral code once it is issued');
    return held;
  }
  assert(false, 'a free referral code within the attempts allowed');
}

/** The member a canonical referral code belongs to. */
export async function findReferrerIdByCode(db: Queryable, merchantId: string, code: string): Promise<string | undefined> {
  const row = await db.selectFrom('referral_codes').select('customer_id').where('merchant_id', '=', merchantId).where('code', '=', code).executeTakeFirst();
  return row?.customer_id;
}

/**
 * Takes the referrer's code row for the rest of the transaction (a no-op update locks it on
 * PostgreSQL; SQLite transactions already hold the write lock), so two claims of one code are
 * counted against the velocity limit one after the other, never both against the same count.
 */
export async function lockReferralCode(tx: Tx, merchantId: string, customerId: string): Promise<void> {
  const result = await tx.updateTable('referral_codes').set((eb) => ({ code: eb.ref('code') })).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
  assert(Number(result.numUpdatedRows) === 1, 'the referrer holds the code being claimed');
}

/** Records a referral; undefined when the friend was already referred (one referral per friend, by the unique index). */
export async function insertReferral(tx: Tx, merchantId: string, input: { referrerId: string; friendId: string; state: 'pending' | 'review'; reason: string | null }): Promise<Referral | undefined> {
  assert(input.referrerId !== input.friendId, 'a referral names two different customers');
  const row: ReferralsTable = { merchant_id: merchantId, id: newId('ref'), referrer_id: input.referrerId, friend_id: input.friendId, state: input.state, order_id: null, reason: input.reason, created_at: nowIso(), qualifies_at: null, closed_at: null };
  const inserted = await tx
    .insertInto('referrals')
    .values(row)
    .onConflict((conflict) => conflict.columns(['merchant_id', 'friend_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted ? toReferral(row) : undefined;
}

export async function getReferral(db: Queryable, merchantId: string, referralId: string): Promise<Referral> {
  const row = await db.selectFrom('referrals').selectAll().where('merchant_id', '=', merchantId).where('id', '=', referralId).executeTakeFirst();
  if (!row) throw new AppError('loyalty.referral_not_found', `No referral ${referralId}`, { referral_id: referralId });
  return toReferral(row);
}

// Read by every order, built and compiled once: Kysely's building and compiling cost ~70 µs of CPU
// per statement (found by bench/orders-end-to-end.ts, issue #9).
const referralByFriend = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; friendId: string }>) => db
  .selectFrom('referrals').selectAll().where('merchant_id', '=', param('merchantId')).where('friend_id', '=', param('friendId')));

/** The referral that names this customer as the friend, if any (there is at most one). */
export async function findReferralOfFriend(db: Queryable, merchantId: string, friendId: string): Promise<Referral | undefined> {
  const [row] = await referralByFriend.execute(db, { merchantId, friendId });
  return row ? toReferral(row) : undefined;
}

/** How many referrals a member made since a moment, whatever became of them. */
export async function countReferralsSince(db: Queryable, merchantId: string, referrerId: string, since: string): Promise<number> {
  const row = await db.selectFrom('referrals').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('referrer_id', '=', referrerId).where('created_at', '>=', since).executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Referrals a customer made or was named in, newest first. */
export async function listReferralsOfCustomer(db: Queryable, merchantId: string, customerId: string): Promise<Referral[]> {
  const rows = await db
    .selectFrom('referrals')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where((eb) => eb.or([eb('referrer_id', '=', customerId), eb('friend_id', '=', customerId)]))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(referralListMax)
    .execute();
  return rows.map(toReferral);
}

export interface ReferralChange {
  state: ReferralState;
  orderId?: string;
  qualifiesAt?: string;
  reason?: string | null;
  closed?: boolean;
}

/**
 * Moves a referral from one state to the next with one conditional update; false when it was no
 * longer in `from` (another transaction moved it first), so every step happens once.
 */
export async function moveReferral(tx: Tx, merchantId: string, referralId: string, from: ReferralState, change: ReferralChange): Promise<boolean> {
  const result = await tx
    .updateTable('referrals')
    .set({
      state: change.state,
      ...(change.orderId !== undefined ? { order_id: change.orderId } : {}),
      ...(change.qualifiesAt !== undefined ? { qualifies_at: change.qualifiesAt } : {}),
      ...(change.reason !== undefined ? { reason: change.reason } : {}),
      ...(change.closed ? { closed_at: nowIso() } : {}),
    })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', referralId)
    .where('state', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Referrals whose friend's first order has cleared its return window, oldest first, across merchants. */
export async function listQualifiedReferrals(db: Queryable, now: string, limit: number): Promise<{ merchantId: string; id: string }[]> {
  const rows = await db.selectFrom('referrals').select(['merchant_id', 'id']).where('state', '=', 'awaiting_return_window').where('qualifies_at', '<=', now).orderBy('qualifies_at').orderBy('id').limit(limit).execute();
  return rows.map((row) => ({ merchantId: row.merchant_id, id: row.id }));
}
