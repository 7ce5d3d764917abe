import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Named prepared statements on PostgreSQL, for the statements the engine runs again and again.
 *
 * Kysely hands node-postgres each query as text and parameters, which node-postgres sends as an
 * unnamed statement: the server parses and plans it anew every time. The engine runs a few hundred
 * distinct texts (the same INSERT of an order, the same claim of the inbox) millions of times, so
 * here a text seen before runs as a named statement instead, parsed once per connection, then only
 * bound and executed. Measured on the 2-core machine of issue #9 (a SELECT, an UPDATE ...
 * RETURNING and an INSERT in turn on loopback): 177-193 µs a statement unnamed, 77-111 µs named,
 * the client's CPU 63-126 against 40-76 µs; in alternating runs orders applied end to end went
 * from 73-82 to 103-111/s (bench/orders-end-to-end.ts) and lookups at 10k customers from 471-574
 * to 990-2,616/s (bench/customer-lookup.ts); webhooks, one multi-row INSERT per commit, unchanged.
 *
 * Bounded twice, so ad hoc texts never pile up on the server: a text is named only from its second
 * run (a one-off report query stays unnamed), at most `textsTrackedMax` texts are counted, and a
 * connection holds at most `namedPerConnectionMax` statements (past that, texts run unnamed as
 * before). Only SELECT/INSERT/UPDATE/DELETE/WITH are named: transaction control and DDL stay
 * unnamed, and a named statement never outlives a schema change unnoticed because migrations run
 * before the engine serves anything.
 *
 * A statement's plan may become a generic one after five runs; PostgreSQL keeps custom plans when
 * the generic one costs more (plan_cache_mode = auto), which is what protects a prefix search. A
 * generic plan made while a table was nearly empty (a new database) is kept until autovacuum
 * analyses the grown table (measured: a lookup by source key ~1 ms instead of 0.2 ms for the
 * first minute of a fresh benchmark database). force_custom_plan would avoid that but plans every
 * run again, which halved the lookups' gain, so the default stands.
 * Connection poolers in transaction mode that do not track prepared statements (PgBouncer before
 * 1.21) need them off: `?prepared_statements=off` on DATABASE_URL (README, "Configuration").
 */

const textsTrackedMax = 10_000;
const namedPerConnectionMax = 500;
const nameable = /^\s*(select|insert|update|delete|with)\b/i;

interface TextEntry {
  runs: number;
  name: string;
}

/** Texts seen by this process, with how often and the name they run under once named. */
const texts = new Map<string, TextEntry>();

/** The statement name for `text` if it should run named on a connection that has prepared `named` so far. */
export function preparedNameFor(text: string, namedOnConnection: ReadonlySet<string>): string | undefined {
  let entry = texts.get(text);
  if (!entry) {
    if (!nameable.test(text) || texts.size >= textsTrackedMax) return undefined;
    entry = { runs: 0, name: `c_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}` };
    texts.set(text, entry);
  }
  entry.runs += 1;
  if (entry.runs < 2) return undefined;
  if (!namedOnConnection.has(entry.name) && namedOnConnection.size >= namedPerConnectionMax) return undefined;
  return entry.name;
}

type QueryFunction = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/**
 * Makes the pool's connections run repeated statements named (above). Kysely calls
 * `client.query(text, values)`; that one form is rewritten, every other call passes through.
 */
export function prepareRepeatedStatements(pool: pg.Pool): void {
  pool.on('connect', (client) => {
    const named = new Set<string>();
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const [text, values] = args;
      if (typeof text !== 'string' || args.length !== 2 || !Array.isArray(values)) return query(...args);
      const name = preparedNameFor(text, named);
      if (!name) return query(...args);
      named.add(name);
      return (query as QueryFunction)({ name, text, values } as unknown as string);
    }) as typeof client.query;
  });
}

/** Whether a PostgreSQL URL asks for prepared statements to stay off, and the URL without that option. */
export function readPreparedStatementsOption(url: string): { url: string; prepared: boolean } {
  const parsed = new URL(url);
  const option = parsed.searchParams.get('prepared_statements');
  if (option === null) return { url, prepared: true };
  if (option !== 'on' && option !== 'off') throw new Error(`DATABASE_URL option prepared_statements must be on or off (got "${option}")`);
  // Cut out of the text as given: re-serialising the URL would re-encode its other options (a
  // `options=-c search_path=…` with its spaces) in a form the driver does not read back.
  const rest = url.replace(/([?&])prepared_statements=[^&#]*&?/, '$1').replace(/[?&]$/, '');
  return { url: rest, prepared: option === 'on' };
}
