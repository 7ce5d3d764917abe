import { reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { findCustomerIdByLoyaltyCode, findCustomerIdsByIdentifier } from './customer-service.ts';
import { parseLoyaltyCode } from './loyalty-code.ts';
import { normalizeEmail, normalizePhone, type IdentifierKind, type IdentityRules } from './normalize-identifier.ts';

export interface CustomerIdentity {
  id: string;
  state: string;
  mergedInto: string | null;
  name: string;
  firstName: string | null;
  lastName: string | null;
  /** Linkable emails and phones; flagged ones are in `identifiers` only. */
  emails: string[];
  phones: string[];
  loyaltyCode: string | null;
  channelIds: { kind: string; value: string }[];
  identifiers: { kind: string; value: string; original: string; flag: string | null; verified: boolean }[];
  note: string | null;
  preferences: Record<string, unknown>;
  createdAt: string;
}

/** The most profiles a register search shows. */
export const lookupResultsMax = 20;
const queryLengthMin = 2;
const queryLengthMax = 200;

/** Reads profiles with their identifiers, in the order of `customerIds`. */
export async function getCustomerIdentities(db: Queryable, merchantId: string, customerIds: string[]): Promise<CustomerIdentity[]> {
  if (customerIds.length === 0) return [];
  const customers = await db.selectFrom('customers').selectAll().where('merchant_id', '=', merchantId).where('id', 'in', customerIds).execute();
  const identifiers = await db.selectFrom('customer_identifiers').selectAll().where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).orderBy('created_at').orderBy('id').execute();
  const byId = new Map(customers.map((customer) => [customer.id, customer]));
  return customerIds.flatMap((id) => {
    const customer = byId.get(id);
    if (!customer) return [];
    const own = identifiers.filter((identifier) => identifier.customer_id === id);
    const linkable = (kind: string) => own.filter((identifier) => identifier.kind === kind && identifier.flag === null).map((identifier) => identifier.value_normalized);
    return [{
      id,
      state: customer.state,
      mergedInto: customer.merged_into,
      name: [customer.first_name, customer.last_name].filter(Boolean).join(' '),
      firstName: customer.first_name,
      lastName: customer.last_name,
      emails: linkable('email'),
      phones: linkable('phone'),
      loyaltyCode: customer.loyalty_code,
      channelIds: own.filter((identifier) => identifier.kind.endsWith('_id')).map((identifier) => ({ kind: identifier.kind, value: identifier.value_normalized })),
      identifiers: own.map((identifier) => ({ kind: identifier.kind, value: identifier.value_normalized, original: identifier.value_original, flag: identifier.flag, verified: identifier.verified === 1 })),
      note: customer.note,
      preferences: JSON.parse(customer.preferences_json) as Record<string, unknown>,
      createdAt: customer.created_at,
    }];
  });
}

/** What a register's search result shows of a profile: a subset of `CustomerIdentity`. */
export interface CustomerSummary {
  id: string;
  name: string;
  /** Linkable emails and phones, oldest first. */
  emails: string[];
  phones: string[];
  loyaltyCode: string | null;
}

export async function getCustomerIdentity(db: Queryable, merchantId: string, customerId: string): Promise<CustomerIdentity> {
  const [identity] = await getCustomerIdentities(db, merchantId, [customerId]);
  if (!identity) throw new AppError('customers.not_found', `No customer ${customerId}`, { customer_id: customerId });
  return identity;
}

/** Merges a surviving profile is looked for through at most; a longer chain is a loop, a bug. */
const mergeHopsMax = 10;

/**
 * The profile a customer id stands for now: itself unless it was merged, else the survivor its
 * merges lead to, with the merged ids passed on the way (a register that looked her up before a
 * merge still names the old id). 404 `customers.not_found` for an unknown id.
 * Example: A merged into B → `{ customerId: 'B', state: 'active', mergedFrom: ['A'] }`.
 */
export async function findSurvivingCustomer(db: Queryable, merchantId: string, customerId: string): Promise<{ customerId: string; state: string; mergedFrom: string[] }> {
  const mergedFrom: string[] = [];
  let row = await db.selectFrom('customers').select(['id', 'state', 'merged_into']).where('merchant_id', '=', merchantId).where('id', '=', customerId).executeTakeFirst();
  if (!row) throw new AppError('customers.not_found', `No customer ${customerId}`, { customer_id: customerId });
  while (row.state === 'merged' && row.merged_into) {
    if (mergedFrom.length >= mergeHopsMax) throw new Error(`Assertion failed: the merges of customer ${customerId} lead to a survivor within ${mergeHopsMax} hops`);
    mergedFrom.push(row.id);
    const next: { id: string; state: string; merged_into: string | null } | undefined = await db.selectFrom('customers').select(['id', 'state', 'merged_into']).where('merchant_id', '=', merchantId).where('id', '=', row.merged_into).executeTakeFirst();
    if (!next) throw new Error(`Assertion failed: customer ${row.id} is merged into ${row.merged_into}, which exists`);
    row = next;
  }
  return { customerId: row.id, state: row.state, mergedFrom };
}

