import type { LookupKind, LookupQuery } from './customer-lookup-data.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { openRawSqlite } from './bench-database.ts';

// The raw storage limit: the same lookups as the engine answers, with the same statement (the
// whole answer written as JSON by SQLite, the customers found by an email's or phone's holders or a
// name's range as a subquery), as better-sqlite3 statements prepared once, on the same database
// file. No HTTP, no Kysely, no normalization of what was typed: what one core can get out of SQLite
// for this work.

const lookupResultsMax = 20;
const ordersPerCustomer = 5;

export interface RawLookupFigures {
  lookups: number;
  lookupsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Process CPU time (all threads) per lookup, in microseconds. */
  cpuMicrosPerLookup: number;
}

export function createRawLookup(path: string, merchantId: string) {
  const database = openRawSqlite(path);
  // As the engine (src/commands/lookup-answer.ts): the whole answer written as JSON by SQLite in
  // one statement, the customers found by `found` (a subquery of their ids, `customer_id`) in
  // `orderBy` order, each with her identifiers, points and latest orders.
  const answerOf = (found: string, orderBy: string) => database.prepare<[Record<string, string>], { answer: string }>(`
    select json_object('data', json_group_array(json_object(
      'id', c.id,
      'name', case when coalesce(c.first_name, '') = '' then coalesce(c.last_name, '')
        when coalesce(c.last_name, '') = '' then c.first_name else c.first_name || ' ' || c.last_name end,
      'emails', json((select json_group_array(i.value_normalized order by i.created_at, i.id) from customer_identifiers i
        where i.merchant_id = c.merchant_id and i.customer_id = c.id and i.kind = 'email' and i.flag is null)),
      'phones', json((select json_group_array(i.value_normalized order by i.created_at, i.id) from customer_identifiers i
        where i.merchant_id = c.merchant_id and i.customer_id = c.id and i.kind = 'phone' and i.flag is null)),
      'loyalty_code', c.loyalty_code,
      'loyalty', json_object('available', coalesce(a.available, 0), 'pending', coalesce(a.pending, 0), 'tier', coalesce(a.tier, @baseTier)),
      'orders', json((select json_group_array(json(latest.answer) order by latest.placed_at desc, latest.id desc) from (
        select json_object('id', o.id, 'channel', o.channel, 'source', o.source, 'order_number', o.order_number, 'location_id', o.location_id,
          'placed_at', o.placed_at, 'total', json_object('amount_minor', o.total_minor, 'currency', o.currency),
          'refunded', json_object('amount_minor', o.refunded_minor, 'currency', o.currency)) as answer, o.placed_at, o.id
        from orders o where o.merchant_id = c.merchant_id and o.customer_id = c.id order by o.placed_at desc, o.id desc limit ${ordersPerCustomer}) as latest))
    ) order by ${orderBy})) as answer
    from (${found}) as found
    join customers c on c.id = found.customer_id and (c.merchant_id || '') = @merchantId
    left join loyalty_accounts a on a.merchant_id = c.merchant_id and a.customer_id = c.id`);
  // An email or a phone: the active profiles holding it, oldest first.
  const holdersAnswer = answerOf(`
    select ci.customer_id from customer_identifiers ci
    join customers h on h.id = ci.customer_id and h.merchant_id = ci.merchant_id
    where ci.merchant_id = @merchantId and ci.kind = @kind and ci.value_normalized = @normalized and ci.is_valid = 1 and h.state = 'active'
    order by h.created_at limit ${lookupResultsMax}`, 'c.created_at, c.id');
  // A name prefix: the active profiles in the name's range, alphabetically.
  const namePrefixAnswer = answerOf(`
    select id as customer_id, name_search from customers
    where merchant_id = @merchantId and state = 'active' and name_search >= @from and name_search < @below
    order by name_search limit ${lookupResultsMax}`, 'c.name_search, c.id');

  /** Runs one lookup; returns how many customers it found. */
  function lookup(kind: LookupKind, stored: string): number {
    const { answer } = kind === 'name'
      ? namePrefixAnswer.get({ merchantId, from: stored, below: `${stored}\uffff`, baseTier: 'Member' })!
      : holdersAnswer.get({ merchantId, kind, normalized: stored, baseTier: 'Member' })!;
    return answer.split('"loyalty_code":').length - 1;
  }

  /** Runs random lookups of one kind for `durationMs`, one after another, and times each. */
  function measure(kind: LookupKind, queries: LookupQuery[], durationMs: number): RawLookupFigures {
    if (queries.length === 0) throw new Error(`no ${kind} queries to run`);
    const histogram = new LatencyHistogram();
    const cpuAtStart = process.cpuUsage();
    const startedAt = performance.now();
    const endsAt = startedAt + durationMs;
    let now = startedAt;
    while (now < endsAt) {
      const query = queries[Math.floor(Math.random() * queries.length)]!;
      const found = lookup(kind, query.stored);
      if (kind !== 'name' && found !== 1) throw new Error(`raw ${kind} lookup of ${query.stored} found ${found} customers, expected 1`);
      const finishedAt = performance.now();
      histogram.record(finishedAt - now);
      now = finishedAt;
    }
    const cpu = process.cpuUsage(cpuAtStart);
    return {
      lookups: histogram.count, lookupsPerSecond: histogram.count / ((now - startedAt) / 1000),
      p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99), cpuMicrosPerLookup: (cpu.user + cpu.system) / histogram.count,
    };
  }

  return { lookup, measure, close: () => database.close() };
}
