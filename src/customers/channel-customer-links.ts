import type { Queryable, Tx } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import { toNameSearch } from './normalize-identifier.ts';

// What a channel that holds a copy of a customer may do to her profile: unlink its id when it
// deletes its copy, overwrite her name when it owns customer data, and remember which version of
// its copy was applied last, so an older one arriving late is recognised.

/**
 * Unlinks a channel's customer id from every profile holding it (the channel deleted its copy).
 * The profiles, their loyalty ledgers and their other identifiers stay. Returns the profiles unlinked.
 * Example: `await unlinkChannelCustomerId(tx, merchantId, 'shopify_id', '706405506930370084')`.
 */
export async function unlinkChannelCustomerId(tx: Tx, merchantId: string, kind: 'shopify_id' | 'square_id' | 'pos_id', channelId: string): Promise<string[]> {
  const rows = await tx.selectFrom('customer_identifiers').select('customer_id').where('merchant_id', '=', merchantId).where('kind', '=', kind).where('value_normalized', '=', channelId.trim()).execute();
  if (rows.length === 0) return [];
  await tx.deleteFrom('customer_identifiers').where('merchant_id', '=', merchantId).where('kind', '=', kind).where('value_normalized', '=', channelId.trim()).execute();
  return [...new Set(rows.map((row) => row.customer_id))];
}

/** The channel version (its `updated_at`) of the profile's data applied last; null before any. */
export async function getCustomerSourceVersion(db: Queryable, merchantId: string, customerId: string): Promise<string | null> {
  const row = await db.selectFrom('customers').select('source_updated_at').where('merchant_id', '=', merchantId).where('id', '=', customerId).executeTakeFirst();
  return row?.source_updated_at ?? null;
}

/** Remembers the newest channel version applied to the profile; an older one never lowers it. */
export async function recordCustomerSourceVersion(db: Queryable, merchantId: string, customerId: string, version: string): Promise<void> {
  await db
    .updateTable('customers')
    .set({ source_updated_at: version })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', customerId)
    .where((eb) => eb.or([eb('source_updated_at', 'is', null), eb('source_updated_at', '<', version)]))
    .execute();
}

/**
 * Overwrites the profile's name and note with the channel's (the channel owns customer data).
 * A field the channel leaves empty is left as it is: an empty field is no claim. Returns whether
 * anything changed.
 */
export async function overwriteCustomerProfile(tx: Tx, merchantId: string, customerId: string, fields: { firstName?: string | null; lastName?: string | null; note?: string | null }): Promise<boolean> {
  const row = await tx.selectFrom('customers').select(['first_name', 'last_name', 'note']).where('merchant_id', '=', merchantId).where('id', '=', customerId).executeTakeFirstOrThrow();
  const firstName = fields.firstName?.trim() || row.first_name;
  const lastName = fields.lastName?.trim() || row.last_name;
  const note = fields.note?.trim() || row.note;
  if (firstName === row.first_name && lastName === row.last_name && note === row.note) return false;
  await tx
    .updateTable('customers')
    .set({ first_name: firstName, last_name: lastName, note, name_search: toNameSearch(firstName, lastName), updated_at: nowIso() })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', customerId)
    .execute();
  return true;
}
