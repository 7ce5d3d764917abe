import { createHash } from 'node:crypto';
import { lockKeysForTransaction, reuseQuery, type ParameterPlaceholders, type Queryable, type Tx } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { generateLoyaltyCode, parseLoyaltyCode } from './loyalty-code.ts';
import {
  isBlockedIdentifier, normalizeChannelId, normalizeEmail, normalizePhone, toNameSearch,
  type IdentifierFlag, type IdentifierKind, type IdentityRules, type NormalizedIdentifier,
} from './normalize-identifier.ts';

export interface AddressInput {
  line1?: string | null;
  line2?: string | null;
  city?: string | null;
  region?: string | null;
  postalCode?: string | null;
  countryCode?: string | null;
  phone?: string | null;
  isDefault?: boolean;
}

export type ConsentTopic = 'email_marketing' | 'sms_marketing';
export type ConsentState = 'subscribed' | 'unsubscribed' | 'not_subscribed' | 'pending';

/** What an event says about the customer it names, in canonical form. */
export interface CustomerClaim {
  channelIds?: { kind: 'shopify_id' | 'square_id' | 'pos_id'; value: string }[];
  loyaltyCode?: string | null;
  email?: string | null;
  emailVerified?: boolean;
  phone?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  addresses?: AddressInput[];
  consents?: { topic: ConsentTopic; state: ConsentState }[];
  note?: string | null;
  /** Where the claim came from (`shopify`, `pos`, `import:shopify-csv`), kept on addresses and consent. */
  source?: string;
}

export interface CustomerResolution {
  customerId: string;
  created: boolean;
  /** Other profiles that a weaker identifier of the claim pointed at: possible duplicates for a person. */
  conflictingCustomerIds: string[];
  /** Identifiers of the claim that matched a profile by a verified value (an automatic merge may rely on them). */
  verifiedMatch: boolean;
}

interface ClaimedIdentifier extends NormalizedIdentifier {
  flag: IdentifierFlag | null;
}

// Matching priority: the strongest identifier decides which profile an event belongs to.
const matchPriority: IdentifierKind[] = ['shopify_id', 'square_id', 'pos_id', 'loyalty_code', 'email', 'phone'];

function claimIdentifiers(claim: CustomerClaim, rules: IdentityRules): ClaimedIdentifier[] {
  const identifiers: NormalizedIdentifier[] = [];
  for (const channelId of claim.channelIds ?? []) identifiers.push(normalizeChannelId(channelId.kind, channelId.value));
  if (claim.email?.trim()) identifiers.push({ ...normalizeEmail(claim.email, rules.foldGmailAddresses), verified: claim.emailVerified === true });
  if (claim.phone?.trim()) identifiers.push(normalizePhone(claim.phone, rules.defaultCountry));
  return identifiers
    .map((identifier) => ({ ...identifier, flag: !identifier.valid ? 'invalid' as const : isBlockedIdentifier(identifier, rules) ? 'blocked' as const : null }))
    .sort((a, b) => matchPriority.indexOf(a.kind) - matchPriority.indexOf(b.kind));
}

// Built and compiled once: every order resolves its shopper by one to three identifiers, and
// Kysely's building and compiling cost ~70 µs of CPU per statement (found by bench/orders-end-to-end.ts, issue #9).
// The limit is written into the SQL (src/db/literal-limits.ts), so there is one query per limit:
// 20 for the register's lookup, the merchant's profiles-per-identifier rule (at most 100) plus one
// for resolution.
const identifierQueryLimitMax = 101;
const identifierQueriesByLimit = new Map<number, ReturnType<typeof buildCustomerIdsByIdentifier>>();

/**
 * The active profiles holding a linkable identifier, oldest first, at most `limit`: their ids
 * (`customer_id`), alone, to be a subquery of another statement (the register's lookup reads its
 * matches' profiles and orders in one round trip, src/commands/customer-views.ts). Given values,
 * or the placeholders of a reused query.
 */
