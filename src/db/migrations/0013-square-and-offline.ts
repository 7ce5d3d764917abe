import { type Kysely, sql } from 'kysely';

// Registers that were offline upload what they did (issue #7, docs/pos-offline.md). Each operation
// a register uploads is kept with its first result, under the register's own ids: uploading it
// again answers that result and applies nothing, and the same id with other contents is refused.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('pos_offline_ops')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('register_id', 'text', (column) => column.notNull())
    .addColumn('op_id', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('sequence', 'bigint', (column) => column.notNull())
    .addColumn('occurred_at', 'text', (column) => column.notNull())
    // sha256 of the operation as uploaded: a later upload of the same id with other contents is refused.
    .addColumn('fingerprint', 'text', (column) => column.notNull())
    .addColumn('result_json', 'text', (column) => column.notNull())
    .addColumn('applied_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('pos_offline_ops_pk', ['merchant_id', 'register_id', 'op_id'])
    .addCheckConstraint('pos_offline_ops_kind_known', sql`kind in ('sale', 'return', 'reward_redemption')`)
    .execute();
  await db.schema.createIndex('pos_offline_ops_by_time').on('pos_offline_ops').columns(['merchant_id', 'register_id', 'occurred_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('pos_offline_ops').execute();
}
