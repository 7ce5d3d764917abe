import { type Kysely, sql } from 'kysely';

// Identity (issue #3): identifier flags, profile state for merges and privacy erasure, addresses,
// marketing consent, the merge record that makes unmerge exact, and privacy requests.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('customer_identifiers').addColumn('flag', 'text').execute();
  await db.schema.alterTable('customer_identifiers').addColumn('verified', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('customers').addColumn('state', 'text', (column) => column.notNull().defaultTo('active')).execute();
  await db.schema.alterTable('customers').addColumn('merged_into', 'text').execute();
  await db.schema.alterTable('customers').addColumn('note', 'text').execute();
  await db.schema.alterTable('customers').addColumn('preferences_json', 'text', (column) => column.notNull().defaultTo('{}')).execute();

  await db.schema
    .createTable('customer_addresses')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('fingerprint', 'text', (column) => column.notNull())
    .addColumn('line1', 'text')
    .addColumn('line2', 'text')
    .addColumn('city', 'text')
    .addColumn('region', 'text')
    .addColumn('postal_code', 'text')
    .addColumn('country_code', 'text')
    .addColumn('phone', 'text')
    .addColumn('is_default', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('customer_addresses_unique', ['merchant_id', 'customer_id', 'fingerprint'])
    .execute();

  await db.schema
    .createTable('customer_consents')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('topic', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('customer_consents_pk', ['merchant_id', 'customer_id', 'topic'])
    .addCheckConstraint('customer_consents_topic_known', sql`topic in ('email_marketing', 'sms_marketing')`)
    .addCheckConstraint('customer_consents_state_known', sql`state in ('subscribed', 'unsubscribed', 'not_subscribed', 'pending')`)
    .execute();

  await db.schema
    .createTable('customer_merges')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('survivor_id', 'text', (column) => column.notNull())
    .addColumn('merged_id', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('moved_json', 'text', (column) => column.notNull())
    .addColumn('reason', 'text', (column) => column.notNull())
    .addColumn('actor', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('unmerged_at', 'text')
    .addCheckConstraint('customer_merges_state_known', sql`state in ('merged', 'unmerged')`)
    .addCheckConstraint('customer_merges_two_profiles', sql`survivor_id <> merged_id`)
    .execute();
  await db.schema.createIndex('customer_merges_by_customer').on('customer_merges').columns(['merchant_id', 'merged_id', 'state']).execute();

  await db.schema
    .createTable('privacy_requests')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('channel_ref', 'text')
    .addColumn('export_json', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addCheckConstraint('privacy_requests_kind_known', sql`kind in ('data_request', 'customer_redact', 'shop_redact')`)
    .execute();
}

export async function down(db: Db): Promise<void> {
  for (const table of ['privacy_requests', 'customer_merges', 'customer_consents', 'customer_addresses']) await db.schema.dropTable(table).execute();
  for (const column of ['preferences_json', 'note', 'merged_into', 'state']) await db.schema.alterTable('customers').dropColumn(column).execute();
  for (const column of ['verified', 'flag']) await db.schema.alterTable('customer_identifiers').dropColumn(column).execute();
}
