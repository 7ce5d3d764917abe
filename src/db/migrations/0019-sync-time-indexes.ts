import { type Kysely, PostgresAdapter, sql } from 'kysely';

// The console's sync health (hour by hour) and sync status read the inbox and outbox by time. Without
// these indexes each read every row the merchant ever received or sent: with a million inbox and a
// million outbox rows (90 days of a busy shop) the page took 8 s on SQLite, during which the
// engine's one event loop answered no webhook (docs/console-api.md, "Sync health"; issue #9). With
// them a read touches the rows of its window only. Each index is append-mostly: its time column
// grows with the clock.

type Db = Kysely<any>;

const indexes = [
  { name: 'inbox_events_by_received', table: 'inbox_events', columns: ['merchant_id', 'received_at'] },
  { name: 'inbox_events_by_processed', table: 'inbox_events', columns: ['merchant_id', 'processed_at'] },
  { name: 'outbox_events_by_created', table: 'outbox_events', columns: ['merchant_id', 'created_at'] },
  { name: 'outbox_events_by_delivered', table: 'outbox_events', columns: ['merchant_id', 'delivered_at'] },
  // The retention job (src/sync/retention.ts) deletes Idempotency-Keys by age, oldest first.
  { name: 'idempotency_keys_by_created', table: 'idempotency_keys', columns: ['merchant_id', 'created_at'] },
] as const;

export async function up(db: Db): Promise<void> {
  for (const index of indexes) await db.schema.createIndex(index.name).on(index.table).columns([...index.columns]).execute();
}

export async function down(db: Db): Promise<void> {
  for (const index of indexes) await db.schema.dropIndex(index.name).execute();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) {
    for (const index of indexes) await sql`delete from sqlite_stat1 where idx = ${index.name}`.execute(db);
  }
}
