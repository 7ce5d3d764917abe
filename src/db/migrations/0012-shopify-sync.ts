import { type Kysely, sql } from 'kysely';

// The Shopify connector, complete (issue #7): a channel account can be disconnected (the app was
// uninstalled), a product deleted in the channel is archived (its variants stay for history), the
// channel's own locations are kept so a merchant can map them, deletions leave a tombstone so a
// late update of a deleted record is recognised, and a first-connection backfill remembers its
// cursor per resource so it can resume where it stopped.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('channel_accounts').addColumn('state', 'text', (column) => column.notNull().defaultTo('connected')).execute();
  await db.schema.alterTable('channel_accounts').addColumn('disconnected_at', 'text').execute();
  await db.schema.alterTable('products').addColumn('archived_at', 'text').execute();

  await db.schema
    .createTable('channel_locations')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('external_id', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('active', 'integer', (column) => column.notNull())
    .addColumn('address_json', 'text', (column) => column.notNull())
    .addColumn('source_updated_at', 'text')
    .addColumn('deleted_at', 'text')
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('channel_locations_pk', ['merchant_id', 'channel', 'external_id'])
    .addCheckConstraint('channel_locations_active_boolean', sql`active in (0, 1)`)
    .execute();

  await db.schema
    .createTable('channel_deletions')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('external_id', 'text', (column) => column.notNull())
    .addColumn('deleted_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('channel_deletions_pk', ['merchant_id', 'channel', 'entity', 'external_id'])
    .addCheckConstraint('channel_deletions_entity_known', sql`entity in ('customer', 'product', 'location')`)
    .execute();

  await db.schema
    .createTable('channel_sync_cursors')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('resource', 'text', (column) => column.notNull())
    .addColumn('cursor', 'text')
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('pages', 'integer', (column) => column.notNull())
    .addColumn('items', 'integer', (column) => column.notNull())
    .addColumn('counts_json', 'text', (column) => column.notNull())
    .addColumn('started_at', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addColumn('completed_at', 'text')
    .addPrimaryKeyConstraint('channel_sync_cursors_pk', ['merchant_id', 'channel', 'resource'])
    .addCheckConstraint('channel_sync_cursors_state_known', sql`state in ('running', 'done')`)
    .addCheckConstraint('channel_sync_cursors_counts_not_negative', sql`pages >= 0 and items >= 0`)
    .execute();
}

export async function down(db: Db): Promise<void> {
  for (const table of ['channel_sync_cursors', 'channel_deletions', 'channel_locations']) await db.schema.dropTable(table).execute();
  await db.schema.alterTable('products').dropColumn('archived_at').execute();
  await db.schema.alterTable('channel_accounts').dropColumn('disconnected_at').execute();
  await db.schema.alterTable('channel_accounts').dropColumn('state').execute();
}
