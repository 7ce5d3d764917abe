import type { Db } from '../db/index.ts';
import { createStaffUser, hashStaffPassword, type NewStaffUser, type StaffUser } from '../staff/index.ts';
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