export function selectIdentifierHolders(db: Queryable, merchantId: string, kind: IdentifierKind, normalized: string, limit: number) {
  return db
    .selectFrom('customer_identifiers')
    .innerJoin('customers', (join) => join.onRef('customers.id', '=', 'customer_identifiers.customer_id').onRef('customers.merchant_id', '=', 'customer_identifiers.merchant_id'))
    .select('customer_identifiers.customer_id')
    .where('customer_identifiers.merchant_id', '=', merchantId)
    .where('customer_identifiers.kind', '=', kind)
    .where('customer_identifiers.value_normalized', '=', normalized)
    .where('customer_identifiers.is_valid', '=', 1)
    .where('customers.state', '=', 'active')
    .orderBy('customers.created_at')
    .limit(limit);
}

function buildCustomerIdsByIdentifier(limit: number) {
  return reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; kind: IdentifierKind; normalized: string }>) =>
    selectIdentifierHolders(db, param('merchantId'), param('kind'), param('normalized'), limit).select(['customers.first_name', 'customers.last_name']));
}

// Resolving a shopper looks up all her identifiers at once (an order names her email and phone,
// often her channel id): one statement of parts joined by UNION ALL, each with its own limit,
// rather than one statement each (bench/orders-end-to-end.ts counts statements per order).
const identifiersPerStatementMax = 4;
const identifiersQueriesByShape = new Map<string, ReturnType<typeof buildCustomerIdsByIdentifiers>>();

type IdentifierParameters = Record<`kind${number}` | `normalized${number}`, string> & { merchantId: string };

function buildCustomerIdsByIdentifiers(count: number, limit: number) {
  return reuseQuery((db, param: ParameterPlaceholders<IdentifierParameters>) => {
    const part = (index: number) => db.selectFrom((eb) => eb
      .selectFrom('customer_identifiers')
      .innerJoin('customers', (join) => join.onRef('customers.id', '=', 'customer_identifiers.customer_id').onRef('customers.merchant_id', '=', 'customer_identifiers.merchant_id'))
      .select(['customer_identifiers.kind', 'customer_identifiers.value_normalized', 'customer_identifiers.customer_id', 'customers.created_at', 'customers.first_name', 'customers.last_name'])
      .where('customer_identifiers.merchant_id', '=', param('merchantId'))
      .where('customer_identifiers.kind', '=', param(`kind${index}`))
      .where('customer_identifiers.value_normalized', '=', param(`normalized${index}`))
      .where('customer_identifiers.is_valid', '=', 1)
      .where('customers.state', '=', 'active')
      .orderBy('customers.created_at')
      .limit(limit)
      .as(`part${index}`)).selectAll();
    let query = part(0);
    for (let index = 1; index < count; index += 1) query = query.unionAll(part(index));
    return query;
  });
}

/** An active profile holding an identifier, and whether it has a name (first or last). */
interface IdentifierHolder {
  customerId: string;
  named: boolean;
}

const holderOf = (row: { customer_id: string; first_name: string | null; last_name: string | null }): IdentifierHolder => ({
  customerId: row.customer_id, named: Boolean(row.first_name || row.last_name),
});

/** Each profile once, in the order given. */
function distinctHolders(holders: IdentifierHolder[]): IdentifierHolder[] {
  const seen = new Set<string>();
  return holders.filter((holder) => !seen.has(holder.customerId) && seen.add(holder.customerId));
}

/**
 * The active profiles holding each identifier, oldest first, in one statement for several. Each
 * says whether it has a name, read with it, so that resolving a shopper who comes back need not
 * read her profile again to know whether to fill a missing name (bench/orders-end-to-end.ts).
 */
async function findHoldersByIdentifiers(db: Queryable, merchantId: string, identifiers: readonly { kind: IdentifierKind; normalized: string }[], limit: number): Promise<IdentifierHolder[][]> {
  if (identifiers.length <= 1 || identifiers.length > identifiersPerStatementMax) {
    return Promise.all(identifiers.map((identifier) => findHoldersByIdentifier(db, merchantId, identifier.kind, identifier.normalized, limit)));
  }
  assert(Number.isInteger(limit) && limit >= 1 && limit <= identifierQueryLimitMax, `a limit of 1 to ${identifierQueryLimitMax} profiles (${limit})`);
  const shape = `${identifiers.length}:${limit}`;
  let query = identifiersQueriesByShape.get(shape);
  if (!query) {
    query = buildCustomerIdsByIdentifiers(identifiers.length, limit);
    identifiersQueriesByShape.set(shape, query);
  }
  const parameters: Record<string, string> = { merchantId };
  identifiers.forEach((identifier, index) => {
    parameters[`kind${index}`] = identifier.kind;
    parameters[`normalized${index}`] = identifier.normalized;
  });
  const rows = await query.execute(db, parameters as IdentifierParameters);
  return identifiers.map((identifier) => {
    const held = rows.filter((row) => row.kind === identifier.kind && row.value_normalized === identifier.normalized);
    // Oldest first, as one identifier's own statement orders them (UNION ALL keeps no order by itself).
    held.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
    return distinctHolders(held.map(holderOf));
  });
}

