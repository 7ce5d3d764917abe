import type { Db } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { changeStaffProfile, createStaffUser, getStaffUser, hashStaffPassword, markStaffUserDisabled, markStaffUserEnabled, replaceStaffPasswordHash, revokeStaffSessionsOf, type NewStaffUser, type StaffProfileChange, type StaffUser } from '../staff/index.ts';
import { writeAudit } from '../sync/index.ts';

/**
 * Adds a person to the console in one transaction with its audit entry (who added her; never the
 * password). The password is hashed first, outside the transaction: hashing is deliberately slow.
 * Example: `await addStaffUser(db, merchantId, { email, name, role: 'associate', homeLocationId, password }, 'api:key_1')`.
 */
export async function addStaffUser(db: Db, merchantId: string, input: Omit<NewStaffUser, 'passwordHash'> & { password: string }, actor: string): Promise<StaffUser> {
  const passwordHash = await hashStaffPassword(input.password);
  return db.transaction().execute(async (tx) => {
    const staff = await createStaffUser(tx, merchantId, { email: input.email, name: input.name, role: input.role, homeLocationId: input.homeLocationId, passwordHash });
    await writeAudit(tx, merchantId, { actor, action: 'staff.create', subject: staff.id, details: { email: staff.email, role: staff.role, home_location_id: staff.homeLocationId } });
    return staff;
  });
}

/** Who asks for a change to a person's account: the audit's actor, and the staff id and session token when she is signed in. */
export interface StaffAccountActor {
  actor: string;
  staffId: string | undefined;
  sessionToken: string | undefined;
}

/**
 * Disables a person who left, in one transaction: `disabled_at` set, every open session of hers
 * ended (the next request with her cookie is 401) and an audit entry under the actor. She can no
 * longer sign in. A manager cannot disable herself (409 `staff.disable_self_conflict`, a code
 * the `conflict` rule of http/error-mapping.ts maps): a slip would lock her out at once, perhaps
 * the merchant's last manager. Disabling someone already disabled changes nothing and is not
 * audited again.
 * Example: `await disableStaffUser(db, merchantId, 'stf_1', { actor: 'api:staff:stf_2', staffId: 'stf_2', sessionToken })`.
 */
export async function disableStaffUser(db: Db, merchantId: string, staffId: string, by: StaffAccountActor): Promise<StaffUser> {
  return db.transaction().execute(async (tx) => {
    const staff = await getStaffUser(tx, merchantId, staffId);
    if (by.staffId === staff.id) throw new AppError('staff.disable_self_conflict', 'You cannot disable your own account: another manager, or an admin key, can', { staff_id: staffId });
    const disabledAt = nowIso();
    if (!(await markStaffUserDisabled(tx, merchantId, staffId, disabledAt))) return staff;
    const sessionsEnded = await revokeStaffSessionsOf(tx, merchantId, staffId);
    await writeAudit(tx, merchantId, { actor: by.actor, action: 'staff.disable', subject: staffId, details: { email: staff.email, sessions_ended: sessionsEnded } });
    return { ...staff, disabledAt };
  });
}

/**
 * Sets a person's password (the same policy as at creation: 10 to 200 characters, else
 * `staff.invalid_password` naming the field) and ends her other sessions, in one transaction with
 * its audit entry (never the password). A manager who sets her own keeps the session she did it
 * from. The password is hashed first, outside the transaction: hashing is deliberately slow.
 * Example: `await setStaffPassword(db, merchantId, 'stf_1', 'a-new-long-password', { actor: 'api:key_1', staffId: undefined, sessionToken: undefined })`.
 */
export async function setStaffPassword(db: Db, merchantId: string, staffId: string, password: string, by: StaffAccountActor): Promise<StaffUser> {
  // An id the merchant does not have is refused before the slow hash, so a stream of them costs little.
  await getStaffUser(db, merchantId, staffId);
  const passwordHash = await hashStaffPassword(password);
  return db.transaction().execute(async (tx) => {
    const staff = await getStaffUser(tx, merchantId, staffId);
    await replaceStaffPasswordHash(tx, merchantId, staffId, passwordHash);
    const sessionsEnded = await revokeStaffSessionsOf(tx, merchantId, staffId, by.staffId === staffId ? by.sessionToken : undefined);
    await writeAudit(tx, merchantId, { actor: by.actor, action: 'staff.password_set', subject: staffId, details: { sessions_ended: sessionsEnded } });
    return staff;
  });
}

/**
 * Lets a disabled person sign in again (she came back), in one transaction with its audit entry.
 * Her old sessions stay ended: she signs in anew. Enabling someone active changes nothing and is
 * not audited.
 * Example: `await enableStaffUser(db, merchantId, 'stf_1', { actor: 'api:key_1', staffId: undefined, sessionToken: undefined })`.
 */
export async function enableStaffUser(db: Db, merchantId: string, staffId: string, by: StaffAccountActor): Promise<StaffUser> {
  return db.transaction().execute(async (tx) => {
    const staff = await getStaffUser(tx, merchantId, staffId);
    if (!(await markStaffUserEnabled(tx, merchantId, staffId))) return staff;
    await writeAudit(tx, merchantId, { actor: by.actor, action: 'staff.enable', subject: staffId, details: { email: staff.email } });
    return { ...staff, disabledAt: null };
  });
}

/**
 * Changes a person's name, store or role, in one transaction with an audit entry of each field
 * that changed, as what was and what is. Her email stays (it is how she signs in). A new role is
 * her sessions' scope from their next request (the role is read with every request). A manager
 * cannot change her own role (409 `staff.role_self_conflict`): made an associate by a slip, she
 * could not undo it.
 * Example: `await updateStaffProfile(db, merchantId, 'stf_1', { role: 'manager' }, by)`.
 */
export async function updateStaffProfile(db: Db, merchantId: string, staffId: string, change: StaffProfileChange, by: StaffAccountActor): Promise<StaffUser> {
  return db.transaction().execute(async (tx) => {
    const before = await getStaffUser(tx, merchantId, staffId);
    if (change.role !== undefined && change.role !== before.role && by.staffId === staffId) {
      throw new AppError('staff.role_self_conflict', 'You cannot change your own role: another manager, or an admin key, can', { staff_id: staffId, field: 'role' });
    }
    await changeStaffProfile(tx, merchantId, staffId, change);
    const after = await getStaffUser(tx, merchantId, staffId);
    const changed = Object.fromEntries(([
      ['name', before.name, after.name], ['home_location_id', before.homeLocationId, after.homeLocationId], ['role', before.role, after.role],
    ] as const).filter(([, was, is]) => was !== is).map(([field, was, is]) => [field, [was, is]]));
    if (Object.keys(changed).length > 0) await writeAudit(tx, merchantId, { actor: by.actor, action: 'staff.update', subject: staffId, details: changed });
    return after;
  });
}
