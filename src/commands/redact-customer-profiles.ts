import { sql, type Expression, type SqlBool } from 'kysely';
import type { Tx } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';

/** What a redaction erased and what it kept; holds ids and counts only, never the erased values. */
export interface RedactionSummary {
  customer_ids: string[];
  erased: { identifiers: number; addresses: number; consents: number; merge_records: number; data_exports: number; inbox_payloads: number; exception_details: number; refund_notes: number };
  kept: { orders: number; loyalty_transactions: number };
}

// Values shorter than this are not searched for in stored payloads: they would match unrelated text.
const searchableValueLengthMin = 6;
const redactedText = '[redacted]';

/** Her identifier values as they may appear inside stored JSON text (as sent, and normalized). */
async function personalValues(tx: Tx, merchantId: string, customerIds: string[]): Promise<string[]> {
  const rows = await tx.selectFrom('customer_identifiers').select(['value_original', 'value_normalized']).where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).execute();
  const values = new Set(rows.flatMap((row) => [row.value_original.trim(), row.value_normalized]).filter((value) => value.length >= searchableValueLengthMin));
  // Inside JSON a value is escaped; compare with its escaped form.
  return [...values].map((value) => JSON.stringify(value).slice(1, -1));
}

/** A case-insensitive "contains" on both dialects, with LIKE's wildcards in the value escaped. */
function containsIgnoringCase(column: Expression<string>, value: string): Expression<SqlBool> {
  const pattern = `%${value.toLowerCase().replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
  return sql<SqlBool>`lower(${column}) like ${pattern} escape '\\'`;
}

/**
 * The stored webhooks that carry her details (an order's customer and addresses, the privacy
 * request itself) lose their payload. Events not yet applied are left for the worker: it would
 * otherwise fail on them, and what they create is new data, not the data that was erased.
 */
async function eraseInboxPayloads(tx: Tx, merchantId: string, values: string[], requestId: string): Promise<number> {
  if (values.length === 0) return 0;
  const result = await tx
    .updateTable('inbox_events')
    .set({ payload: JSON.stringify({ redacted: true, privacy_request_id: requestId }) })
    .where('merchant_id', '=', merchantId)
    .where('status', '<>', 'received')
    .where((eb) => eb.or(values.map((value) => containsIgnoringCase(eb.ref('payload'), value))))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Exceptions name the shared value that raised them ("both hold email …"): the value goes. */
async function scrubExceptionDetails(tx: Tx, merchantId: string, values: string[]): Promise<number> {
  const touched = new Set<string>();
  for (const value of values) {
    const rows = await tx.selectFrom('exceptions').select('id').where('merchant_id', '=', merchantId).where((eb) => containsIgnoringCase(eb.ref('details_json'), value)).execute();
    if (rows.length === 0) continue;
    rows.forEach((row) => touched.add(row.id));
    await tx.updateTable('exceptions').set((eb) => ({ details_json: sql<string>`replace(${eb.ref('details_json')}, ${value}, ${redactedText})` })).where('merchant_id', '=', merchantId).where('id', 'in', rows.map((row) => row.id)).execute();
  }
  return touched.size;
}

/** A merge keeps copies of the identifiers, addresses and consent it folded away, for an exact unmerge: they go. */
async function scrubMergeRecords(tx: Tx, merchantId: string, customerIds: string[], requestId: string): Promise<number> {
  const merges = await tx.selectFrom('customer_merges').select(['id', 'moved_json']).where('merchant_id', '=', merchantId).where((eb) => eb.or([eb('survivor_id', 'in', customerIds), eb('merged_id', 'in', customerIds)])).execute();
  for (const merge of merges) {
    const record = JSON.parse(merge.moved_json) as Record<string, unknown>;
    const scrubbed = { ...record, foldedIdentifiers: [], foldedAddresses: [], foldedConsents: [], redactedBy: requestId };
    await tx.updateTable('customer_merges').set({ moved_json: JSON.stringify(scrubbed) }).where('merchant_id', '=', merchantId).where('id', '=', merge.id).execute();
  }
  return merges.length;
}

async function eraseProfileRows(tx: Tx, merchantId: string, customerIds: string[]) {
  const identifiers = await tx.deleteFrom('customer_identifiers').where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).executeTakeFirst();
  const addresses = await tx.deleteFrom('customer_addresses').where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).executeTakeFirst();
  const consents = await tx.deleteFrom('customer_consents').where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).executeTakeFirst();
  // The row stays, so orders and loyalty entries still point at a profile; only the person leaves it.
  const profiles = await tx
    .updateTable('customers')
    .set({ first_name: null, last_name: null, name_search: '', note: null, preferences_json: '{}', loyalty_code: null, source_updated_at: null, state: 'redacted', updated_at: nowIso() })
    .where('merchant_id', '=', merchantId)
    .where('id', 'in', customerIds)
    .executeTakeFirst();
  assert(Number(profiles.numUpdatedRows) === customerIds.length, 'every profile to redact exists');
  return { identifiers: Number(identifiers.numDeletedRows), addresses: Number(addresses.numDeletedRows), consents: Number(consents.numDeletedRows) };
}

/** Earlier exports of her data are personal data too; the row stays as the record that a request was answered. */
async function eraseDataExports(tx: Tx, merchantId: string, customerIds: string[], requestId: string): Promise<number> {
  const result = await tx.updateTable('privacy_requests').set({ export_json: JSON.stringify({ erased: true, privacy_request_id: requestId }) }).where('merchant_id', '=', merchantId).where('kind', '=', 'data_request').where('customer_id', 'in', customerIds).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Refund notes are free text a person wrote about her order. */
async function eraseRefundNotes(tx: Tx, merchantId: string, customerIds: string[]): Promise<number> {
  const result = await tx
    .updateTable('returns')
    .set({ note: null })
    .where('merchant_id', '=', merchantId)
    .where('note', 'is not', null)
    .where('order_id', 'in', (eb) => eb.selectFrom('orders').select('id').where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

async function countKept(tx: Tx, merchantId: string, customerIds: string[]): Promise<RedactionSummary['kept']> {
  const orders = await tx.selectFrom('orders').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).executeTakeFirstOrThrow();
  const transactions = await tx.selectFrom('loyalty_transactions').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).executeTakeFirstOrThrow();
  return { orders: Number(orders.count), loyalty_transactions: Number(transactions.count) };
}

/**
 * Erases the person from her profiles, in the caller's transaction: names, note, preferences and
 * loyalty code are blanked; identifiers, addresses and consent deleted; the profile is marked
 * `redacted`, which no lookup or match ever returns. Orders keep pointing at the anonymous
 * profile and the loyalty ledger is not touched, so every total and balance still adds up.
 * Copies of her details elsewhere (merge records, earlier exports, stored webhooks, exception
 * notes, refund notes) are erased with her.
 */
export async function redactCustomerProfiles(tx: Tx, merchantId: string, customerIds: string[], requestId: string): Promise<RedactionSummary> {
  assert(customerIds.length > 0, 'a redaction names at least one profile');
  const values = await personalValues(tx, merchantId, customerIds);
  const profile = await eraseProfileRows(tx, merchantId, customerIds);
  const erased = {
    ...profile,
    merge_records: await scrubMergeRecords(tx, merchantId, customerIds, requestId),
    data_exports: await eraseDataExports(tx, merchantId, customerIds, requestId),
    inbox_payloads: await eraseInboxPayloads(tx, merchantId, values, requestId),
    exception_details: await scrubExceptionDetails(tx, merchantId, values),
    refund_notes: await eraseRefundNotes(tx, merchantId, customerIds),
  };
  return { customer_ids: customerIds, erased, kept: await countKept(tx, merchantId, customerIds) };
}
