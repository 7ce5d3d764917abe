import { sql, type Insertable } from 'kysely';
import { generateLoyaltyCode, normalizePhone, toNameSearch } from '../src/customers/index.ts';
import type { Database, Db } from '../src/db/index.ts';
import { newId } from '../src/shared/ids.ts';

// Synthetic customers for the lookup benchmark, loaded with multi-row inserts straight through
// Kysely: going through the API would measure the write path, and would take hours at 1M.

export type LookupKind = 'phone' | 'email' | 'name';
export const lookupKinds: readonly LookupKind[] = ['phone', 'email', 'name'];

/** One lookup as an associate types it (for HTTP) and as storage holds it (for the raw baseline). */
export interface LookupQuery {
  typed: string;
  /** The normalized value the raw baseline searches for: E.164, lowercase email, lowercase name prefix. */
  stored: string;
  /** For exact identifiers, the customer the lookup must find first; undefined for name prefixes. */
  expectedCustomerId?: string;
}

export type LookupQueries = Record<LookupKind, LookupQuery[]>;

export interface LoadedCustomers {
  customerCount: number;
  orderCount: number;
  queries: LookupQueries;
  loadMs: number;
}

const firstNames = [
  'Aaliyah', 'Adam', 'Aiden', 'Alexandre', 'Amelia', 'Anika', 'Antoine', 'Aria', 'Arjun', 'Ava', 'Benjamin', 'Camille', 'Charlotte', 'Chloe', 'Daniel',
  'David', 'Dylan', 'Elena', 'Eli', 'Elizabeth', 'Emily', 'Emma', 'Ethan', 'Evelyn', 'Felix', 'Gabriel', 'Grace', 'Hannah', 'Harper', 'Hiroshi',
  'Isabella', 'Jack', 'Jacob', 'Jane', 'Janet', 'Jasmine', 'Jayden', 'Jean', 'Jessica', 'Jordan', 'Joshua', 'Julia', 'Kai', 'Karan', 'Katherine',
  'Kevin', 'Layla', 'Leah', 'Liam', 'Lily', 'Logan', 'Lucas', 'Madison', 'Maya', 'Mei', 'Mia', 'Michael', 'Mohammed', 'Nathan', 'Noah',
  'Nora', 'Olivia', 'Omar', 'Owen', 'Priya', 'Raphael', 'Rebecca', 'Riley', 'Samuel', 'Sarah', 'Sofia', 'Sophie', 'Thomas', 'Victoria', 'William',
  'Xavier', 'Yasmin', 'Zachary', 'Zoe', 'Zara',
];
const lastNames = [
  'Anderson', 'Bouchard', 'Brown', 'Campbell', 'Chen', 'Clarke', 'Cote', 'Davies', 'Doe', 'Dubois', 'Fraser', 'Gagnon', 'Gill', 'Grant', 'Hall',
  'Harris', 'Huang', 'Jackson', 'Johnson', 'Kaur', 'Kelly', 'Khan', 'Lam', 'Lavoie', 'Lee', 'Leblanc', 'Li', 'Lin', 'MacDonald', 'Martin',
  'Mitchell', 'Morin', 'Murphy', 'Nguyen', 'Ouellet', 'Park', 'Patel', 'Pelletier', 'Roy', 'Ross', 'Scott', 'Singh', 'Smith', 'Stewart', 'Taylor',
  'Thompson', 'Tremblay', 'Wang', 'White', 'Williams', 'Wilson', 'Wong', 'Young', 'Zhang',
];
const emailDomains = ['example.com', 'example.org', 'mail.example.net', 'example.ca'];
// Canadian area codes in service; libphonenumber's full metadata accepts any exchange 2xx-9xx in them.
const areaCodes = [
  '204', '226', '236', '249', '250', '289', '306', '343', '365', '403', '416', '418', '431', '437', '438', '450', '506', '514', '519', '548',
  '579', '581', '587', '604', '613', '639', '647', '705', '709', '778', '780', '782', '807', '819', '825', '867', '873', '902', '905',
];
// Exchanges 200-999 without the N11 service codes and the 555 directory exchange.
const exchanges = Array.from({ length: 800 }, (_, index) => 200 + index).filter((exchange) => exchange % 100 !== 11 && exchange !== 555).map(String);

