import { sql, type Compilable, type RawBuilder } from 'kysely';
import {
  findLookupMatches, lookupResultsMax, namePrefixRange, parseLookupQuery, rankedLookupIds, selectIdentifierHolders, selectNamePrefixMatches,
  soleLookupIdentifier, type IdentifierKind,
} from '../customers/index.ts';
import { jsonSql, jsonText, reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { assert } from '../shared/app-error.ts';
import { identityRulesOf } from './resolve-order-customer.ts';

// The register's answer to a search, `{"data":[…]}`, is built whole by the database in one
// statement: the profiles found, each with her name, linkable emails and phones (oldest first),
// loyalty code, points and tier (the merchant's base tier without an account) and her five latest
// orders from every channel. test/customer-lookup.test.ts holds it to what the full profile shows,
// in the documented shape.
//
// Why JSON from the database: on SQLite the lookup's reads run on the reader thread
// (src/db/reader-thread.ts), and rows sent back were copied between threads, mapped into the answer
// and serialised on the event loop, the busier thread. Saturated at 1,000,000 customers, three
// alternating pairs of 5 s runs against the profiles and orders read as rows: by email
// 10,506–12,200 lookups a second against 8,315–9,572, by phone 10,644–11,855 against 8,981–9,008
// (the engine's CPU a lookup 111–135 µs against 159–181); by a name prefix, 20 profiles with their
// orders, 3,028–3,383 against 2,370–2,508 (499–549 µs against 671–709) (issue #9,
// bench/customer-lookup.ts).

/** How many of a shopper's latest orders the register's lookup shows beside her. */
export const lookupOrdersPerCustomer = 5;

/**
 * The profile of customer `c` (joined to her loyalty account `a`) as the register shows it, and
 * the answer of all the rows, `{"data":[…]}`, in `orderBy` order. `baseTier` is the placeholder of
 * the merchant's base tier.
 */
function answerOfProfiles(db: Queryable, baseTier: string, orderBy: RawBuilder<unknown>): RawBuilder<unknown> {
  const json = jsonSql(db);
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
  // The name as the full profile shows it: first and last, whichever are there, one space between.
  const name = sql`case when coalesce(c.first_name, '') = '' then coalesce(c.last_name, '')
    when coalesce(c.last_name, '') = '' then c.first_name else c.first_name || ' ' || c.last_name end`;
  const profile = json.object({
    id: sql.ref('c.id'), name, emails: json.nested(identifiers('email')), phones: json.nested(identifiers('phone')), loyalty_code: sql.ref('c.loyalty_code'),
    loyalty: json.object({ available: sql`coalesce(a.available, 0)`, pending: sql`coalesce(a.pending, 0)`, tier: sql`coalesce(a.tier, ${baseTier})` }),
    orders: json.nested(latestOrders),
  });
  return json.object({ data: json.array(profile, orderBy) });
}

/**
 * The answer for the customers a subquery `found` names (its column `customer_id`), in `orderBy`
 * order (of `c`, the customer, or `found`).
 */
function answerOfFound(db: Queryable, merchantId: string, baseTier: string, found: Compilable<unknown> | RawBuilder<unknown>, orderBy: RawBuilder<unknown>): Compilable<{ answer: unknown }> {
  // The merchant compared through an expression: each profile is read by its primary key (given
  // `merchant_id = ?`, SQLite's planner without statistics may take an index of the merchant alone).
  const answer = sql<{ answer: unknown }>`
    select ${answerOfProfiles(db, baseTier, orderBy)} as answer
    from ${found} as found
    join customers as c on c.id = found.customer_id and (c.merchant_id || '') = ${merchantId}
    left join loyalty_accounts as a on a.merchant_id = c.merchant_id and a.customer_id = c.id`;
  return { compile: () => answer.compile(db) };
}

type Searched<P> = P & { merchantId: string; baseTier: string };

/** A search for one email or phone: the active profiles holding it, oldest first, at most 20. */
const holdersAnswer = reuseQuery((db, param: ParameterPlaceholders<Searched<{ kind: IdentifierKind; normalized: string }>>) =>
  answerOfFound(db, param('merchantId'), param('baseTier'),
    selectIdentifierHolders(db, param('merchantId'), param('kind'), param('normalized'), lookupResultsMax), sql`c.created_at, c.id`));

/** A search for a name prefix only: the active profiles whose name starts with it, alphabetically, at most 20. */
const namePrefixAnswer = reuseQuery((db, param: ParameterPlaceholders<Searched<{ from: string; below: string }>>) =>
  answerOfFound(db, param('merchantId'), param('baseTier'),
    selectNamePrefixMatches(db, param('merchantId'), { from: param('from'), below: param('below') }), sql`c.name_search, c.id`));

/** Any other search (a loyalty code, a phone that is also a code, a code that is also a name): the customers ranked, as a JSON array of ids. */
const rankedAnswer = reuseQuery((db, param: ParameterPlaceholders<Searched<{ rankedIds: string }>>) =>
  answerOfFound(db, param('merchantId'), param('baseTier'), sql`(select value as customer_id, position from ${jsonSql(db).elements(param('rankedIds'))} as listed)`, sql`found.position`));

/**
 * The register's answer to what an associate typed, `{"data":[…]}`, as JSON text: for an email or
 * a phone, or a name, one statement; for a loyalty code or a search that could be several things,
 * the matches first, ranked (exact ones first, then names), then their answer.
 */
export async function lookupAnswer(db: Queryable, merchant: Merchant, query: string): Promise<string> {
  const search = parseLookupQuery(query, identityRulesOf(merchant));
  const searched = { merchantId: merchant.id, baseTier: merchant.settings.loyalty.baseTier };
  const identifier = soleLookupIdentifier(search);
  const namePrefix = search.identifier === undefined && search.loyaltyCode === undefined ? search.namePrefix : undefined;
  let rows: { answer: unknown }[];
  if (identifier) {
    rows = await holdersAnswer.execute(db, { ...searched, ...identifier });
  } else if (namePrefix !== undefined) {
    rows = await namePrefixAnswer.execute(db, { ...searched, ...namePrefixRange(namePrefix) });
  } else {
    const ids = rankedLookupIds(await findLookupMatches(db, merchant.id, search));
    if (ids.length === 0) return '{"data":[]}';
    rows = await rankedAnswer.execute(db, { ...searched, rankedIds: JSON.stringify(ids) });
  }
  assert(rows.length === 1, `a lookup's answer is one row (${rows.length})`);
  return jsonText(rows[0]!.answer);
}
