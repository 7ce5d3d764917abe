import { PostgresAdapter, sql, type Expression, type RawBuilder } from 'kysely';
import type { Queryable } from './database.ts';

/**
 * JSON assembled by the database itself, in either dialect: SQLite's `json_object` and
 * `json_group_array`, PostgreSQL's `json_build_object` and `json_agg`. An answer built this way
 * leaves the engine no rows to copy between threads, map or serialise (the register's lookup,
 * src/commands/lookup-answer.ts). Keys are the code's own constants, written into the SQL text.
 */
export interface JsonSql {
  /** An object with these keys in this order; SQL NULL values become JSON null. */
  object(entries: Record<string, Expression<unknown>>): RawBuilder<unknown>;
  /** The aggregate array of `value` over the rows, in `orderBy` order (its SQL); `[]` when there are none. */
  array(value: Expression<unknown>, orderBy: RawBuilder<unknown>): RawBuilder<unknown>;
  /** A value that is JSON held as text (a subquery's, a derived table's column), nested as JSON instead of as a string. */
  nested(value: Expression<unknown>): RawBuilder<unknown>;
  /** The elements of a JSON array given as text, as a derived table: `value` (as text) and its `position` from 0. */
  elements(arrayText: unknown): RawBuilder<unknown>;
}

const sqliteJson: JsonSql = {
  object: (entries) => sql`json_object(${sql.join(Object.entries(entries).map(([key, value]) => sql`${sql.lit(key)}, ${value}`))})`,
  array: (value, orderBy) => sql`json_group_array(${value} order by ${orderBy})`,
  // SQLite knows a text is JSON only straight from a JSON function; json() says so again.
  nested: (value) => sql`json(${value})`,
  elements: (arrayText) => sql`(select value, key as position from json_each(${arrayText}))`,
};

const postgresJson: JsonSql = {
  object: (entries) => sql`json_build_object(${sql.join(Object.entries(entries).map(([key, value]) => sql`${sql.lit(key)}::text, ${value}`))})`,
  // json_agg over no rows is NULL, not an empty array.
  array: (value, orderBy) => sql`coalesce(json_agg(${value} order by ${orderBy}), '[]'::json)`,
  nested: (value) => sql`${value}`,
  elements: (arrayText) => sql`(select value, position - 1 as position from json_array_elements_text(${arrayText}::json) with ordinality as elements(value, position))`,
};

/** The JSON functions of the database `db` runs on. */
export function jsonSql(db: Queryable): JsonSql {
  return db.getExecutor().adapter instanceof PostgresAdapter ? postgresJson : sqliteJson;
}

/**
 * A JSON value the database built, as text: SQLite answers it as text; node-postgres parses a
 * `json` column, so it is written out again (on PostgreSQL the answer does not cross threads).
 */
export function jsonText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