const customersPerTransaction = 50_000;
// SQLite accepts at most 32,766 bound values per statement and PostgreSQL 65,535; stay well below both.
const boundValuesPerStatementMax = 30_000;
const queriesPerKindMax = 20_000;
const ordersFraction = 0.2;
const ordersPerBuyerMax = 3;
const phoneValidationEvery = 997;

/** The i-th distinct Canadian number in E.164 and as people type it: "(613) 555-0142". */
export function phoneNumberOf(index: number): { e164: string; typed: string } {
  const area = areaCodes[index % areaCodes.length]!;
  const rest = Math.floor(index / areaCodes.length);
  const exchange = exchanges[rest % exchanges.length]!;
  const line = String(Math.floor(rest / exchanges.length)).padStart(4, '0');
  if (line.length > 4) throw new Error(`phoneNumberOf: index ${index} is beyond the numbers this plan can make distinct`);
  return { e164: `+1${area}${exchange}${line}`, typed: `(${area}) ${exchange}-${line}` };
}

/** Upper- or lowercases each letter at random: people type emails in any case. */
function randomCase(text: string): string {
  let result = '';
  for (const character of text) result += randomInt(2) === 0 ? character.toUpperCase() : character;
  return result;
}

// Math.random is enough for synthetic data, and much cheaper than crypto's randomInt at millions of calls.
function randomInt(below: number): number {
  return Math.floor(Math.random() * below);
}

function pick<T>(values: readonly T[]): T {
  return values[randomInt(values.length)]!;
}

function isoDaysAgo(now: number, daysMax: number): string {
  return new Date(now - randomInt(daysMax * 24) * 3_600_000).toISOString();
}

type BulkTable = 'customers' | 'customer_identifiers' | 'loyalty_accounts' | 'orders';

async function insertInChunks<Table extends BulkTable>(db: Db, table: Table, rows: Insertable<Database[Table]>[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!).length;
  const rowsPerStatement = Math.floor(boundValuesPerStatementMax / columns);
  await db.transaction().execute(async (tx) => {
    for (let start = 0; start < rows.length; start += rowsPerStatement) {
      // The rows are typed for their table above; Kysely cannot narrow a generic table name here.
      await tx.insertInto(table).values(rows.slice(start, start + rowsPerStatement) as never).execute();
    }
  });
}

/** Keeps an even sample of at most `queriesPerKindMax` lookups per kind from the loaded set. */
function createQuerySampler(customerCount: number) {
  const every = Math.max(1, Math.floor(customerCount / queriesPerKindMax));
  const queries: LookupQueries = { phone: [], email: [], name: [] };
  return {
    queries,
    offer(index: number, customerId: string, phone: { e164: string; typed: string }, email: string, firstName: string) {
      if (index % every !== 0 || queries.phone.length >= queriesPerKindMax) return;
      queries.phone.push({ typed: phone.typed, stored: phone.e164, expectedCustomerId: customerId });
      queries.email.push({ typed: randomCase(email), stored: email, expectedCustomerId: customerId });
      const prefix = firstName.slice(0, 3 + randomInt(3));
      queries.name.push({ typed: prefix, stored: prefix.toLowerCase() });
    },
  };
}

