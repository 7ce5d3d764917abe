import { createHash, randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../db/index.ts';
import { merchantFromColumns, type Merchant } from '../merchants/index.ts';
import { nowIso, nowMs } from '../shared/clock.ts';
import { passwordDecoyHash, verifyPassword } from './password-hash.ts';
import { normaliseStaffEmail, toStaffUser, type StaffUser } from './staff-service.ts';

// A session is a random 32-byte token held by the browser in an HttpOnly cookie. Only its SHA-256
// is stored: a copy of the database, or of the logs, signs no one in. A session ends when it
// expires (12 hours after sign-in), when its person signs out, or when the person is disabled.

export const staffSessionLifetimeMs = 12 * 60 * 60 * 1000;
const tokenBytes = 32;
/** Accounts one email may have across merchants that a sign-in checks the password against. */
const accountsPerEmailMax = 20;

/** Who a session belongs to, as the console shows it. */
export interface StaffSession {
  staff: StaffUser;
  homeLocationName: string | null;
  merchant: Merchant;
  expiresAt: string;
}

export type SignInResult =
  | { outcome: 'signed_in'; session: StaffSession; token: string }
  | { outcome: 'invalid_credentials' }
  /** The email and password are right at several merchants: the caller must name one. */
  | { outcome: 'merchant_required'; merchants: { id: string; name: string }[] };

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function accountsQuery(db: Queryable) {
  return db
    .selectFrom('staff_users')
    .innerJoin('merchants', 'merchants.id', 'staff_users.merchant_id')
    .leftJoin('locations', (join) => join.onRef('locations.merchant_id', '=', 'staff_users.merchant_id').onRef('locations.id', '=', 'staff_users.home_location_id'))
    .select([
      'staff_users.id', 'staff_users.merchant_id', 'staff_users.email', 'staff_users.name', 'staff_users.role', 'staff_users.home_location_id', 'staff_users.created_at', 'staff_users.disabled_at',
      'merchants.name as merchant_name', 'merchants.currency', 'merchants.default_country', 'merchants.settings_json', 'locations.name as home_location_name',
    ]);
}

type AccountRow = Awaited<ReturnType<ReturnType<typeof accountsQuery>['executeTakeFirstOrThrow']>>;

function toSession(row: AccountRow, expiresAt: string): StaffSession {
  return {
    staff: toStaffUser(row), homeLocationName: row.home_location_name,
    merchant: merchantFromColumns({ merchant_id: row.merchant_id, name: row.merchant_name, currency: row.currency, default_country: row.default_country, settings_json: row.settings_json }),
    expiresAt,
  };
}

/**
 * Checks an email and password and opens a session. An unknown email and a wrong password are the
 * same answer, and take as long (the password is checked against a decoy hash). The password is
 * checked at every merchant where the email has an active account (or only at `merchantId`); when
 * it is right at more than one, the caller must name the merchant.
 */
export async function signInStaff(db: Db, input: { email: string; password: string; merchantId: string | null }): Promise<SignInResult> {
  let query = accountsQuery(db).select('staff_users.password_hash').where('staff_users.email', '=', normaliseStaffEmail(input.email)).where('staff_users.disabled_at', 'is', null);
  if (input.merchantId !== null) query = query.where('staff_users.merchant_id', '=', input.merchantId);
  const accounts = await query.orderBy('staff_users.merchant_id').limit(accountsPerEmailMax).execute();
  if (accounts.length === 0) {
    await verifyPassword(input.password, await passwordDecoyHash());
    return { outcome: 'invalid_credentials' };
  }
  const matched: typeof accounts = [];
  for (const account of accounts) if (await verifyPassword(input.password, account.password_hash)) matched.push(account);
  const [account, ...others] = matched;
  if (!account) return { outcome: 'invalid_credentials' };
  if (others.length > 0) return { outcome: 'merchant_required', merchants: matched.map((row) => ({ id: row.merchant_id, name: row.merchant_name })) };
  const token = randomBytes(tokenBytes).toString('base64url');
  const createdMs = nowMs();
  const createdAt = new Date(createdMs).toISOString();
  const expiresAt = new Date(createdMs + staffSessionLifetimeMs).toISOString();
  // The password was checked outside any transaction (it is slow). The session opens only if that
  // hash is still hers and she is still active, in one transaction that writes her row: a new
  // password set meanwhile either commits first (this update then matches nothing) or waits for
  // this one and then ends the session opened here (staff-accounts.ts writes the same row).
  const opened = await db.transaction().execute(async (tx) => {
    const unchanged = await tx.updateTable('staff_users').set({ password_hash: account.password_hash })
      .where('merchant_id', '=', account.merchant_id).where('id', '=', account.id).where('password_hash', '=', account.password_hash).where('disabled_at', 'is', null).executeTakeFirst();
    if (Number(unchanged.numUpdatedRows) !== 1) return false;
    await tx.insertInto('staff_sessions').values({ merchant_id: account.merchant_id, token_hash: hashToken(token), staff_id: account.id, created_at: createdAt, expires_at: expiresAt, revoked_at: null }).execute();
    return true;
  });
  if (!opened) return { outcome: 'invalid_credentials' };
  return { outcome: 'signed_in', session: toSession(account, expiresAt), token };
}

/**
 * The session a token opens, with its person and merchant, in one query; nothing for an unknown,
 * expired or revoked token, or a disabled person. Nothing is remembered between calls, so a sign-out
 * applies to the very next request.
 */
export async function authenticateStaffSession(db: Queryable, token: string): Promise<StaffSession | undefined> {
  const row = await accountsQuery(db)
    .innerJoin('staff_sessions', (join) => join.onRef('staff_sessions.merchant_id', '=', 'staff_users.merchant_id').onRef('staff_sessions.staff_id', '=', 'staff_users.id'))
    .select(['staff_sessions.expires_at', 'staff_sessions.revoked_at'])
    .where('staff_sessions.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || row.disabled_at !== null || row.expires_at <= nowIso()) return undefined;
  return toSession(row, row.expires_at);
}

/** Ends a session (sign-out); false when the token names no open session. */
export async function revokeStaffSession(db: Queryable, token: string): Promise<boolean> {
  const result = await db.updateTable('staff_sessions').set({ revoked_at: nowIso() }).where('token_hash', '=', hashToken(token)).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Ends every open session of a person at once (she was disabled, or given a new password), except
 * the one of `keptToken` when it is hers (a manager who sets her own password stays signed in
 * where she did it). Returns how many sessions ended.
 */
export async function revokeStaffSessionsOf(db: Queryable, merchantId: string, staffId: string, keptToken?: string): Promise<number> {
  let update = db.updateTable('staff_sessions').set({ revoked_at: nowIso() }).where('merchant_id', '=', merchantId).where('staff_id', '=', staffId).where('revoked_at', 'is', null);
  if (keptToken !== undefined) update = update.where('token_hash', '!=', hashToken(keptToken));
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
