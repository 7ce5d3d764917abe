import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import { assert } from '../shared/app-error.ts';
import type { Queryable } from './database.ts';

/**
 * Marks where a named parameter goes while a query is built once; compiling turns each marker
 * into a bound parameter, never into SQL text.
 */
class Placeholder {
  constructor(readonly name: string, readonly index: number | undefined) {}
}

/**
 * Hands out placeholders while a query is built. Typed as the parameter's own type, so the
 * builder checks the query as if the value were there.
 */
export interface ParameterPlaceholders<P> {
  /** The placeholder for one value. */
  <K extends keyof P & string>(name: K): P[K];
  /** Placeholders for the first `count` items of a list (`where('id', 'in', param.list('ids', 3))`). */
  list<K extends ListKeys<P>>(name: K, count: number): P[K];
}

type ListKeys<P> = { [K in keyof P & string]: P[K] extends readonly unknown[] ? K : never }[keyof P & string];

/** Where each bound value of the compiled SQL comes from: a named parameter (an item of a list) or a constant of the query. */
type Slot = { name: string; index: number | undefined } | { constant: unknown };

interface Compiled {
  template: CompiledQuery;
  slots: Slot[];
  /** The length of each list the query was built for. */
  listLengths: Map<string, number>;
}

/** A query built and compiled once per database, run again with new parameters. */
export interface ReusableQuery<P, R> {
  /** Runs the query with these parameters on the database or transaction given; its rows. */
  execute(db: Queryable, parameters: P): Promise<R[]>;
  /** Runs it and answers the whole result: for an UPDATE or DELETE, `numAffectedRows`. */
  run(db: Queryable, parameters: P): Promise<QueryResult<R>>;
}

function collectSlots(template: CompiledQuery, used: Set<string>): Slot[] {
  const found = new Set<string>();
  const slots = template.parameters.map((value): Slot => {
    if (!(value instanceof Placeholder)) return { constant: value };
    found.add(value.index === undefined ? value.name : `${value.name}[${value.index}]`);
    return { name: value.name, index: value.index };
  });
  // A placeholder the builder took but that is not a bound parameter was written into the SQL
  // text itself (a `sql.lit`, a list given as one value): the query would run with the wrong text.
  for (const name of used) assert(found.has(name), `placeholder ${name} is a bound parameter of the compiled query`);
  return slots;
}

/**
 * Builds a query once per database with named placeholders and reuses its SQL text, so a hot read
 * path pays Kysely's building and compiling once instead of on every call (70 to 90 µs of CPU per
 * statement of the checkout lookup, found by bench/customer-lookup.ts), and SQLite reuses the
 * prepared statement cached by its text. Lists have a fixed length per query: keep one
 * `ReusableQuery` per length. Plugins still transform the query (at compile) and its results.
 *
 * Example:
 *   const byEmail = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; email: string }>) =>
 *     db.selectFrom('customer_identifiers').select('customer_id').where('merchant_id', '=', param('merchantId')).where('value_normalized', '=', param('email')));
 *   const rows = await byEmail.execute(db, { merchantId, email }); // { customer_id: string }[]
 */
export function reuseQuery<P extends object, R>(build: (db: Queryable, param: ParameterPlaceholders<P>) => Compilable<R>): ReusableQuery<P, R> {
  // Keyed by the dialect adapter of the Kysely instance: a transaction shares its database's.
  const byAdapter = new WeakMap<object, Compiled>();

  function compile(db: Queryable): Compiled {
    const used = new Set<string>();
    const listLengths = new Map<string, number>();
    const param = ((name: string) => {
      used.add(name);
      return new Placeholder(name, undefined);
    }) as ParameterPlaceholders<P>;
    param.list = ((name: string, count: number) => {
      assert(Number.isInteger(count) && count >= 1, `a list placeholder has at least one item (${name}: ${count})`);
      listLengths.set(name, count);
      return Array.from({ length: count }, (_, index) => {
        used.add(`${name}[${index}]`);
        return new Placeholder(name, index);
      });
    }) as ParameterPlaceholders<P>['list'];
    const template = build(db, param).compile();
    return { template, slots: collectSlots(template, used), listLengths };
  }

  async function run(db: Queryable, parameters: P): Promise<QueryResult<R>> {
    const adapter = db.getExecutor().adapter;
    let compiled = byAdapter.get(adapter);
    if (!compiled) {
      compiled = compile(db);
      byAdapter.set(adapter, compiled);
    }
    for (const [name, length] of compiled.listLengths) {
      const list = (parameters as Record<string, unknown>)[name];
      assert(Array.isArray(list) && list.length === length, `parameter ${name} has the ${length} items the query was built for`);
    }
    const values = compiled.slots.map((slot) => {
      if ('constant' in slot) return slot.constant;
      const value = (parameters as Record<string, unknown>)[slot.name];
      if (slot.index === undefined) return value;
      return (value as unknown[])[slot.index];
    });
    const { template } = compiled;
    return db.executeQuery<R>({ sql: template.sql, query: template.query, queryId: template.queryId, parameters: values });
  }

  return {
    run,
    async execute(db, parameters) {
      return (await run(db, parameters)).rows;
    },
  };
}
