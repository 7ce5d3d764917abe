import { type Kysely, PostgresAdapter, sql } from 'kysely';

// Promotion rules (issue #6): one rule engine for every channel. A promotion keeps its kind and
// value (what the first promotions had: percent or amount off the order) and gains the rest of a
// rule: conditions and the details of its action as JSON, automatic application without a code
// (so the code becomes optional for automatic promotions), priority, exclusivity and stacking,
// usage limits (total and per customer, counted across channels) and the id of its discount in
// Shopify. Existing rows keep their meaning: an empty rule is "no conditions", and their kind and
// value are already a rule. The kind check is widened and the code made nullable; SQLite cannot
// alter either, so there the table is rebuilt with its rows, in one transaction.
//
// `promotion_versions` holds one token per merchant that changes with every change to its
// promotions, so an engine process can keep the active promotions in memory and know, by one
// primary-key read, whether they are still current (another process may have changed them).

type Db = Kysely<any>;

const kinds = ['percent_off_order', 'amount_off_order', 'percent_off_lines', 'amount_off_lines', 'buy_x_get_y', 'free_item', 'free_shipping', 'member_price'];

function listed(values: string[]) {
  return sql.raw(values.map((value) => `'${value}'`).join(', '));
}

function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

const addedColumns = [
  'automatic integer not null default 0',
  'priority bigint not null default 0',
  'exclusive integer not null default 0',
  'stackable integer not null default 1',
  'total_usage_max bigint',
  'per_customer_usage_max bigint',
  "conditions_json text not null default '{}'",
  "action_json text not null default '{}'",
  'shopify_discount_id text',
];

const ruleChecks = [
  'constraint promotions_code_or_automatic check (code is not null or automatic = 1)',
  'constraint promotions_usage_max_positive check ((total_usage_max is null or total_usage_max > 0) and (per_customer_usage_max is null or per_customer_usage_max > 0))',
  'constraint promotions_flags_known check (automatic in (0, 1) and exclusive in (0, 1) and stackable in (0, 1))',
];

async function widenOnPostgres(db: Db): Promise<void> {
  await sql`alter table promotions drop constraint promotions_kind_known`.execute(db);
  await sql`alter table promotions add constraint promotions_kind_known check (kind in (${listed(kinds)}))`.execute(db);
  await sql`alter table promotions alter column code drop not null`.execute(db);
  for (const column of addedColumns) await sql`alter table promotions add column ${sql.raw(column)}`.execute(db);
  await sql`alter table promotions add column updated_at text`.execute(db);
  await sql`update promotions set updated_at = created_at`.execute(db);
  await sql`alter table promotions alter column updated_at set not null`.execute(db);
  for (const check of ruleChecks) await sql`alter table promotions add ${sql.raw(check)}`.execute(db);
}

async function rebuildOnSqlite(db: Db): Promise<void> {
  await sql`alter table promotions rename to promotions_before_rules`.execute(db);
  await sql`create table promotions (
    merchant_id text not null, id text primary key, code text, name text not null, kind text not null, value bigint not null,
    channels text not null, active integer not null, starts_at text, ends_at text, created_at text not null, updated_at text not null,
    ${sql.raw(addedColumns.join(', '))},
    constraint promotions_code_unique unique (merchant_id, code),
    constraint promotions_kind_known check (kind in (${listed(kinds)})),
    ${sql.raw(ruleChecks.join(', '))})`.execute(db);
  await sql`insert into promotions (merchant_id, id, code, name, kind, value, channels, active, starts_at, ends_at, created_at, updated_at)
    select merchant_id, id, code, name, kind, value, channels, active, starts_at, ends_at, created_at, created_at from promotions_before_rules`.execute(db);
  await sql`drop table promotions_before_rules`.execute(db);
}

export async function up(db: Db): Promise<void> {
  if (isPostgres(db)) {
    // The migrator already runs each PostgreSQL migration in a transaction.
    await widenOnPostgres(db);
  } else if (db.isTransaction) {
    await rebuildOnSqlite(db);
  } else {
    // Kysely runs SQLite migrations outside a transaction; a rebuild interrupted halfway would
    // leave the rows in the renamed table, so it is one transaction of its own.
    await db.transaction().execute((tx) => rebuildOnSqlite(tx));
  }
  await db.schema.createIndex('promotions_active').on('promotions').columns(['merchant_id', 'active']).execute();
  await db.schema.createIndex('promotion_redemptions_by_customer').on('promotion_redemptions').columns(['merchant_id', 'customer_id', 'promotion_id']).execute();
  await db.schema
    .createTable('promotion_versions')
    .addColumn('merchant_id', 'text', (column) => column.primaryKey())
    .addColumn('version', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('promotion_versions').execute();
  await db.schema.dropIndex('promotion_redemptions_by_customer').execute();
  await db.schema.dropIndex('promotions_active').execute();
}
