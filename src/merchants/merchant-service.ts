import { createHash, randomBytes } from 'node:crypto';
import { keptRead, reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { currencyExponent } from '../shared/money.ts';
import { newId } from '../shared/ids.ts';
import { parseMerchantSettings, type MerchantSettings } from './merchant-settings.ts';

export type ApiKeyScope = 'admin' | 'pos' | 'read';
export type Channel = 'shopify' | 'square' | 'pos';

export interface Merchant {
  id: string;
  name: string;
  currency: string;
  defaultCountry: string;
  settings: MerchantSettings;
}

export interface ApiKeyPrincipal {
  merchantId: string;
  keyId: string;
  scope: ApiKeyScope;
}

export async function createMerchant(
  db: Queryable,
  input: { name: string; currency: string; defaultCountry: string; settings?: object; id?: string },
): Promise<Merchant> {
  currencyExponent(input.currency);
  const settings = parseMerchantSettings(input.settings ?? {});
  const id = input.id ?? newId('mer');
  await db
    .insertInto('merchants')
    .values({ id, merchant_id: id, name: input.name, currency: input.currency, default_country: input.defaultCountry, settings_json: JSON.stringify(settings), created_at: nowIso() })
    .execute();
  return { id, name: input.name, currency: input.currency, defaultCountry: input.defaultCountry, settings };
}

// Every command reads its merchant (settings, currency): built and compiled once (issue #9).
const merchantById = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string }>) => db.selectFrom('merchants').selectAll().where('merchant_id', '=', param('merchantId')));

export function getMerchant(db: Queryable, merchantId: string): Promise<Merchant> {
  return keptRead(db, `merchant:${merchantId}`, () => readMerchant(db, merchantId));
}

async function readMerchant(db: Queryable, merchantId: string): Promise<Merchant> {
  const [row] = await merchantById.execute(db, { merchantId });
  if (!row) throw new AppError('merchants.not_found', `No merchant ${merchantId}`, { merchant_id: merchantId });
  return { id: row.id, name: row.name, currency: row.currency, defaultCountry: row.default_country, settings: parseStoredSettings(row.settings_json) };
}

export async function findMerchantByName(db: Queryable, name: string): Promise<Merchant | undefined> {
  const row = await db.selectFrom('merchants').select('id').where('name', '=', name).executeTakeFirst();
  return row ? getMerchant(db, row.id) : undefined;
}

function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Issues an API key. The plain key is returned once; only its SHA-256 hash is stored. */
export async function issueApiKey(
  db: Queryable,
  merchantId: string,
  input: { name: string; scope: ApiKeyScope; expiresAt?: string; plainKey?: string },
): Promise<{ id: string; key: string }> {
  const key = input.plainKey ?? `ck_${input.scope}_${randomBytes(24).toString('base64url')}`;
  const id = newId('key');
  await db
    .insertInto('api_keys')
    .values({ id, merchant_id: merchantId, name: input.name, key_hash: hashApiKey(key), key_prefix: key.slice(0, 12), scope: input.scope, created_at: nowIso(), expires_at: input.expiresAt ?? null, revoked_at: null })
    .execute();
  return { id, key };
}

export async function revokeApiKey(db: Queryable, merchantId: string, keyId: string): Promise<void> {
  await db.updateTable('api_keys').set({ revoked_at: nowIso() }).where('merchant_id', '=', merchantId).where('id', '=', keyId).execute();
}

/** Resolves a bearer key to its merchant and scope; revoked and expired keys resolve to nothing. */
export async function authenticateApiKey(db: Queryable, key: string): Promise<ApiKeyPrincipal | undefined> {
  return (await authenticateApiKeyWithMerchant(db, key))?.principal;
}

export interface AuthenticatedKey {
  principal: ApiKeyPrincipal;
  merchant: Merchant;
}

// Every API request runs this query: built and compiled once (src/db/compiled-query.ts), it costs
// a few µs of SQL instead of Kysely's building on every request (found by bench/customer-lookup.ts).
const keyWithMerchant = reuseQuery((db, param: ParameterPlaceholders<{ keyHash: string }>) => db
  .selectFrom('api_keys')
  .innerJoin('merchants', 'merchants.id', 'api_keys.merchant_id')
  .select(['api_keys.id as key_id', 'api_keys.scope', 'api_keys.expires_at', 'api_keys.revoked_at', 'merchants.id as merchant_id', 'merchants.name', 'merchants.currency', 'merchants.default_country', 'merchants.settings_json'])
  .where('api_keys.key_hash', '=', param('keyHash')));

