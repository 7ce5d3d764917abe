import { sql, type Compilable } from 'kysely';
import { lookupResultsMax, selectIdentifierHolders, type IdentifierKind, type LookupIdentifier } from '../customers/index.ts';
import { jsonSql, jsonText, reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';

/** How many of a shopper's latest orders the register's lookup shows beside her. */
export const lookupOrdersPerCustomer = 5;

type HoldersParameters = { merchantId: string; kind: IdentifierKind; normalized: string; baseTier: string };

/**
 * The register's answer to a search for one email or phone, `{"data":[…]}`, built whole by the
 * database in one statement: the active profiles holding it (oldest first, at most 20), each with
 * her name, linkable emails and phones (oldest first), loyalty code, points and tier (the
 * merchant's base tier without an account) and her five latest orders from every channel. The
 * same answer as `lookupCustomerSummaries` builds from rows for other searches (customer-views.ts);
 * test/customer-lookup.test.ts holds both to the documented shape.
 *
 * Why one statement that writes JSON: on SQLite the lookup's reads run on the reader thread
 * (src/db/reader-thread.ts), and rows sent back were copied between threads, mapped into the
 * answer and serialised on the event loop, the busier thread. Saturated at 1,000,000 customers,
 * three alternating pairs of 5 s runs against the profiles and orders read as rows: by email
 * 10,506–12,200 lookups a second against 8,315–9,572, by phone 10,644–11,855 against 8,981–9,008;
 * the engine's CPU a lookup 111–135 µs against 159–181 (issue #9, bench/customer-lookup.ts).
 */
const holderAnswer = reuseQuery((db, param: ParameterPlaceholders<HoldersParameters>) => {
  const json = jsonSql(db);
  const holders = selectIdentifierHolders(db, param('merchantId'), param('kind'), param('normalized'), lookupResultsMax);
  const identifiers = (kind: IdentifierKind) => sql`(
    select ${json.array(sql.ref('i.value_normalized'), sql`i.created_at, i.id`)} from customer_identifiers as i
    where i.merchant_id = c.merchant_id and i.customer_id = c.id and i.kind = ${sql.lit(kind)} and i.flag is null)`;
  const money = (column: string) => json.object({ amount_minor: sql.ref(`o.${column}`), currency: sql.ref('o.currency') });
  const order = json.object({
    id: sql.ref('o.id'), channel: sql.ref('o.channel'), source: sql.ref('o.source'), order_number: sql.ref('o.order_number'),
    location_id: sql.ref('o.location_id'), placed_at: sql.ref('o.placed_at'), total: money('total_minor'), refunded: money('refunded_minor'),
  });
  // Her latest orders by the index (merchant_id, customer_id, placed_at), then in that order again
  // as an array.
  const latestOrders = sql`(
    select ${json.array(json.nested(sql.ref('latest.answer')), sql`latest.placed_at desc, latest.id desc`)}
    from (select ${order} as answer, o.placed_at, o.id from orders as o
      where o.merchant_id = c.merchant_id and o.customer_id = c.id
      order by o.placed_at desc, o.id desc limit ${sql.lit(lookupOrdersPerCustomer)}) as latest)`;
  // The name as the profile shows it: first and last, whichever are there, one space between.
  const name = sql`case when coalesce(c.first_name, '') = '' then coalesce(c.last_name, '')
    when coalesce(c.last_name, '') = '' then c.first_name else c.first_name || ' ' || c.last_name end`;
  const profile = json.object({
    id: sql.ref('c.id'), name, emails: json.nested(identifiers('email')), phones: json.nested(identifiers('phone')), loyalty_code: sql.ref('c.loyalty_code'),
    loyalty: json.object({ available: sql`coalesce(a.available, 0)`, pending: sql`coalesce(a.pending, 0)`, tier: sql`coalesce(a.tier, ${param('baseTier')})` }),
    orders: json.nested(latestOrders),
  });
  // The merchant compared through an expression, so that each profile is read by its primary key
  // (customer-queries.ts, `buildLookupProfiles`).
  const answer = sql<{ answer: unknown }>`
    select ${json.object({ data: json.array(profile, sql`c.created_at, c.id`) })} as answer
    from ${holders} as holders
    join customers as c on c.id = holders.customer_id and (c.merchant_id || '') = ${param('merchantId')}
    left join loyalty_accounts as a on a.merchant_id = c.merchant_id and a.customer_id = c.id`;
  return { compile: () => answer.compile(db) } satisfies Compilable<{ answer: unknown }>;
});

/** The answer to a search for one email or phone, as JSON text (`holderAnswer`). */
export async function lookupHoldersAnswer(db: Queryable, merchant: Merchant, identifier: LookupIdentifier): Promise<string> {
  const [row] = await holderAnswer.execute(db, { merchantId: merchant.id, ...identifier, baseTier: merchant.settings.loyalty.baseTier });
  return jsonText(row!.answer);
}
