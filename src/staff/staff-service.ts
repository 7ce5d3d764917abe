import type { Selectable } from 'kysely';
import type { Queryable, StaffUsersTable } from '../db/index.ts';
import { getLocation, type ApiKeyScope } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { hashPassword } from './password-hash.ts';

export const staffRoles = ['associate', 'manager'] as const;
export type StaffRole = (typeof staffRoles)[number];

/** A person who signs in to the console. The password hash never leaves this module. */
export interface StaffUser {
  id: string;
  merchantId: string;
  email: string;
  name: string;
  role: StaffRole;
  homeLocationId: string | null;
  createdAt: string;
  disabledAt: string | null;
}

export interface NewStaffUser {
  email: string;
  name: string;
  role: StaffRole;
  homeLocationId: string | null;
  /** From `hashStaffPassword`, computed before the transaction (it takes tens of milliseconds of CPU). */
  passwordHash: string;
}

export const staffPasswordLengthMin = 10;
export const staffPasswordLengthMax = 200;
/** The most staff one merchant's list answers with. */
export const staffListMax = 1_000;

/** What a role may do through the API: an associate works the register (`pos`), a manager everything (`admin`). */
export function scopeOfRole(role: StaffRole): ApiKeyScope {
  return role === 'manager' ? 'admin' : 'pos';
}

/** Emails are kept trimmed and lowercase, so one person is one account whatever case she types. */
export function normaliseStaffEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function toStaffUser(row: Omit<Selectable<StaffUsersTable>, 'password_hash'>): StaffUser {
  return {
    id: row.id, merchantId: row.merchant_id, email: row.email, name: row.name, role: row.role as StaffRole,
    homeLocationId: row.home_location_id, createdAt: row.created_at, disabledAt: row.disabled_at,
  };
}

const staffColumns = ['id', 'merchant_id', 'email', 'name', 'role', 'home_location_id', 'created_at', 'disabled_at'] as const;

/** Checks a new password's length and hashes it; refused with `staff.invalid_password`, naming the field. */
export async function hashStaffPassword(password: string): Promise<string> {
  if (password.length < staffPasswordLengthMin || password.length > staffPasswordLengthMax) {
    throw new AppError('staff.invalid_password', `A password has ${staffPasswordLengthMin} to ${staffPasswordLengthMax} characters`, { field: 'password', rule: 'length' });
  }
  return hashPassword(password);
}

/**
 * Adds a staff user. Refused (nothing written): a home location the merchant does not have, an
 * email already in use at the merchant.
 * Example: `await createStaffUser(db, merchantId, { email: 'ana@shop.example', name: 'Ana', role: 'associate', homeLocationId: storeId, passwordHash: await hashStaffPassword(password) })`.
 */
async function assertHomeLocation(db: Queryable, merchantId: string, homeLocationId: string | null): Promise<void> {
  if (homeLocationId === null) return;
  try {
    await getLocation(db, merchantId, homeLocationId);
  } catch (error) {
    if (error instanceof AppError && error.code === 'locations.not_found') throw new AppError('staff.unknown_home_location', `No location ${homeLocationId}`, { field: 'home_location_id', value: homeLocationId });
    throw error;
  }
}

export async function createStaffUser(db: Queryable, merchantId: string, input: NewStaffUser): Promise<StaffUser> {
  await assertHomeLocation(db, merchantId, input.homeLocationId);
  const email = normaliseStaffEmail(input.email);
  const row = {
    merchant_id: merchantId, id: newId('stf'), email, name: input.name, role: input.role, home_location_id: input.homeLocationId,
    password_hash: input.passwordHash, created_at: nowIso(), disabled_at: null,
  };
  // The unique index decides between two requests adding the same email at once.
  const inserted = await db.insertInto('staff_users').values(row).onConflict((conflict) => conflict.columns(['merchant_id', 'email']).doNothing()).returning('id').executeTakeFirst();
  if (!inserted) throw new AppError('staff.duplicate_email', `A staff user with email ${email} already exists`, { field: 'email', value: email });
  return toStaffUser(row);
}