type KeyRow = Awaited<ReturnType<typeof keyWithMerchant.execute>>[number];

function authenticatedKey(row: KeyRow | undefined): AuthenticatedKey | undefined {
  if (!row || row.revoked_at) return undefined;
  if (row.expires_at && row.expires_at <= nowIso()) return undefined;
  return {
    principal: { merchantId: row.merchant_id, keyId: row.key_id, scope: row.scope as ApiKeyScope },
    merchant: { id: row.merchant_id, name: row.name, currency: row.currency, defaultCountry: row.default_country, settings: parseStoredSettings(row.settings_json) },
  };
}

/**
 * Resolves a bearer key to its principal and its merchant in one query, as every API request
 * needs both; revoked, expired and unknown keys resolve to nothing. Nothing is remembered between
 * calls, so a revocation, an erasure or a settings change applies to the very next request.
 */
export async function authenticateApiKeyWithMerchant(db: Queryable, key: string): Promise<AuthenticatedKey | undefined> {
  const [row] = await keyWithMerchant.execute(db, { keyHash: hashApiKey(key) });
  return authenticatedKey(row);
}

// Keys kept at most: a merchant has a few per register and integration; unknown keys are never kept.
const keptKeysMax = 1_000;

/**
 * `authenticateApiKeyWithMerchant` for every request of an engine: on SQLite it keeps the keys it
 * read while `changeStamp` says nothing was written to the database since (by this process or any
 * other, change-stamp.ts), so a revocation, an erasure or a settings change still applies to the
 * very next request, and expiry is checked at every use. Kept keys cost a request at most one
 * PRAGMA instead of the key's query and its hash: saturated lookups by email at 1,000,000
 * customers answered 8,824–9,138/s with every key kept against 7,664–7,815 reading it each time
 * (two alternating pairs; issue #9). Without a stamp (PostgreSQL) every request reads its key.
 */
export function createKeyAuthenticator(db: Queryable, changeStamp: (() => string) | undefined): (key: string) => Promise<AuthenticatedKey | undefined> {
  if (!changeStamp) return (key) => authenticateApiKeyWithMerchant(db, key);
  const kept = new Map<string, KeyRow>();
  let keptAt = '';
  return async (key) => {
    // Taken before the read: a write during it leaves the row kept under an older stamp, which the
    // next request finds different.
    const stamp = changeStamp();
    if (stamp !== keptAt) {
      kept.clear();
      keptAt = stamp;
    }
    // Kept by the key as presented, so a kept key costs no hash (a SHA-256, ~2 % of a lookup).
    let row = kept.get(key);
    if (!row) {
      [row] = await keyWithMerchant.execute(db, { keyHash: hashApiKey(key) });
      if (row && keptAt === stamp && kept.size < keptKeysMax) kept.set(key, row);
    }
    return authenticatedKey(row);
  };
}

/** A merchant from its columns read joined with another table (a staff session), settings parsed once per text. */
export function merchantFromColumns(row: { merchant_id: string; name: string; currency: string; default_country: string; settings_json: string }): Merchant {
  return { id: row.merchant_id, name: row.name, currency: row.currency, defaultCountry: row.default_country, settings: parseStoredSettings(row.settings_json) };
}

// Parsed settings by the JSON text they were parsed from: every API request reads its merchant,
// and the same text always parses to the same settings, so one frozen copy per text is shared
// instead of validating through zod each time (a change to the settings is a new text, parsed anew).
const parsedSettingsMax = 1_000;
const parsedSettings = new Map<string, MerchantSettings>();

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function parseStoredSettings(json: string): MerchantSettings {
  let settings = parsedSettings.get(json);
  if (!settings) {
    settings = deepFreeze(parseMerchantSettings(json));
    if (parsedSettings.size >= parsedSettingsMax) parsedSettings.delete(parsedSettings.keys().next().value!);
    parsedSettings.set(json, settings);
  }
  return settings;
}
