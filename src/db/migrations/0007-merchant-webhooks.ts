import { type Kysely, sql } from 'kysely';

// Webhooks to the merchant's own systems (issues #4 and #7): subscriptions to event types, signed
// per the Standard Webhooks specification, delivered through the outbox with its retries.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('webhook_subscriptions')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('url', 'text', (column) => column.notNull())
    .addColumn('secret', 'text', (column) => column.notNull())
    .addColumn('event_types', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addCheckConstraint('webhook_subscriptions_state_known', sql`state in ('active', 'disabled')`)
    .execute();
  await db.schema.alterTable('loyalty_lots').addColumn('expiry_notified_at', 'text').execute();
  await db.schema.createIndex('webhook_subscriptions_by_merchant').on('webhook_subscriptions').columns(['merchant_id', 'state']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('webhook_subscriptions').execute();
  await db.schema.alterTable('loyalty_lots').dropColumn('expiry_notified_at').execute();
}