async function findHoldersByIdentifier(db: Queryable, merchantId: string, kind: IdentifierKind, normalized: string, limit: number): Promise<IdentifierHolder[]> {
  let query = identifierQueriesByLimit.get(limit);
  if (!query) {
    assert(Number.isInteger(limit) && limit >= 1 && limit <= identifierQueryLimitMax, `a limit of 1 to ${identifierQueryLimitMax} profiles (${limit})`);
    query = buildCustomerIdsByIdentifier(limit);
    identifierQueriesByLimit.set(limit, query);
  }
  const rows = await query.execute(db, { merchantId, kind, normalized });
  return distinctHolders(rows.map(holderOf));
}

/** Active profiles that hold a linkable identifier, oldest first. */
export async function findCustomerIdsByIdentifier(db: Queryable, merchantId: string, kind: IdentifierKind, normalized: string, limit = 100): Promise<string[]> {
  return (await findHoldersByIdentifier(db, merchantId, kind, normalized, limit)).map((holder) => holder.customerId);
}

/** The active profile a loyalty code names, following merges to the surviving profile. */
export async function findCustomerIdByLoyaltyCode(db: Queryable, merchantId: string, typed: string): Promise<string | undefined> {
  const code = parseLoyaltyCode(typed);
  if (!code) return undefined;
  let row = await db.selectFrom('customers').select(['id', 'state', 'merged_into']).where('merchant_id', '=', merchantId).where('loyalty_code', '=', code).executeTakeFirst();
  for (let hops = 0; row && row.state === 'merged' && row.merged_into && hops < 10; hops += 1) {
    row = await db.selectFrom('customers').select(['id', 'state', 'merged_into']).where('merchant_id', '=', merchantId).where('id', '=', row.merged_into).executeTakeFirst();
  }
  return row?.state === 'active' ? row.id : undefined;
}

/**
 * Resolves the customer an event names to one profile, by the fixed priority channel id, loyalty
 * code, email, phone; unknown → a new profile with its loyalty code. Guard rails: invalid and
 * blocked values, and values already shared by `maxProfilesPerIdentifier` profiles, are kept
 * flagged and never link. Identifiers that point at another profile are never linked to this one:
 * they come back as conflicts so the caller raises a possible duplicate.
 */
