import { type Kysely, sql } from 'kysely';

// Stock (issue #5): reservations (pickup orders and cart holds), pickups and their states,
// per-channel buffers held back from a channel's figure, and order fulfilment/cancellation state.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('reservations')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('location_id', 'text', (column) => column.notNull())
    .addColumn('variant_id', 'text', (column) => column.notNull())
    .addColumn('quantity', 'bigint', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('order_id', 'text')
    .addColumn('pickup_id', 'text')
    .addColumn('expires_at', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addCheckConstraint('reservations_quantity_positive', sql`quantity > 0`)
    .addCheckConstraint('reservations_kind_known', sql`kind in ('pickup', 'hold')`)
    .addCheckConstraint('reservations_state_known', sql`state in ('active', 'released', 'expired', 'fulfilled')`)
    .execute();
  await db.schema.createIndex('reservations_due').on('reservations').columns(['state', 'expires_at']).execute();
  await db.schema.createIndex('reservations_by_pickup').on('reservations').columns(['merchant_id', 'pickup_id']).execute();

  await db.schema
    .createTable('pickups')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('order_id', 'text', (column) => column.notNull())
    .addColumn('location_id', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addColumn('ready_at', 'text')
    .addColumn('picked_up_at', 'text')
    .addColumn('closed_at', 'text')
    .addUniqueConstraint('pickups_order_unique', ['merchant_id', 'order_id'])
    .addCheckConstraint('pickups_state_known', sql`state in ('placed', 'ready', 'picked_up', 'cancelled', 'expired')`)
    .execute();
  await db.schema.createIndex('pickups_by_location').on('pickups').columns(['merchant_id', 'location_id', 'state']).execute();

  await db.schema
    .createTable('stock_buffers')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('location_id', 'text', (column) => column.notNull())
    .addColumn('units', 'bigint', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('stock_buffers_pk', ['merchant_id', 'channel', 'location_id'])
    .addCheckConstraint('stock_buffers_units_not_negative', sql`units >= 0`)
    .execute();

  await db.schema.alterTable('channel_stock_mirror').addColumn('last_seen_at', 'text').execute();
  await db.schema.alterTable('products').addColumn('source_updated_at', 'text').execute();
  await db.schema.alterTable('orders').addColumn('fulfilment_status', 'text').execute();
  await db.schema.alterTable('orders').addColumn('cancelled_at', 'text').execute();
  await db.schema.createIndex('orders_by_number').on('orders').columns(['merchant_id', 'order_number']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('orders_by_number').execute();
  await db.schema.alterTable('orders').dropColumn('cancelled_at').execute();
  await db.schema.alterTable('orders').dropColumn('fulfilment_status').execute();
  await db.schema.alterTable('channel_stock_mirror').dropColumn('last_seen_at').execute();
  await db.schema.alterTable('products').dropColumn('source_updated_at').execute();
  for (const table of ['stock_buffers', 'pickups', 'reservations']) await db.schema.dropTable(table).execute();
}
