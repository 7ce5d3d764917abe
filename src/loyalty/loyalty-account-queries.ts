import type { Queryable } from '../db/index.ts';

/** Whether the customer has a loyalty account yet, i.e. has joined the program (enrolled, earned or imported). */
export async function loyaltyAccountExists(db: Queryable, merchantId: string, customerId: string): Promise<boolean> {
  const row = await db.selectFrom('loyalty_accounts').select('customer_id').where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
  return row !== undefined;
}
