import type { CustomerAddressesTable, CustomerConsentsTable, CustomerIdentifiersTable, Tx } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';

/** Everything a merge moved or folded away, enough to put both profiles back exactly. */
export interface MovedProfileRecords {
  identifierIds: string[];
  /** Identifiers the survivor already held: removed from the merged profile, re-created on unmerge. */
  foldedIdentifiers: CustomerIdentifiersTable[];
  addressIds: string[];
  foldedAddresses: CustomerAddressesTable[];
  consentTopics: string[];
  foldedConsents: CustomerConsentsTable[];
}

async function activeCustomer(tx: Tx, merchantId: string, customerId: string) {
  const row = await tx.selectFrom('customers').selectAll().where('merchant_id', '=', merchantId).where('id', '=', customerId).executeTakeFirst();
  if (!row) throw new AppError('customers.not_found', `No customer ${customerId}`, { customer_id: customerId });
  if (row.state !== 'active') throw new AppError('customers.merge_conflict', `Customer ${customerId} is ${row.state}, not active`, { customer_id: customerId, state: row.state });
  return row;
}

/** Moves identifiers, addresses and consent from the merged profile to the survivor and marks it merged. */
export async function foldProfileInto(tx: Tx, merchantId: string, mergedId: string, survivorId: string): Promise<MovedProfileRecords> {
  if (mergedId === survivorId) throw new AppError('customers.merge_conflict', 'A profile cannot be merged into itself', { customer_id: mergedId });
  await activeCustomer(tx, merchantId, survivorId);
  const merged = await activeCustomer(tx, merchantId, mergedId);
  const moved: MovedProfileRecords = { identifierIds: [], foldedIdentifiers: [], addressIds: [], foldedAddresses: [], consentTopics: [], foldedConsents: [] };

  const survivorIdentifiers = await tx.selectFrom('customer_identifiers').select(['kind', 'value_normalized']).where('merchant_id', '=', merchantId).where('customer_id', '=', survivorId).execute();
  const held = new Set(survivorIdentifiers.map((row) => `${row.kind}:${row.value_normalized}`));
  for (const identifier of await tx.selectFrom('customer_identifiers').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', mergedId).execute()) {
    if (held.has(`${identifier.kind}:${identifier.value_normalized}`)) moved.foldedIdentifiers.push(identifier);
    else moved.identifierIds.push(identifier.id);
  }
  const survivorAddresses = new Set((await tx.selectFrom('customer_addresses').select('fingerprint').where('merchant_id', '=', merchantId).where('customer_id', '=', survivorId).execute()).map((row) => row.fingerprint));
  for (const address of await tx.selectFrom('customer_addresses').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', mergedId).execute()) {
    if (survivorAddresses.has(address.fingerprint)) moved.foldedAddresses.push(address);
    else moved.addressIds.push(address.id);
  }
  const survivorTopics = new Set((await tx.selectFrom('customer_consents').select('topic').where('merchant_id', '=', merchantId).where('customer_id', '=', survivorId).execute()).map((row) => row.topic));
  for (const consent of await tx.selectFrom('customer_consents').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', mergedId).execute()) {
    if (survivorTopics.has(consent.topic)) moved.foldedConsents.push(consent);
    else moved.consentTopics.push(consent.topic);
  }

  await tx.deleteFrom('customer_identifiers').where('merchant_id', '=', merchantId).where('id', 'in', ['', ...moved.foldedIdentifiers.map((row) => row.id)]).execute();
  await tx.updateTable('customer_identifiers').set({ customer_id: survivorId }).where('merchant_id', '=', merchantId).where('id', 'in', ['', ...moved.identifierIds]).execute();
  await tx.deleteFrom('customer_addresses').where('merchant_id', '=', merchantId).where('id', 'in', ['', ...moved.foldedAddresses.map((row) => row.id)]).execute();
  await tx.updateTable('customer_addresses').set({ customer_id: survivorId }).where('merchant_id', '=', merchantId).where('id', 'in', ['', ...moved.addressIds]).execute();
  await tx.deleteFrom('customer_consents').where('merchant_id', '=', merchantId).where('customer_id', '=', mergedId).where('topic', 'in', ['', ...moved.foldedConsents.map((row) => row.topic)]).execute();
  await tx.updateTable('customer_consents').set({ customer_id: survivorId }).where('merchant_id', '=', merchantId).where('customer_id', '=', mergedId).where('topic', 'in', ['', ...moved.consentTopics]).execute();
  await tx.updateTable('customers').set({ state: 'merged', merged_into: survivorId, updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('id', '=', merged.id).execute();
  return moved;
}

/** Puts back what `foldProfileInto` moved: the merged profile is active again with its own records. */
export async function unfoldProfile(tx: Tx, merchantId: string, mergedId: string, survivorId: string, moved: MovedProfileRecords): Promise<void> {
  await tx.updateTable('customer_identifiers').set({ customer_id: mergedId }).where('merchant_id', '=', merchantId).where('customer_id', '=', survivorId).where('id', 'in', ['', ...moved.identifierIds]).execute();
  for (const identifier of moved.foldedIdentifiers) await tx.insertInto('customer_identifiers').values(identifier).execute();
  await tx.updateTable('customer_addresses').set({ customer_id: mergedId }).where('merchant_id', '=', merchantId).where('customer_id', '=', survivorId).where('id', 'in', ['', ...moved.addressIds]).execute();
  for (const address of moved.foldedAddresses) await tx.insertInto('customer_addresses').values(address).execute();
  await tx.updateTable('customer_consents').set({ customer_id: mergedId }).where('merchant_id', '=', merchantId).where('customer_id', '=', survivorId).where('topic', 'in', ['', ...moved.consentTopics]).execute();
  for (const consent of moved.foldedConsents) await tx.insertInto('customer_consents').values(consent).execute();
  await tx.updateTable('customers').set({ state: 'active', merged_into: null, updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('id', '=', mergedId).execute();
}
