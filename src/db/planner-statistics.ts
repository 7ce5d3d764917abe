import { sql } from 'kysely';
import type { Db } from './database.ts';

/**
 * SQLite plans without statistics unless ANALYZE ran, which the engine never does on its own, and
 * its defaults assume that `merchant_id = ?` alone picks out about ten rows. With one merchant
 * owning every row that is badly wrong: given `merchant_id = ? and kind = ? and value_normalized
 * = ?` the planner took the covering index (merchant_id, customer_id, kind, value_normalized) and
 * read every identifier of the merchant, 2 ms per checkout lookup at 10k customers, growing with
 * them, instead of 5 µs through (merchant_id, kind, value_normalized) (found by
 * bench/customer-lookup.ts, issue #9). So the expected shape of every table is told to the planner,
 * as SQLite documents ("Manual Control Of Query Plans Using SQLITE_STAT Tables"): a large table,
 * `merchant_id` shared by all its rows, columns such as `status` or `kind` shared by many, ids and
 * values by few, unique indexes ending in one row.
 *
 * Only indexes without figures are described, so the figures of an ANALYZE someone ran are kept;
 * migrations call this after adding indexes (src/db/migrate.ts).
 */

const describedRowCount = 1_000_000;

/** Columns whose values many rows share: each narrows a match by about ten. */
const sharedValueColumns = new Set([
  'status', 'state', 'kind', 'channel', 'source', 'destination', 'account', 'active', 'pending', 'entity',
  'topic', 'asset', 'flag', 'is_default', 'is_valid', 'fulfils_online', 'method', 'scope', 'role', 'currency',
  'location_id', 'register_id', 'circuit_key',
]);

interface IndexColumn { name: string | null }
interface IndexListEntry { name: string; unique: number }

/** Rows per distinct value of each prefix of the index's columns, as sqlite_stat1 writes them. */
export function describedIndexStat(columns: string[], unique: boolean): string {
  const figures = [describedRowCount];
  let rows = describedRowCount;
  columns.forEach((column, position) => {
    // merchant_id narrows nothing: one merchant usually owns every row.
    if (sharedValueColumns.has(column)) rows = Math.max(1, Math.floor(rows / 10));
    else if (column !== 'merchant_id') rows = Math.max(1, Math.min(Math.floor(rows / 1000), 10)); // an id or a value: a few rows each
    if (unique && position === columns.length - 1) rows = 1;
    figures.push(rows);
  });
  return figures.join(' ');
}

/** Writes sqlite_stat1 figures for every index that has none, then has the planner load them. */
export async function describeSchemaToSqlitePlanner(db: Db): Promise<number> {
  await sql`analyze sqlite_schema`.execute(db); // creates sqlite_stat1 if it is not there yet
  const tables = await sql<{ name: string }>`select name from sqlite_schema where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%'`.execute(db);
  const described = new Set((await sql<{ tbl: string; idx: string | null }>`select tbl, idx from sqlite_stat1`.execute(db)).rows.map((row) => `${row.tbl}/${row.idx ?? ''}`));
  let written = 0;
  for (const { name: table } of tables.rows) {
    if (!described.has(`${table}/`)) {
      await sql`insert into sqlite_stat1 (tbl, idx, stat) values (${table}, null, ${String(describedRowCount)})`.execute(db);
      written += 1;
    }
    const indexes = await sql<IndexListEntry>`select name, "unique" from pragma_index_list(${table})`.execute(db);
    for (const index of indexes.rows) {
      if (described.has(`${table}/${index.name}`)) continue;
      const columns = await sql<IndexColumn>`select name from pragma_index_info(${index.name}) order by seqno`.execute(db);
      const stat = describedIndexStat(columns.rows.map((column) => column.name ?? ''), index.unique === 1);
      await sql`insert into sqlite_stat1 (tbl, idx, stat) values (${table}, ${index.name}, ${stat})`.execute(db);
      written += 1;
    }
  }
  if (written > 0) await sql`analyze sqlite_schema`.execute(db); // loads the figures now
  return written;
}