/** The addresses and marketing consent of a profile. */
export async function getCustomerContactDetails(db: Queryable, merchantId: string, customerId: string) {
  const addresses = await db.selectFrom('customer_addresses').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('is_default', 'desc').orderBy('created_at').execute();
  const consents = await db.selectFrom('customer_consents').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('topic').execute();
  return {
    addresses: addresses.map((address) => ({ id: address.id, line1: address.line1, line2: address.line2, city: address.city, region: address.region, postal_code: address.postal_code, country_code: address.country_code, phone: address.phone, is_default: address.is_default === 1, source: address.source })),
    consents: consents.map((consent) => ({ topic: consent.topic, state: consent.state, source: consent.source, updated_at: consent.updated_at })),
  };
}

/** Finds a customer's channel id (e.g. her Shopify customer id) if she has one. */
const channelIdOfCustomer = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerId: string; kind: 'shopify_id' | 'square_id' | 'pos_id' }>) => db
  .selectFrom('customer_identifiers').select('value_normalized')
  .where('merchant_id', '=', param('merchantId')).where('customer_id', '=', param('customerId')).where('kind', '=', param('kind'))
  .orderBy('created_at').limit(1));

export async function findChannelId(db: Queryable, merchantId: string, customerId: string, kind: 'shopify_id' | 'square_id' | 'pos_id'): Promise<string | undefined> {
  const [row] = await channelIdOfCustomer.execute(db, { merchantId, customerId, kind });
  return row?.value_normalized;
}

/**
 * `findChannelId` for several customers in one statement (a delivery of a claim's points mirrors):
 * each found customer's oldest id of that kind, as `findChannelId` gives it.
 */
export async function findChannelIds(db: Queryable, merchantId: string, customerIds: readonly string[], kind: 'shopify_id' | 'square_id' | 'pos_id'): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (customerIds.length === 0) return found;
  const rows = await db.selectFrom('customer_identifiers').select(['customer_id', 'value_normalized'])
    .where('merchant_id', '=', merchantId).where('kind', '=', kind).where('customer_id', 'in', [...new Set(customerIds)])
    .orderBy('customer_id').orderBy('created_at').execute();
  for (const row of rows) if (!found.has(row.customer_id)) found.set(row.customer_id, row.value_normalized);
  return found;
}

function looksLikePhone(query: string): boolean {
  return query.replace(/\D/g, '').length >= 7 && /^[\d\s().+\-]+$/.test(query);
}

// The register's lookup runs on every search, so its statements are built and compiled once
// (src/db/compiled-query.ts) instead of through the query builder on every call: Kysely's building
// and compiling cost more CPU than SQLite's answer (found by bench/customer-lookup.ts, issue #9).

/**
 * What a register search found: the exact matches (a phone as typed, a loyalty code, an email) as
 * ids in their rank, then the name matches' ids alphabetically.
 */
export interface LookupMatches {
  exactIds: string[];
  nameIds: string[];
}

/** An identifier a register search names exactly. */
export interface LookupIdentifier {
  kind: 'email' | 'phone';
  normalized: string;
}

/** What a register search looks for, read from what the associate typed. */
export interface LookupSearch {
  /** An email in any case, or a phone as typed. */
  identifier?: LookupIdentifier;
  /** A loyalty code, as typed. */
  loyaltyCode?: string;
  /** A name prefix, lower case, single spaces. */
  namePrefix?: string;
}

/**
 * What an associate typed at the register, as a search: an email (nothing else), or any of a phone,
 * a loyalty code and a name prefix that it could be. Throws `customers.invalid_query` (400, naming
 * `q`) for a query too short or too long.
 */
