import { type Kysely, PostgresAdapter, sql } from 'kysely';
import { describeSchemaToSqlitePlanner } from '../planner-statistics.ts';

// Tells SQLite's planner the expected shape of every table (src/db/planner-statistics.ts): without
// it a lookup by identifier read every identifier of the merchant. PostgreSQL keeps its own
// statistics (autovacuum's ANALYZE) and needs nothing.

type Db = Kysely<any>;

function isSqlite(db: Db): boolean {
  return !(db.getExecutor().adapter instanceof PostgresAdapter);
}

export async function up(db: Db): Promise<void> {
  if (isSqlite(db)) await describeSchemaToSqlitePlanner(db);
}

export async function down(db: Db): Promise<void> {
  // 0011's figures for inbox_events stay: that migration removes its own.
  if (isSqlite(db)) await sql`delete from sqlite_stat1 where tbl <> 'inbox_events'`.execute(db);
}
