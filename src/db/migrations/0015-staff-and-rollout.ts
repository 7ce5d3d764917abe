import { type Kysely, sql } from 'kysely';

// The staff and operations console (issue #8). Staff users sign in with an email and a password
// (an scrypt hash with its own salt, never the password) and get a session: a random token whose
// SHA-256 alone is stored, so a copy of the database signs no one in. Locations get workflow
// switches, so a merchant can roll cross-channel workflows out one store at a time; every switch
// starts on, which is how every location behaved before.

type Db = Kysely<any>;

const workflowColumns = ['workflow_loyalty_in_store', 'workflow_pickup', 'workflow_cross_channel_returns', 'workflow_stock_push'] as const;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('staff_users')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    // Stored normalised (trimmed, lowercase): the same person cannot be added twice in two cases.
    .addColumn('email', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('role', 'text', (column) => column.notNull())
    .addColumn('home_location_id', 'text')
    .addColumn('password_hash', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('disabled_at', 'text')
    .addCheckConstraint('staff_users_role_known', sql`role in ('associate', 'manager')`)
    .addCheckConstraint('staff_users_email_normalised', sql`email = lower(trim(email))`)
    .execute();
  await db.schema.createIndex('staff_users_email_unique').on('staff_users').columns(['merchant_id', 'email']).unique().execute();
  // Signing in finds the person by email before the merchant is known.
  await db.schema.createIndex('staff_users_by_email').on('staff_users').column('email').execute();

  await db.schema
    .createTable('staff_sessions')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('token_hash', 'text', (column) => column.primaryKey())
    .addColumn('staff_id', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('expires_at', 'text', (column) => column.notNull())
    .addColumn('revoked_at', 'text')
    .addCheckConstraint('staff_sessions_expire_after_creation', sql`expires_at > created_at`)
    .execute();
  await db.schema.createIndex('staff_sessions_by_staff').on('staff_sessions').columns(['merchant_id', 'staff_id']).execute();

  // Reports read a period of a merchant's orders, refunds and points, and the payments and reward
  // discounts of those orders: without these, each report reads every row the merchant ever had.
  await db.schema.createIndex('orders_by_placed_at').on('orders').columns(['merchant_id', 'placed_at']).execute();
  await db.schema.createIndex('payments_by_order').on('payments').columns(['merchant_id', 'order_id']).execute();
  await db.schema.createIndex('order_discounts_by_order').on('order_discounts').columns(['merchant_id', 'order_id']).execute();
  await db.schema.createIndex('returns_by_created_at').on('returns').columns(['merchant_id', 'created_at']).execute();
  await db.schema.createIndex('loyalty_transactions_by_created_at').on('loyalty_transactions').columns(['merchant_id', 'created_at']).execute();

  for (const column of workflowColumns) {
    await db.schema.alterTable('locations').addColumn(column, 'integer', (definition) => definition.notNull().defaultTo(1).check(sql`${sql.ref(column)} in (0, 1)`)).execute();
  }
}

export async function down(db: Db): Promise<void> {
  for (const index of ['orders_by_placed_at', 'payments_by_order', 'order_discounts_by_order', 'returns_by_created_at', 'loyalty_transactions_by_created_at']) await db.schema.dropIndex(index).execute();
  for (const column of workflowColumns) await db.schema.alterTable('locations').dropColumn(column).execute();
  await db.schema.dropTable('staff_sessions').execute();
  await db.schema.dropTable('staff_users').execute();
}