export function parseLookupQuery(rawQuery: string, rules: Pick<IdentityRules, 'defaultCountry' | 'foldGmailAddresses'>): LookupSearch {
  const query = rawQuery.trim();
  if (query.length < queryLengthMin || query.length > queryLengthMax) {
    throw new AppError('customers.invalid_query', `q must be ${queryLengthMin} to ${queryLengthMax} characters`, { field: 'q', min: queryLengthMin, max: queryLengthMax });
  }
  if (query.includes('@')) return { identifier: { kind: 'email', normalized: normalizeEmail(query, rules.foldGmailAddresses).normalized } };
  const phone = looksLikePhone(query) ? normalizePhone(query, rules.defaultCountry) : undefined;
  return {
    identifier: phone?.valid ? { kind: 'phone', normalized: phone.normalized } : undefined,
    loyaltyCode: parseLoyaltyCode(query) ? query : undefined,
    namePrefix: /[a-z]/i.test(query) ? query.toLowerCase().replace(/\s+/g, ' ') : undefined,
  };
}

/** The one identifier a search looks for when it looks for nothing else (an email; a phone that is no loyalty code). */
export function soleLookupIdentifier(search: LookupSearch): LookupIdentifier | undefined {
  return search.loyaltyCode === undefined && search.namePrefix === undefined ? search.identifier : undefined;
}

/**
 * Finds active profiles for a register search (`parseLookupQuery`), as ids. Exact identifier
 * matches rank first (the identifier's holders oldest first, then the loyalty code's), then name
 * matches alphabetically. The reads that do not depend on each other are sent together (on the
 * reader thread, one round trip instead of one each).
 */
export async function findLookupMatches(db: Queryable, merchantId: string, search: LookupSearch): Promise<LookupMatches> {
  const { identifier, loyaltyCode, namePrefix } = search;
  const [byIdentifier, byCode, nameIds] = await Promise.all([
    identifier ? findCustomerIdsByIdentifier(db, merchantId, identifier.kind, identifier.normalized, lookupResultsMax) : [],
    loyaltyCode === undefined ? undefined : findCustomerIdByLoyaltyCode(db, merchantId, loyaltyCode),
    namePrefix === undefined ? [] : findCustomerIdsByNamePrefix(db, merchantId, namePrefix),
  ]);
  const exactIds = byIdentifier.slice();
  if (byCode && !exactIds.includes(byCode)) exactIds.push(byCode);
  return { exactIds: exactIds.slice(0, lookupResultsMax), nameIds };
}

/** The ids a register search finds, in their rank (`findLookupMatches`), at most 20. */
export async function lookupCustomerIds(db: Queryable, merchantId: string, rules: Pick<IdentityRules, 'defaultCountry' | 'foldGmailAddresses'>, rawQuery: string): Promise<string[]> {
  return rankedLookupIds(await findLookupMatches(db, merchantId, parseLookupQuery(rawQuery, rules)));
}

/** The exact matches, then the name matches not among them, at most 20. */
export function rankedLookupIds({ exactIds, nameIds }: LookupMatches): string[] {
  const ids = exactIds.slice();
  for (const id of nameIds) if (!ids.includes(id)) ids.push(id);
  return ids.slice(0, lookupResultsMax);
}

/**
 * The active profiles whose name starts with `prefix` (lower case, single spaces), at most 20, as
 * a subquery of their ids (`customer_id`) and `name_search`: the prefix's range of the name index,
 * read in its order until 20 are found (sort them by `name_search`, then id, for the register).
 * Given values, or the placeholders of a reused query.
 */
export function selectNamePrefixMatches(db: Queryable, merchantId: string, prefix: { from: string; below: string }) {
  return db.selectFrom('customers')
    .select(['id as customer_id', 'name_search'])
    .where('merchant_id', '=', merchantId)
    .where('state', '=', 'active')
    .where('name_search', '>=', prefix.from)
    .where('name_search', '<', prefix.below)
    .orderBy('name_search')
    .limit(lookupResultsMax);
}

/** The range of `name_search` values that start with `prefix`. */
export function namePrefixRange(prefix: string): { from: string; below: string } {
  return { from: prefix, below: `${prefix}\uffff` };
}

const customerIdsByNamePrefix = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; from: string; below: string }>) =>
  db.selectFrom(selectNamePrefixMatches(db, param('merchantId'), { from: param('from'), below: param('below') }).as('matches'))
    .select('customer_id').orderBy('name_search').orderBy('customer_id'));

/** Active profiles whose name starts with `prefix`, alphabetically, at most 20, as ids. */
async function findCustomerIdsByNamePrefix(db: Queryable, merchantId: string, prefix: string): Promise<string[]> {
  return (await customerIdsByNamePrefix.execute(db, { merchantId, ...namePrefixRange(prefix) })).map((row) => row.customer_id);
}
