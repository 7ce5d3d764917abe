import type { Queryable, Tx } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { normalizeChannelId, normalizeEmail, normalizePhone, toNameSearch, type IdentifierKind, type NormalizedIdentifier } from './normalize-identifier.ts';

/** What an event says about the customer it names, in canonical form. */
export interface CustomerClaim {
  channelIds?: { kind: 'shopify_id' | 'square_id' | 'pos_id'; value: string }[];
  loyaltyCode?: string | null;
  email?: string | null;
  phone?: string | null;
  firstName?: string | null;
  lastName?: string | null;
}

export interface CustomerResolution {
  customerId: string;
  created: boolean;
  /** Other profiles that a weaker identifier of the claim pointed at: possible duplicates for a person. */
  conflictingCustomerIds: string[];
}

// Matching priority: the strongest identifier decides which profile an event belongs to.
const matchPriority: IdentifierKind[] = ['shopify_id', 'square_id', 'pos_id', 'loyalty_code', 'email', 'phone'];

function claimIdentifiers(claim: CustomerClaim, defaultCountry: string): NormalizedIdentifier[] {
  const identifiers: NormalizedIdentifier[] = [];
  for (const channelId of claim.channelIds ?? []) identifiers.push(normalizeChannelId(channelId.kind, channelId.value));
  if (claim.loyaltyCode) identifiers.push({ kind: 'loyalty_code', original: claim.loyaltyCode, normalized: claim.loyaltyCode.trim().toUpperCase(), valid: true });
  if (claim.email) identifiers.push(normalizeEmail(claim.email));
  if (claim.phone) identifiers.push(normalizePhone(claim.phone, defaultCountry));
  return identifiers.sort((a, b) => matchPriority.indexOf(a.kind) - matchPriority.indexOf(b.kind));
}

async function findCustomerIdsByIdentifier(db: Queryable, merchantId: string, identifier: NormalizedIdentifier): Promise<string[]> {
  const rows = await db
    .selectFrom('customer_identifiers')
    .select('customer_id')
    .where('merchant_id', '=', merchantId)
    .where('kind', '=', identifier.kind)
    .where('value_normalized', '=', identifier.normalized)
    .where('is_valid', '=', 1)
    .orderBy('created_at')
    .execute();
  return [...new Set(rows.map((row) => row.customer_id))];
}

async function addIdentifiers(tx: Tx, merchantId: string, customerId: string, identifiers: NormalizedIdentifier[]): Promise<void> {
  for (const identifier of identifiers) {
    await tx
      .insertInto('customer_identifiers')
      .values({ id: newId('cid'), merchant_id: merchantId, customer_id: customerId, kind: identifier.kind, value_original: identifier.original, value_normalized: identifier.normalized, is_valid: identifier.valid ? 1 : 0, created_at: nowIso() })
      .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id', 'kind', 'value_normalized']).doNothing())
      .execute();
  }
}

/**
 * Resolves the customer an event names to one profile, by the fixed priority channel id, loyalty
 * code, email, phone; unknown → a new profile. Identifiers that point at another profile are never
 * linked to this one: they are returned as conflicts so the caller raises a possible duplicate.
 */
export async function resolveCustomer(tx: Tx, merchantId: string, defaultCountry: string, claim: CustomerClaim): Promise<CustomerResolution | undefined> {
  const identifiers = claimIdentifiers(claim, defaultCountry);
  const linkable = identifiers.filter((identifier) => identifier.valid);
  if (linkable.length === 0 && !claim.firstName && !claim.lastName) return undefined;

  let customerId: string | undefined;
  const matchesByIdentifier = new Map<NormalizedIdentifier, string[]>();
  for (const identifier of linkable) {
    const matches = await findCustomerIdsByIdentifier(tx, merchantId, identifier);
    matchesByIdentifier.set(identifier, matches);
    if (!customerId && matches[0]) customerId = matches[0];
  }

  const created = customerId === undefined;
  if (!customerId) customerId = await createCustomerRow(tx, merchantId, claim);
  else await fillMissingName(tx, merchantId, customerId, claim);

  const conflicting = new Set<string>();
  const toAdd: NormalizedIdentifier[] = [];
  for (const identifier of identifiers) {
    const others = (matchesByIdentifier.get(identifier) ?? []).filter((id) => id !== customerId);
    const alreadyOurs = (matchesByIdentifier.get(identifier) ?? []).includes(customerId);
    if (others.length > 0) others.forEach((id) => conflicting.add(id));
    else if (!alreadyOurs) toAdd.push(identifier);
  }
  await addIdentifiers(tx, merchantId, customerId, toAdd);
  return { customerId, created, conflictingCustomerIds: [...conflicting] };
}

async function createCustomerRow(tx: Tx, merchantId: string, claim: CustomerClaim): Promise<string> {
  const id = newId('cus');
  const now = nowIso();
  await tx
    .insertInto('customers')
    .values({ id, merchant_id: merchantId, first_name: claim.firstName ?? null, last_name: claim.lastName ?? null, name_search: toNameSearch(claim.firstName, claim.lastName), loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now })
    .execute();
  return id;
}

async function fillMissingName(tx: Tx, merchantId: string, customerId: string, claim: CustomerClaim): Promise<void> {
  if (!claim.firstName && !claim.lastName) return;
  const row = await tx.selectFrom('customers').select(['first_name', 'last_name']).where('merchant_id', '=', merchantId).where('id', '=', customerId).executeTakeFirstOrThrow();
  if (row.first_name || row.last_name) return;
  await tx
    .updateTable('customers')
    .set({ first_name: claim.firstName ?? null, last_name: claim.lastName ?? null, name_search: toNameSearch(claim.firstName, claim.lastName), updated_at: nowIso() })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', customerId)
    .execute();
}
