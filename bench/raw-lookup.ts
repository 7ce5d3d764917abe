import type { Statement } from 'better-sqlite3';
import type { LookupKind, LookupQuery } from './customer-lookup-data.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { openRawSqlite } from './bench-database.ts';

// The raw storage limit: the same lookups as the engine answers, with the same SELECTs (for an
// email or a phone the whole answer as JSON in one statement, which finds the customers holding it
// itself; a name search's profiles with emails, phones and loyalty accounts in one statement, found
// with it, and their five latest orders read by id in another), as better-sqlite3 statements
// prepared once, on the same database file. No HTTP, no Kysely, no normalization of what was typed:
// what one core can get out of SQLite for this work.

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

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

export function createRawLookup(path: string, merchantId: string) {
  const database = openRawSqlite(path);
  const holders = `
    select ci.customer_id from customer_identifiers ci
    join customers c on c.id = ci.customer_id and c.merchant_id = ci.merchant_id
    where ci.merchant_id = @merchantId and ci.kind = @kind and ci.value_normalized = @normalized and ci.is_valid = 1 and c.state = 'active'
    order by c.created_at limit ${lookupResultsMax}`;
  const profileDetails = `
    left join loyalty_accounts la on la.merchant_id = c.merchant_id and la.customer_id = c.id
    left join customer_identifiers ci on ci.merchant_id = c.merchant_id and ci.customer_id = c.id and ci.kind in ('email', 'phone') and ci.flag is null`;
  // As the engine, a name search reads its matches with their profiles in one statement.
  const profilesByNamePrefix = database.prepare<unknown[], { id: string }>(`
    select c.id, c.first_name, c.last_name, c.loyalty_code, la.available, la.pending, la.tier, ci.kind, ci.value_normalized from (
      select merchant_id, id, first_name, last_name, loyalty_code, name_search from customers
      where merchant_id = ? and state = 'active' and name_search >= ? and name_search < ? order by name_search limit ${lookupResultsMax}
    ) c ${profileDetails}
    order by c.name_search, c.id, ci.created_at, ci.id`);
  // As the engine (src/commands/lookup-answer.ts), an email or a phone: the whole answer written
  // as JSON by SQLite in one statement, its holders' profiles with their latest orders.
  const holderAnswer = database.prepare<[{ merchantId: string; kind: string; normalized: string; baseTier: string }], { answer: string }>(`
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
    ) order by c.created_at, c.id)) as answer
    from (${holders}) as holders
    join customers c on c.id = holders.customer_id and (c.merchant_id || '') = @merchantId
    left join loyalty_accounts a on a.merchant_id = c.merchant_id and a.customer_id = c.id`);
  // A name search's orders: one statement per count of ids (1 to lookupResultsMax), prepared on
  // first use; as the engine, a plain limit for one customer, a ranking per customer for several.
  const ordersByCount = new Map<number, Statement>();
  function ordersOf(count: number): Statement {
    let statement = ordersByCount.get(count);
    if (!statement) {
      statement = database.prepare(count === 1
        ? `select id, customer_id, channel, source, order_number, location_id, placed_at, total_minor, refunded_minor, currency
           from orders where merchant_id = ? and customer_id in (?) order by placed_at desc, id desc limit ${ordersPerCustomer}`
        : `select * from (
             select id, customer_id, channel, source, order_number, location_id, placed_at, total_minor, refunded_minor, currency,
               row_number() over (partition by customer_id order by placed_at desc, id desc) as recency
             from orders where merchant_id = ? and customer_id in (${placeholders(count)})
           ) where recency <= ${ordersPerCustomer} order by placed_at desc, id desc`);
      ordersByCount.set(count, statement);
    }
    return statement;
  }

  /** Runs one lookup; returns how many customers it found. */
  function lookup(kind: LookupKind, stored: string): number {
    if (kind === 'name') {
      const ids = [...new Set(profilesByNamePrefix.all(merchantId, stored, `${stored}\uffff`).map((row) => row.id))];
      if (ids.length > 0) ordersOf(ids.length).all(merchantId, ...ids);
      return ids.length;
    }
    const { answer } = holderAnswer.get({ merchantId, kind, normalized: stored, baseTier: 'Member' })!;
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