export async function findStaffUserByEmail(db: Queryable, merchantId: string, email: string): Promise<StaffUser | undefined> {
  const row = await db.selectFrom('staff_users').select(staffColumns).where('merchant_id', '=', merchantId).where('email', '=', normaliseStaffEmail(email)).executeTakeFirst();
  return row ? toStaffUser(row) : undefined;
}

/** A merchant's staff by name, at most `staffListMax`. */
export async function listStaffUsers(db: Queryable, merchantId: string): Promise<StaffUser[]> {
  const rows = await db.selectFrom('staff_users').select(staffColumns).where('merchant_id', '=', merchantId).orderBy('name').orderBy('id').limit(staffListMax).execute();
  return rows.map(toStaffUser);
}

/** One of the merchant's staff; `staff.not_found` (404) for an id the merchant does not have, another merchant's included. */
export async function getStaffUser(db: Queryable, merchantId: string, staffId: string): Promise<StaffUser> {
  const row = await db.selectFrom('staff_users').select(staffColumns).where('merchant_id', '=', merchantId).where('id', '=', staffId).executeTakeFirst();
  if (!row) throw new AppError('staff.not_found', `No staff user ${staffId}`, { staff_id: staffId });
  return toStaffUser(row);
}

/**
 * Marks a person disabled at `disabledAt`: she can no longer sign in and her sessions stop answering
 * (staff-sessions.ts checks `disabled_at` on every request). False when she was disabled already,
 * which keeps the first time.
 */
export async function markStaffUserDisabled(db: Queryable, merchantId: string, staffId: string, disabledAt: string): Promise<boolean> {
  const result = await db.updateTable('staff_users').set({ disabled_at: disabledAt }).where('merchant_id', '=', merchantId).where('id', '=', staffId).where('disabled_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Lets a disabled person sign in again. False when she was not disabled. */
export async function markStaffUserEnabled(db: Queryable, merchantId: string, staffId: string): Promise<boolean> {
  const result = await db.updateTable('staff_users').set({ disabled_at: null }).where('merchant_id', '=', merchantId).where('id', '=', staffId).where('disabled_at', 'is not', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** What may change of a person after she was added: her name, her store and her role (her email, how she signs in, stays). */
export interface StaffProfileChange {
  name?: string;
  homeLocationId?: string | null;
  role?: StaffRole;
}

/**
 * Changes a person's name, store or role; a store the merchant does not have is refused
 * (`staff.unknown_home_location`). A new role holds for her open sessions at their next request:
 * staff-sessions.ts reads the role with every request.
 */
export async function changeStaffProfile(db: Queryable, merchantId: string, staffId: string, change: StaffProfileChange): Promise<void> {
  if (change.homeLocationId !== undefined) await assertHomeLocation(db, merchantId, change.homeLocationId);
  const values = {
    ...(change.name !== undefined ? { name: change.name } : {}),
    ...(change.homeLocationId !== undefined ? { home_location_id: change.homeLocationId } : {}),
    ...(change.role !== undefined ? { role: change.role } : {}),
  };
  if (Object.keys(values).length === 0) return;
  const result = await db.updateTable('staff_users').set(values).where('merchant_id', '=', merchantId).where('id', '=', staffId).executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new AppError('staff.not_found', `No staff user ${staffId}`, { staff_id: staffId });
}

/** Replaces a person's password hash (from `hashStaffPassword`); the caller ends her other sessions. */
export async function replaceStaffPasswordHash(db: Queryable, merchantId: string, staffId: string, passwordHash: string): Promise<void> {
  const result = await db.updateTable('staff_users').set({ password_hash: passwordHash }).where('merchant_id', '=', merchantId).where('id', '=', staffId).executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new AppError('staff.not_found', `No staff user ${staffId}`, { staff_id: staffId });
}
