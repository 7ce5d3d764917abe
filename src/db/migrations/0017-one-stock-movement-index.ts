import { type Kysely, PostgresAdapter, sql } from 'kysely';

// stock_movements had two indexes where one does: (merchant_id, location_id, variant_id) is the
// start of (merchant_id, location_id, variant_id, occurred_at), which answers every query the
// shorter one did. Every hold, sale and order line wrote both (issue #9).

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.dropIndex('stock_movements_by_level').execute();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) await sql`delete from sqlite_stat1 where idx = 'stock_movements_by_level'`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await db.schema.createIndex('stock_movements_by_level').on('stock_movements').columns(['merchant_id', 'location_id', 'variant_id']).execute();
}
