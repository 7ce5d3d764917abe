import { type Kysely, PostgresAdapter, sql } from 'kysely';

// An offline register can upload an exchange as one operation (docs/pos-offline.md): the log of
// applied operations accepts the kind. PostgreSQL swaps the check; SQLite cannot change a check in
// place, so the table is rebuilt as SQLite documents ("Making Other Kinds Of Table Schema Changes").

type Db = Kysely<any>;

const kinds = (withExchange: boolean) => (withExchange ? sql`kind in ('sale', 'return', 'exchange', 'reward_redemption')` : sql`kind in ('sale', 'return', 'reward_redemption')`);

async function rebuildOnSqlite(db: Db, withExchange: boolean): Promise<void> {
  await db.schema
    .createTable('pos_offline_ops_next')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('register_id', 'text', (column) => column.notNull())
    .addColumn('op_id', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('sequence', 'bigint', (column) => column.notNull())
    .addColumn('occurred_at', 'text', (column) => column.notNull())
    .addColumn('fingerprint', 'text', (column) => column.notNull())
    .addColumn('result_json', 'text', (column) => column.notNull())
    .addColumn('applied_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('pos_offline_ops_pk', ['merchant_id', 'register_id', 'op_id'])
    .addCheckConstraint('pos_offline_ops_kind_known', kinds(withExchange))
    .execute();
  await sql`insert into pos_offline_ops_next (merchant_id, register_id, op_id, kind, sequence, occurred_at, fingerprint, result_json, applied_at)
    select merchant_id, register_id, op_id, kind, sequence, occurred_at, fingerprint, result_json, applied_at from pos_offline_ops`.execute(db);
  await db.schema.dropTable('pos_offline_ops').execute();
  await db.schema.alterTable('pos_offline_ops_next').renameTo('pos_offline_ops').execute();
  await db.schema.createIndex('pos_offline_ops_by_time').on('pos_offline_ops').columns(['merchant_id', 'register_id', 'occurred_at']).execute();
}

async function setKinds(db: Db, withExchange: boolean): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return rebuildOnSqlite(db, withExchange);
  await sql`alter table pos_offline_ops drop constraint pos_offline_ops_kind_known`.execute(db);
  await sql`alter table pos_offline_ops add constraint pos_offline_ops_kind_known check (${kinds(withExchange)})`.execute(db);
}

export async function up(db: Db): Promise<void> {
  await setKinds(db, true);
}

export async function down(db: Db): Promise<void> {
  await setKinds(db, false);
}
