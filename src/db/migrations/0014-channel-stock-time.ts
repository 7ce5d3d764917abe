import { type Kysely } from 'kysely';

// When a stock movement happened by the channel's clock (an order's placement, a refund's
// processing, a count's report). A channel's count only knows what happened before it was taken:
// comparing these times keeps a count that arrives late from erasing later sales, and a sale that
// arrives after a count that already includes it from being counted twice.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('stock_movements').addColumn('occurred_at', 'text').execute();
  await db.schema.createIndex('stock_movements_by_place').on('stock_movements').columns(['merchant_id', 'location_id', 'variant_id', 'occurred_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('stock_movements_by_place').execute();
  await db.schema.alterTable('stock_movements').dropColumn('occurred_at').execute();
}
