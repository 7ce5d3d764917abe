import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Per-resource ordering of inbound events (issue #7, docs/inbox.md).
// - `resource_key` names what an event is about (`shopify:order:820982911946154508`); null when its
//   events need no order.
// - `queue_position` is the event's place among the events waiting in the inbox: one more than the
//   highest waiting position when it is stored, so an event stored after another was committed is
//   always behind it, in any process. Ties (two processes storing at once) are broken by id. An
//   event that needs what a later event of its resource brings goes to the back (position + 2^52).
//   Rows stored before this migration take 0 and keep their order by id.
// Both indexes hold only the waiting rows (`status = 'received'`), so they stay as small as the
// backlog however long the inbox grows.

type Db = Kysely<any>;

const waiting = sql<boolean>`status = 'received'`;

function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('inbox_events').addColumn('resource_key', 'text').execute();
  await db.schema.alterTable('inbox_events').addColumn('queue_position', 'bigint', (column) => column.notNull().defaultTo(0)).execute();
  await db.schema.createIndex('inbox_events_queue').on('inbox_events').columns(['queue_position', 'id']).where(waiting).execute();
  await db.schema.createIndex('inbox_events_resource_queue').on('inbox_events').columns(['merchant_id', 'resource_key', 'queue_position', 'id']).where(waiting).execute();
  if (!isPostgres(db)) await describeInboxToSqlitePlanner(db);
}

/**
 * SQLite plans without statistics unless ANALYZE ran, which the engine never does, and then takes
 * `status = 'received'` on the older `inbox_events_due` index for a selective match: it would read
 * every waiting row and sort them for each batch and each stored event, however long the backlog.
 * The shape of the table is told to the planner instead, as SQLite documents ("Manual Control Of
 * Query Plans Using SQLITE_STAT Tables"): many rows, few of them waiting, a status shared by many.
 * A later ANALYZE replaces these figures with measured ones.
 */
async function describeInboxToSqlitePlanner(db: Db): Promise<void> {
  await sql`analyze inbox_events`.execute(db); // creates sqlite_stat1 if it is not there yet
  await sql`delete from sqlite_stat1 where tbl = 'inbox_events'`.execute(db);
  await sql`insert into sqlite_stat1 (tbl, idx, stat) values
    ('inbox_events', null, '1000000'),
    ('inbox_events', 'inbox_events_due', '1000000 250000 1'),
    ('inbox_events', 'inbox_events_queue', '10000 1 1'),
    ('inbox_events', 'inbox_events_resource_queue', '10000 1000 2 1 1')`.execute(db);
  await sql`analyze sqlite_schema`.execute(db); // loads the figures now
}

export async function down(db: Db): Promise<void> {
  if (!isPostgres(db)) await sql`delete from sqlite_stat1 where tbl = 'inbox_events'`.execute(db);
  await db.schema.dropIndex('inbox_events_resource_queue').execute();
  await db.schema.dropIndex('inbox_events_queue').execute();
  await db.schema.alterTable('inbox_events').dropColumn('queue_position').execute();
  await db.schema.alterTable('inbox_events').dropColumn('resource_key').execute();
}
