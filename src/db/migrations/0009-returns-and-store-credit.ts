import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Returns anywhere, exchanges and store credit (issue #6).
// - A return made in Continuum records where it happened, how it was refunded, the policy figures
//   (restocking fee, shipping) and whether the refund reached the channel that took the payment.
// - Store credit is a balance in the loyalty ledger's double-entry tables: its transactions and
//   entries carry an asset (`points`, or the currency whose minor units they count), and its own
//   accounts and kinds. The checks on kinds and accounts are widened for it; SQLite cannot alter a
//   check, so there the two tables are rebuilt with their rows.

type Db = Kysely<any>;

const transactionKinds = ['earn', 'redeem', 'reverse', 'restore', 'adjust', 'expire', 'merge', 'unmerge', 'release', 'bonus', 'credit_issue', 'credit_spend', 'credit_adjust'];
const entryAccounts = ['customer_available', 'customer_pending', 'issued', 'redeemed', 'reversed', 'expired', 'adjusted', 'customer_credit', 'credit_issued', 'credit_spent'];

function listed(values: string[]) {
  return sql.raw(values.map((value) => `'${value}'`).join(', '));
}

function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

async function widenLedgerChecksOnPostgres(db: Db): Promise<void> {
  await sql`alter table loyalty_transactions drop constraint loyalty_transactions_kind_known`.execute(db);
  await sql`alter table loyalty_transactions add constraint loyalty_transactions_kind_known check (kind in (${listed(transactionKinds)}))`.execute(db);
  await sql`alter table loyalty_entries drop constraint loyalty_entries_account_known`.execute(db);
  await sql`alter table loyalty_entries add constraint loyalty_entries_account_known check (account in (${listed(entryAccounts)}))`.execute(db);
  await sql`alter table loyalty_transactions add column asset text not null default 'points'`.execute(db);
  await sql`alter table loyalty_entries add column asset text not null default 'points'`.execute(db);
}

async function rebuildLedgerTablesOnSqlite(db: Db): Promise<void> {
  await sql`alter table loyalty_transactions rename to loyalty_transactions_before_credit`.execute(db);
  await sql`create table loyalty_transactions (
    merchant_id text not null, id text primary key, customer_id text not null, kind text not null, idempotency_key text not null,
    points bigint not null, order_id text, memo text, created_at text not null, asset text not null default 'points',
    constraint loyalty_transactions_key_unique unique (merchant_id, idempotency_key),
    constraint loyalty_transactions_kind_known check (kind in (${listed(transactionKinds)})))`.execute(db);
  await sql`insert into loyalty_transactions (merchant_id, id, customer_id, kind, idempotency_key, points, order_id, memo, created_at)
    select merchant_id, id, customer_id, kind, idempotency_key, points, order_id, memo, created_at from loyalty_transactions_before_credit`.execute(db);
  await sql`drop table loyalty_transactions_before_credit`.execute(db);

  await sql`alter table loyalty_entries rename to loyalty_entries_before_credit`.execute(db);
  await sql`create table loyalty_entries (
    merchant_id text not null, id text primary key, transaction_id text not null, account text not null, customer_id text,
    amount bigint not null, created_at text not null, asset text not null default 'points',
    constraint loyalty_entries_account_known check (account in (${listed(entryAccounts)})),
    constraint loyalty_entries_not_zero check (amount <> 0))`.execute(db);
  await sql`insert into loyalty_entries (merchant_id, id, transaction_id, account, customer_id, amount, created_at)
    select merchant_id, id, transaction_id, account, customer_id, amount, created_at from loyalty_entries_before_credit`.execute(db);
  await sql`drop table loyalty_entries_before_credit`.execute(db);
  await db.schema.createIndex('loyalty_transactions_by_customer').on('loyalty_transactions').columns(['merchant_id', 'customer_id', 'created_at']).execute();
  await db.schema.createIndex('loyalty_entries_by_customer').on('loyalty_entries').columns(['merchant_id', 'customer_id', 'account']).execute();
  await db.schema.createIndex('loyalty_entries_by_transaction').on('loyalty_entries').columns(['merchant_id', 'transaction_id']).execute();
}

export async function up(db: Db): Promise<void> {
  if (isPostgres(db)) await widenLedgerChecksOnPostgres(db);
  else await rebuildLedgerTablesOnSqlite(db);
  await db.schema.createIndex('loyalty_transactions_by_order').on('loyalty_transactions').columns(['merchant_id', 'order_id']).execute();

  await db.schema
    .createTable('store_credit_accounts')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('balance_minor', 'bigint', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('store_credit_accounts_pk', ['merchant_id', 'customer_id'])
    .addCheckConstraint('store_credit_never_negative', sql`balance_minor >= 0`)
    .execute();

  for (const column of [
    ['location_id', 'text'], ['refund_method', 'text'], ['reason', 'text'], ['actor', 'text'], ['exchange_order_id', 'text'],
    ['channel_refund_ref', 'text'], ['push_state', 'text'],
  ] as const) await db.schema.alterTable('returns').addColumn(column[0], column[1]).execute();
  for (const column of ['merchandise_minor', 'discount_minor', 'tax_minor', 'shipping_minor', 'fee_minor', 'store_credit_minor'] as const) {
    await db.schema.alterTable('returns').addColumn(column, 'bigint', (definition) => definition.notNull().defaultTo(0)).execute();
  }
  for (const column of ['gross_minor', 'discount_minor', 'fee_minor'] as const) {
    await db.schema.alterTable('return_lines').addColumn(column, 'bigint', (definition) => definition.notNull().defaultTo(0)).execute();
  }
  await db.schema.createIndex('returns_by_order').on('returns').columns(['merchant_id', 'order_id']).execute();
  await db.schema.createIndex('return_lines_by_return').on('return_lines').columns(['merchant_id', 'return_id']).execute();

  await db.schema.alterTable('variants').addColumn('final_sale', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('order_lines').addColumn('final_sale', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('orders').addColumn('exchange_of_order_id', 'text').execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('store_credit_accounts').execute();
}