export async function resolveCustomer(tx: Tx, merchantId: string, rules: IdentityRules, claim: CustomerClaim): Promise<CustomerResolution | undefined> {
  const identifiers = claimIdentifiers(claim, rules);
  const codeMatch = claim.loyaltyCode ? await findCustomerIdByLoyaltyCode(tx, merchantId, claim.loyaltyCode) : undefined;
  const hasAnything = identifiers.some((identifier) => identifier.flag === null) || codeMatch || claim.firstName || claim.lastName;
  if (!hasAnything) return undefined;

  // Two transactions resolving the same new shopper at once (two engine processes applying her
  // first two orders) would each find no one and each create her: the second waits for the first.
  const linkable = identifiers.filter((candidate) => candidate.flag === null);
  await lockKeysForTransaction(tx, linkable.map((identifier) => `customer-identifier|${merchantId}|${identifier.kind}|${identifier.normalized}`));
  const matches = new Map<ClaimedIdentifier, string[]>();
  const named = new Set<string>();
  const holders = await findHoldersByIdentifiers(tx, merchantId, linkable, rules.maxProfilesPerIdentifier + 1);
  linkable.forEach((identifier, index) => {
    const found = holders[index]!;
    found.forEach((holder) => holder.named && named.add(holder.customerId));
    if (found.length >= rules.maxProfilesPerIdentifier) identifier.flag = 'over_limit';
    else matches.set(identifier, found.map((holder) => holder.customerId));
  });
  const byPriority = (kinds: IdentifierKind[]) => identifiers.find((identifier) => kinds.includes(identifier.kind) && (matches.get(identifier)?.length ?? 0) > 0);
  const strongest = byPriority(['shopify_id', 'square_id', 'pos_id']);
  const weaker = byPriority(['email', 'phone']);
  let customerId = strongest ? matches.get(strongest)![0] : codeMatch ?? (weaker ? matches.get(weaker)![0] : undefined);
  const created = customerId === undefined;
  if (!customerId) customerId = await createCustomerRow(tx, merchantId, claim);
  // A profile found by an identifier came with whether it has a name; one found by its loyalty code is read.
  else if (!named.has(customerId)) await fillMissingName(tx, merchantId, customerId, claim);

  const conflicting = new Set<string>();
  let verifiedMatch = false;
  const toAdd: ClaimedIdentifier[] = [];
  for (const identifier of identifiers) {
    const found = matches.get(identifier) ?? [];
    const others = found.filter((id) => id !== customerId);
    if (others.length > 0) {
      others.forEach((id) => conflicting.add(id));
      if (identifier.verified) verifiedMatch = true;
    } else if (!found.includes(customerId)) toAdd.push(identifier);
  }
  if (codeMatch && codeMatch !== customerId) conflicting.add(codeMatch);
  await addIdentifiers(tx, merchantId, customerId, toAdd);
  await recordProfileDetails(tx, merchantId, customerId, claim);
  return { customerId, created, conflictingCustomerIds: [...conflicting], verifiedMatch };
}

async function addIdentifiers(tx: Tx, merchantId: string, customerId: string, identifiers: ClaimedIdentifier[]): Promise<void> {
  for (const identifier of identifiers) {
    await insertIdentifierRow.execute(tx, {
      id: newId('cid'), merchant_id: merchantId, customer_id: customerId, kind: identifier.kind, value_original: identifier.original, value_normalized: identifier.normalized,
      is_valid: identifier.flag === null ? 1 : 0, flag: identifier.flag, verified: identifier.verified ? 1 : 0, created_at: nowIso(),
    });
  }
}

// A new shopper's identifiers and profile, written by every first order: built and compiled once (~70 µs of CPU a statement, bench/orders-end-to-end.ts).
type IdentifierRow = { id: string; merchant_id: string; customer_id: string; kind: IdentifierKind; value_original: string; value_normalized: string; is_valid: number; flag: IdentifierFlag | null; verified: number; created_at: string };
const insertIdentifierRow = reuseQuery((db, param: ParameterPlaceholders<IdentifierRow>) => db
  .insertInto('customer_identifiers')
  .values({
    id: param('id'), merchant_id: param('merchant_id'), customer_id: param('customer_id'), kind: param('kind'), value_original: param('value_original'), value_normalized: param('value_normalized'),
    is_valid: param('is_valid'), flag: param('flag'), verified: param('verified'), created_at: param('created_at'),
  })
  .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id', 'kind', 'value_normalized']).doNothing()));

const customerByLoyaltyCode = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; code: string }>) => db
  .selectFrom('customers').select('id').where('merchant_id', '=', param('merchantId')).where('loyalty_code', '=', param('code')));

type NewCustomerRow = { id: string; merchant_id: string; first_name: string | null; last_name: string | null; name_search: string; loyalty_code: string; now: string; note: string | null };
const insertCustomerRow = reuseQuery((db, param: ParameterPlaceholders<NewCustomerRow>) => db
  .insertInto('customers')
  .values({
    id: param('id'), merchant_id: param('merchant_id'), first_name: param('first_name'), last_name: param('last_name'), name_search: param('name_search'), loyalty_code: param('loyalty_code'),
    source_updated_at: null, created_at: param('now'), updated_at: param('now'), merged_into: null, note: param('note'),
  }));

const loyaltyCodeAttemptsMax = 5;

