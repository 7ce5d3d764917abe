import { type Kysely } from 'kysely';

// A reward an offline register handed over without a sale (a free coffee) spent its points in the
// ledger but was on no order and no code, so per-customer and total reward limits did not count
// it. Each handover is kept here, one row per register operation, owned by the shopper's profile:
// it moves with her through a merge and back with an unmerge, as her reward codes do.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('reward_handovers')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('reward_id', 'text', (column) => column.notNull())
    .addColumn('location_id', 'text')
    .addColumn('register_id', 'text', (column) => column.notNull())
    .addColumn('op_id', 'text', (column) => column.notNull())
    .addColumn('handed_over_at', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('reward_handovers_op_unique', ['merchant_id', 'register_id', 'op_id'])
    .execute();
  // Limits count a reward's handovers, in all and per customer; merges list a customer's.
  await db.schema.createIndex('reward_handovers_by_reward').on('reward_handovers').columns(['merchant_id', 'reward_id', 'customer_id']).execute();
  await db.schema.createIndex('reward_handovers_by_customer').on('reward_handovers').columns(['merchant_id', 'customer_id']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('reward_handovers').execute();
}
