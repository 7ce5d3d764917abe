import { type Kysely, sql } from 'kysely';

// Loyalty program (issue #4): pending lots and their release, tiers with their qualifying period,
// memberships, referrals, reward kinds and limits, and single-use codes for online redemption.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('loyalty_lots').addColumn('available_at', 'text').execute();
  await db.schema.alterTable('loyalty_lots').addColumn('pending', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  await db.schema.createIndex('loyalty_lots_pending_due').on('loyalty_lots').columns(['pending', 'available_at']).execute();
  await db.schema.createIndex('loyalty_lots_expiry_due').on('loyalty_lots').columns(['expires_at']).execute();
  await db.schema.alterTable('loyalty_accounts').addColumn('tier_since', 'text').execute();
  await db.schema.alterTable('loyalty_accounts').addColumn('last_activity_at', 'text').execute();
  await db.schema.alterTable('customers').addColumn('birthday', 'text').execute();

  await db.schema.alterTable('rewards').addColumn('kind', 'text', (column) => column.notNull().defaultTo('amount_off')).execute();
  await db.schema.alterTable('rewards').addColumn('percent_off_bps', 'bigint').execute();
  await db.schema.alterTable('rewards').addColumn('free_sku', 'text').execute();
  await db.schema.alterTable('rewards').addColumn('per_customer_max', 'bigint').execute();
  await db.schema.alterTable('rewards').addColumn('total_max', 'bigint').execute();

  await db.schema
    .createTable('reward_codes')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('reward_id', 'text', (column) => column.notNull())
    .addColumn('code', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('order_id', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('closed_at', 'text')
    .addUniqueConstraint('reward_codes_code_unique', ['merchant_id', 'code'])
    .addCheckConstraint('reward_codes_state_known', sql`state in ('issued', 'used', 'cancelled')`)
    .execute();
  await db.schema.createIndex('reward_codes_by_customer').on('reward_codes').columns(['merchant_id', 'customer_id', 'state']).execute();

  await db.schema
    .createTable('memberships')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('starts_at', 'text', (column) => column.notNull())
    .addColumn('ends_at', 'text')
    .addColumn('perks_json', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addCheckConstraint('memberships_kind_known', sql`kind in ('paid', 'invited')`)
    .execute();
  await db.schema.createIndex('memberships_by_customer').on('memberships').columns(['merchant_id', 'customer_id']).execute();

  await db.schema
    .createTable('referral_codes')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('code', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('referral_codes_pk', ['merchant_id', 'customer_id'])
    .addUniqueConstraint('referral_codes_code_unique', ['merchant_id', 'code'])
    .execute();

  await db.schema
    .createTable('referrals')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('referrer_id', 'text', (column) => column.notNull())
    .addColumn('friend_id', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('order_id', 'text')
    .addColumn('reason', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('qualifies_at', 'text')
    .addColumn('closed_at', 'text')
    .addUniqueConstraint('referrals_friend_unique', ['merchant_id', 'friend_id'])
    .addCheckConstraint('referrals_state_known', sql`state in ('pending', 'awaiting_return_window', 'paid', 'review', 'refused')`)
    .execute();
  await db.schema.createIndex('referrals_by_referrer').on('referrals').columns(['merchant_id', 'referrer_id', 'created_at']).execute();
  await db.schema.createIndex('referrals_due').on('referrals').columns(['state', 'qualifies_at']).execute();
}

export async function down(db: Db): Promise<void> {
  for (const table of ['referrals', 'referral_codes', 'memberships', 'reward_codes']) await db.schema.dropTable(table).execute();
  for (const column of ['total_max', 'per_customer_max', 'free_sku', 'percent_off_bps', 'kind']) await db.schema.alterTable('rewards').dropColumn(column).execute();
  await db.schema.alterTable('customers').dropColumn('birthday').execute();
  for (const column of ['last_activity_at', 'tier_since']) await db.schema.alterTable('loyalty_accounts').dropColumn(column).execute();
  await db.schema.dropIndex('loyalty_lots_expiry_due').execute();
  await db.schema.dropIndex('loyalty_lots_pending_due').execute();
  for (const column of ['pending', 'available_at']) await db.schema.alterTable('loyalty_lots').dropColumn(column).execute();
}