async function createCustomerRow(tx: Tx, merchantId: string, claim: CustomerClaim): Promise<string> {
  const id = newId('cus');
  const now = nowIso();
  for (let attempt = 1; attempt <= loyaltyCodeAttemptsMax; attempt += 1) {
    const code = generateLoyaltyCode();
    const [taken] = await customerByLoyaltyCode.execute(tx, { merchantId, code });
    if (taken) continue;
    await insertCustomerRow.execute(tx, { id, merchant_id: merchantId, first_name: claim.firstName ?? null, last_name: claim.lastName ?? null, name_search: toNameSearch(claim.firstName, claim.lastName), loyalty_code: code, now, note: claim.note ?? null });
    return id;
  }
  assert(false, 'a free loyalty code within the attempts allowed');
}

const customerName = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerId: string }>) => db
  .selectFrom('customers').select(['first_name', 'last_name']).where('merchant_id', '=', param('merchantId')).where('id', '=', param('customerId')));

async function fillMissingName(tx: Tx, merchantId: string, customerId: string, claim: CustomerClaim): Promise<void> {
  if (!claim.firstName && !claim.lastName) return;
  const [row] = await customerName.execute(tx, { merchantId, customerId });
  assert(row, `customer ${customerId} exists`);
  if (row.first_name || row.last_name) return;
  await tx
    .updateTable('customers')
    .set({ first_name: claim.firstName ?? null, last_name: claim.lastName ?? null, name_search: toNameSearch(claim.firstName, claim.lastName), updated_at: nowIso() })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', customerId)
    .execute();
}

function addressFingerprint(address: AddressInput): string {
  const parts = [address.line1, address.line2, address.city, address.region, address.postalCode, address.countryCode].map((part) => (part ?? '').trim().toLowerCase().replace(/\s+/g, ' '));
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);
}

/** Keeps every address and the latest consent the channels told us, and a note if there was none. */
async function recordProfileDetails(tx: Tx, merchantId: string, customerId: string, claim: CustomerClaim): Promise<void> {
  const source = claim.source ?? 'unknown';
  for (const address of claim.addresses ?? []) {
    if (!address.line1 && !address.city && !address.postalCode) continue;
    await tx
      .insertInto('customer_addresses')
      .values({ merchant_id: merchantId, id: newId('adr'), customer_id: customerId, fingerprint: addressFingerprint(address), line1: address.line1 ?? null, line2: address.line2 ?? null, city: address.city ?? null, region: address.region ?? null, postal_code: address.postalCode ?? null, country_code: address.countryCode ?? null, phone: address.phone ?? null, is_default: address.isDefault ? 1 : 0, source, created_at: nowIso() })
      .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id', 'fingerprint']).doNothing())
      .execute();
  }
  // A file export is a snapshot of the past: it fills consent we lack but never overrides what a
  // channel told us since (someone who unsubscribed stays unsubscribed).
  const fromSnapshot = source.startsWith('import:');
  for (const consent of claim.consents ?? []) {
    await tx
      .insertInto('customer_consents')
      .values({ merchant_id: merchantId, customer_id: customerId, topic: consent.topic, state: consent.state, source, updated_at: nowIso() })
      .onConflict((conflict) => {
        const target = conflict.columns(['merchant_id', 'customer_id', 'topic']);
        return fromSnapshot ? target.doNothing() : target.doUpdateSet({ state: consent.state, source, updated_at: nowIso() });
      })
      .execute();
  }
  if (claim.note) {
    await tx.updateTable('customers').set({ note: claim.note }).where('merchant_id', '=', merchantId).where('id', '=', customerId).where('note', 'is', null).execute();
  }
}

/**
 * Links a channel's customer id to a profile unless another profile already holds it; returns the
 * profile that holds it afterwards (this one, or the other).
 */
export async function linkChannelId(tx: Tx, merchantId: string, customerId: string, kind: 'shopify_id' | 'square_id' | 'pos_id', value: string): Promise<string> {
  const identifier = normalizeChannelId(kind, value);
  assert(identifier.valid, `linkChannelId: a ${kind} is not empty`);
  const [holder] = await findCustomerIdsByIdentifier(tx, merchantId, kind, identifier.normalized, 1);
  if (holder) return holder;
  await addIdentifiers(tx, merchantId, customerId, [{ ...identifier, flag: null, verified: false }]);
  return customerId;
}