/** Adds one batch of customers, each with an email, a phone, a loyalty code and an account; some with orders. */
async function loadCustomerBatch(db: Db, merchantId: string, startIndex: number, count: number, codes: Set<string>, sampler: ReturnType<typeof createQuerySampler>, now: number): Promise<number> {
  const customers: Insertable<Database['customers']>[] = [];
  const identifiers: Insertable<Database['customer_identifiers']>[] = [];
  const accounts: Insertable<Database['loyalty_accounts']>[] = [];
  const orders: Insertable<Database['orders']>[] = [];
  for (let index = startIndex; index < startIndex + count; index += 1) {
    const id = newId('cus');
    const firstName = pick(firstNames);
    const lastName = pick(lastNames);
    let code = generateLoyaltyCode();
    while (codes.has(code)) code = generateLoyaltyCode();
    codes.add(code);
    const createdAt = isoDaysAgo(now, 1500);
    const phone = phoneNumberOf(index);
    if (index % phoneValidationEvery === 0) {
      const normalized = normalizePhone(phone.typed, 'CA');
      if (!normalized.valid || normalized.normalized !== phone.e164) throw new Error(`generated phone ${phone.typed} normalizes to ${normalized.normalized} (valid ${normalized.valid}), not ${phone.e164}`);
    }
    const email = `${firstName}.${lastName}.${index}@${emailDomains[index % emailDomains.length]}`.toLowerCase();
    customers.push({ id, merchant_id: merchantId, first_name: firstName, last_name: lastName, name_search: toNameSearch(firstName, lastName), loyalty_code: code, source_updated_at: null, created_at: createdAt, updated_at: createdAt, state: 'active', merged_into: null, note: null, preferences_json: '{}' });
    identifiers.push({ id: newId('cid'), merchant_id: merchantId, customer_id: id, kind: 'email', value_original: email, value_normalized: email, is_valid: 1, created_at: createdAt, flag: null, verified: 0 });
    identifiers.push({ id: newId('cid'), merchant_id: merchantId, customer_id: id, kind: 'phone', value_original: phone.typed, value_normalized: phone.e164, is_valid: 1, created_at: createdAt, flag: null, verified: 0 });
    const available = randomInt(5_000);
    accounts.push({ merchant_id: merchantId, customer_id: id, available, pending: 0, lifetime_earned: available + randomInt(5_000), tier: 'Member', updated_at: createdAt });
    if (Math.random() < ordersFraction) {
      for (let order = 0, orderCount = 1 + randomInt(ordersPerBuyerMax); order < orderCount; order += 1) {
        const number = `${index}-${order}`;
        const totalMinor = 500 + randomInt(50_000);
        const placedAt = isoDaysAgo(now, 700);
        const online = randomInt(2) === 0;
        orders.push({
          id: newId('ord'), merchant_id: merchantId, channel: online ? 'online' : 'store', source: online ? 'shopify' : 'pos', source_ref: `bench-${number}`, order_number: `#${number}`,
          customer_id: id, location_id: null, register_ref: null, status: 'completed', currency: 'CAD', subtotal_minor: totalMinor, discount_minor: 0, shipping_minor: 0, tax_minor: 0,
          total_minor: totalMinor, refunded_minor: 0, placed_at: placedAt, source_updated_at: null, created_at: placedAt, updated_at: placedAt,
        });
      }
    }
    sampler.offer(index, id, phone, email, firstName);
  }
  await insertInChunks(db, 'customers', customers);
  await insertInChunks(db, 'customer_identifiers', identifiers);
  await insertInChunks(db, 'loyalty_accounts', accounts);
  await insertInChunks(db, 'orders', orders);
  return orders.length;
}

/**
 * Loads `customerCount` customers of one merchant in transactions of `customersPerTransaction`,
 * and returns an even sample of lookups over them. Shuffles the sample so that consecutive
 * lookups touch unrelated pages.
 */
export async function loadCustomers(db: Db, dialect: 'sqlite' | 'postgres', merchantId: string, customerCount: number): Promise<LoadedCustomers> {
  const startedAt = performance.now();
  // A larger page cache for the load only (this connection), so index inserts at 1M stay in memory;
  // the connection's own is restored after it (an engine's connection must measure with its own).
  const cacheSize = dialect === 'sqlite' ? (await sql<{ cache_size: number }>`pragma cache_size`.execute(db)).rows[0]?.cache_size : undefined;
  if (dialect === 'sqlite') await sql`pragma cache_size = -524288`.execute(db);
  const codes = new Set<string>();
  const sampler = createQuerySampler(customerCount);
  const now = Date.now();
  let orderCount = 0;
  for (let start = 0; start < customerCount; start += customersPerTransaction) {
    orderCount += await loadCustomerBatch(db, merchantId, start, Math.min(customersPerTransaction, customerCount - start), codes, sampler, now);
  }
  // SQLite plans these lookups from its indexes alone, and the engine never runs ANALYZE, so neither
  // does the benchmark; PostgreSQL's planner needs statistics, which autovacuum would gather soon.
  if (dialect === 'sqlite') {
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    await sql.raw(`pragma cache_size = ${Number(cacheSize)}`).execute(db);
  } else {
    await sql`analyze`.execute(db);
  }
  for (const kind of lookupKinds) shuffle(sampler.queries[kind]);
  return { customerCount, orderCount, queries: sampler.queries, loadMs: performance.now() - startedAt };
}

function shuffle<T>(values: T[]): void {
  for (let index = values.length - 1; index > 0; index -= 1) {
    const other = randomInt(index + 1);
    [values[index], values[other]] = [values[other]!, values[index]!];
  }
}
