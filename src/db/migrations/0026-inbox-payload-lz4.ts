import { type Kysely, PostgresAdapter, sql } from 'kysely';

// PostgreSQL compresses a text value over ~2 KB before storing it (TOAST), with its own pglz unless
// told otherwise. A Shopify order's webhook is ~13 KB, and pglz on the server took as much time as
// the rest of storing it: with LZ4 the same run stored 13 KB orders/create at 3,433 and 3,622/s
// against 1,632 and 1,880/s with pglz, p99 36 and 30 ms against 72 and 56 ms (alternating runs of
// bench/webhook-ingest.ts, issue #9). Values already stored keep their compression; PostgreSQL
// reads both. A server built without LZ4 (the setting's allowed values say) keeps pglz. SQLite does
// not compress.

type Db = Kysely<any>;

async function serverHasLz4(db: Db): Promise<boolean> {
  // The setting's allowed values ({pglz,lz4}); no row before PostgreSQL 14.
  const { rows } = await sql<{ values: unknown }>`select enumvals as values from pg_settings where name = 'default_toast_compression'`.execute(db);
  return String(rows[0]?.values ?? '').includes('lz4');
}

function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

export async function up(db: Db): Promise<void> {
  if (!isPostgres(db) || !(await serverHasLz4(db))) return;
  await sql`alter table inbox_events alter column payload set compression lz4`.execute(db);
}

export async function down(db: Db): Promise<void> {
  // Before PostgreSQL 14 there is no per-column compression to set back (nor was any set).
  if (!isPostgres(db) || !(await serverHasLz4(db))) return;
  await sql`alter table inbox_events alter column payload set compression default`.execute(db);
}
