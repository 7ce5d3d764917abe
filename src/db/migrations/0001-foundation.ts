import { type Kysely, sql } from 'kysely';

// Frozen in time: this migration never imports application code. Integers are `bigint` on both
// dialects (SQLite gives any type containing "INT" integer affinity); timestamps are ISO-8601 UTC
// text, which sorts correctly on both; booleans are 0/1 integers; JSON is text.

type Db = Kysely<any>;

function merchantTable(db: Db, name: string) {
  return db.schema.createTable(name).addColumn('merchant_id', 'text', (column) => column.notNull());
}

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('merchants')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('merchant_id', 'text', (column) => column.notNull().unique())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('default_country', 'text', (column) => column.notNull())
    .addColumn('settings_json', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addCheckConstraint('merchants_id_is_merchant_id', sql`id = merchant_id`)
    .execute();

  await merchantTable(db, 'api_keys')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('key_hash', 'text', (column) => column.notNull().unique())
    .addColumn('key_prefix', 'text', (column) => column.notNull())
    .addColumn('scope', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('revoked_at', 'text')
    .addCheckConstraint('api_keys_scope_known', sql`scope in ('admin', 'pos', 'read')`)
    .execute();

  await merchantTable(db, 'locations')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('shopify_location_id', 'text')
    .addColumn('square_location_id', 'text')
    .addColumn('fulfils_online', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('tax_rate_bps', 'integer', (column) => column.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addCheckConstraint('locations_kind_known', sql`kind in ('store', 'warehouse')`)
    .execute();
  await db.schema.createIndex('locations_shopify_unique').on('locations').columns(['merchant_id', 'shopify_location_id']).unique().execute();
  await db.schema.createIndex('locations_square_unique').on('locations').columns(['merchant_id', 'square_location_id']).unique().execute();

  await merchantTable(db, 'channel_accounts')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('account_ref', 'text', (column) => column.notNull())
    .addColumn('webhook_secret', 'text', (column) => column.notNull())
    .addColumn('admin_api_url', 'text')
    .addColumn('access_token', 'text')
    .addColumn('notification_url', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('channel_accounts_account_unique', ['channel', 'account_ref'])
    .execute();

  await merchantTable(db, 'customers')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('name_search', 'text', (column) => column.notNull())
    .addColumn('loyalty_code', 'text')
    .addColumn('source_updated_at', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .execute();
  await db.schema.createIndex('customers_name_search').on('customers').columns(['merchant_id', 'name_search']).execute();
  await db.schema.createIndex('customers_loyalty_code_unique').on('customers').columns(['merchant_id', 'loyalty_code']).unique().execute();

  await merchantTable(db, 'customer_identifiers')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('value_original', 'text', (column) => column.notNull())
    .addColumn('value_normalized', 'text', (column) => column.notNull())
    .addColumn('is_valid', 'integer', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('customer_identifiers_unique', ['merchant_id', 'customer_id', 'kind', 'value_normalized'])
    .addCheckConstraint('customer_identifiers_kind_known', sql`kind in ('email', 'phone', 'loyalty_code', 'shopify_id', 'square_id', 'pos_id')`)
    .execute();
  await db.schema.createIndex('customer_identifiers_lookup').on('customer_identifiers').columns(['merchant_id', 'kind', 'value_normalized']).execute();

  await merchantTable(db, 'products')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('title', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();

  await merchantTable(db, 'variants')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('product_id', 'text', (column) => column.notNull())
    .addColumn('sku', 'text', (column) => column.notNull())
    .addColumn('title', 'text', (column) => column.notNull())
    .addColumn('price_minor', 'bigint', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('variants_sku_unique', ['merchant_id', 'sku'])
    .addCheckConstraint('variants_price_not_negative', sql`price_minor >= 0`)
    .execute();

  await merchantTable(db, 'external_refs')
    .addColumn('entity', 'text', (column) => column.notNull())
    .addColumn('entity_id', 'text', (column) => column.notNull())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('external_id', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('external_refs_pk', ['merchant_id', 'channel', 'entity', 'external_id'])
    .execute();
  await db.schema.createIndex('external_refs_by_entity').on('external_refs').columns(['merchant_id', 'entity', 'entity_id', 'channel']).execute();

  await merchantTable(db, 'stock_levels')
    .addColumn('location_id', 'text', (column) => column.notNull())
    .addColumn('variant_id', 'text', (column) => column.notNull())
    .addColumn('on_hand', 'bigint', (column) => column.notNull())
    .addColumn('reserved', 'bigint', (column) => column.notNull())
    .addColumn('safety', 'bigint', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('stock_levels_pk', ['merchant_id', 'location_id', 'variant_id'])
    .addCheckConstraint('stock_levels_reserved_not_negative', sql`reserved >= 0 and safety >= 0`)
    .execute();

  await merchantTable(db, 'stock_movements')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('location_id', 'text', (column) => column.notNull())
    .addColumn('variant_id', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('on_hand_delta', 'bigint', (column) => column.notNull())
    .addColumn('reserved_delta', 'bigint', (column) => column.notNull())
    .addColumn('source_key', 'text', (column) => column.notNull())
    .addColumn('reason', 'text')
    .addColumn('actor', 'text', (column) => column.notNull())
    .addColumn('order_id', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('stock_movements_source_unique', ['merchant_id', 'source_key'])
    .addCheckConstraint('stock_movements_kind_known', sql`kind in ('sale', 'return', 'receive', 'adjust', 'count', 'transfer_out', 'transfer_in', 'reserve', 'release', 'fulfil')`)
    .execute();
  await db.schema.createIndex('stock_movements_by_level').on('stock_movements').columns(['merchant_id', 'location_id', 'variant_id']).execute();

  await merchantTable(db, 'orders')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('source_ref', 'text', (column) => column.notNull())
    .addColumn('order_number', 'text')
    .addColumn('customer_id', 'text')
    .addColumn('location_id', 'text')
    .addColumn('register_ref', 'text')
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('subtotal_minor', 'bigint', (column) => column.notNull())
    .addColumn('discount_minor', 'bigint', (column) => column.notNull())
    .addColumn('shipping_minor', 'bigint', (column) => column.notNull())
    .addColumn('tax_minor', 'bigint', (column) => column.notNull())
    .addColumn('total_minor', 'bigint', (column) => column.notNull())
    .addColumn('refunded_minor', 'bigint', (column) => column.notNull())
    .addColumn('placed_at', 'text', (column) => column.notNull())
    .addColumn('source_updated_at', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('orders_source_unique', ['merchant_id', 'source', 'source_ref'])
    .addCheckConstraint('orders_channel_known', sql`channel in ('online', 'store')`)
    .execute();
  await db.schema.createIndex('orders_by_customer').on('orders').columns(['merchant_id', 'customer_id', 'placed_at']).execute();

  await merchantTable(db, 'order_lines')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('order_id', 'text', (column) => column.notNull())
    .addColumn('line_number', 'integer', (column) => column.notNull())
    .addColumn('source_ref', 'text', (column) => column.notNull())
    .addColumn('variant_id', 'text')
    .addColumn('sku', 'text')
    .addColumn('title', 'text', (column) => column.notNull())
    .addColumn('quantity', 'bigint', (column) => column.notNull())
    .addColumn('unit_price_minor', 'bigint', (column) => column.notNull())
    .addColumn('discount_minor', 'bigint', (column) => column.notNull())
    .addColumn('tax_minor', 'bigint', (column) => column.notNull())
    .addColumn('points_earned', 'bigint', (column) => column.notNull())
    .addColumn('fulfilment_location_id', 'text')
    .addColumn('returned_quantity', 'bigint', (column) => column.notNull())
    .addUniqueConstraint('order_lines_source_unique', ['merchant_id', 'order_id', 'source_ref'])
    .addCheckConstraint('order_lines_quantities_sane', sql`quantity > 0 and returned_quantity >= 0 and returned_quantity <= quantity`)
    .execute();

  await merchantTable(db, 'order_discounts')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('order_id', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('code', 'text')
    .addColumn('promotion_id', 'text')
    .addColumn('reward_id', 'text')
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .execute();

  await merchantTable(db, 'payments')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('order_id', 'text', (column) => column.notNull())
    .addColumn('method', 'text', (column) => column.notNull())
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('source_ref', 'text')
    .execute();

  await merchantTable(db, 'returns')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('order_id', 'text', (column) => column.notNull())
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('source_ref', 'text', (column) => column.notNull())
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .addColumn('currency', 'text', (column) => column.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('returns_source_unique', ['merchant_id', 'source', 'source_ref'])
    .execute();

  await merchantTable(db, 'return_lines')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('return_id', 'text', (column) => column.notNull())
    .addColumn('order_line_id', 'text', (column) => column.notNull())
    .addColumn('quantity', 'bigint', (column) => column.notNull())
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .addColumn('tax_minor', 'bigint', (column) => column.notNull())
    .addColumn('restock', 'text', (column) => column.notNull())
    .addColumn('restock_location_id', 'text')
    .addColumn('points_reversed', 'bigint', (column) => column.notNull())
    .execute();

  await merchantTable(db, 'promotions')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('code', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('value', 'bigint', (column) => column.notNull())
    .addColumn('channels', 'text', (column) => column.notNull())
    .addColumn('active', 'integer', (column) => column.notNull())
    .addColumn('starts_at', 'text')
    .addColumn('ends_at', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('promotions_code_unique', ['merchant_id', 'code'])
    .addCheckConstraint('promotions_kind_known', sql`kind in ('percent_off_order', 'amount_off_order')`)
    .execute();

  await merchantTable(db, 'promotion_redemptions')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('promotion_id', 'text', (column) => column.notNull())
    .addColumn('order_id', 'text', (column) => column.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('amount_minor', 'bigint', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('promotion_redemptions_unique', ['merchant_id', 'promotion_id', 'order_id'])
    .execute();

  await merchantTable(db, 'rewards')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('code', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('points_cost', 'bigint', (column) => column.notNull())
    .addColumn('amount_off_minor', 'bigint', (column) => column.notNull())
    .addColumn('active', 'integer', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('rewards_code_unique', ['merchant_id', 'code'])
    .addCheckConstraint('rewards_positive', sql`points_cost > 0 and amount_off_minor > 0`)
    .execute();

  await merchantTable(db, 'loyalty_accounts')
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('available', 'bigint', (column) => column.notNull())
    .addColumn('pending', 'bigint', (column) => column.notNull())
    .addColumn('lifetime_earned', 'bigint', (column) => column.notNull())
    .addColumn('tier', 'text', (column) => column.notNull())
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('loyalty_accounts_pk', ['merchant_id', 'customer_id'])
    .execute();

  await merchantTable(db, 'loyalty_transactions')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('idempotency_key', 'text', (column) => column.notNull())
    .addColumn('points', 'bigint', (column) => column.notNull())
    .addColumn('order_id', 'text')
    .addColumn('memo', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addUniqueConstraint('loyalty_transactions_key_unique', ['merchant_id', 'idempotency_key'])
    .addCheckConstraint('loyalty_transactions_kind_known', sql`kind in ('earn', 'redeem', 'reverse', 'restore', 'adjust', 'expire', 'merge', 'unmerge', 'release', 'bonus')`)
    .execute();
  await db.schema.createIndex('loyalty_transactions_by_customer').on('loyalty_transactions').columns(['merchant_id', 'customer_id', 'created_at']).execute();

  await merchantTable(db, 'loyalty_entries')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('transaction_id', 'text', (column) => column.notNull())
    .addColumn('account', 'text', (column) => column.notNull())
    .addColumn('customer_id', 'text')
    .addColumn('amount', 'bigint', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addCheckConstraint('loyalty_entries_account_known', sql`account in ('customer_available', 'customer_pending', 'issued', 'redeemed', 'reversed', 'expired', 'adjusted')`)
    .addCheckConstraint('loyalty_entries_not_zero', sql`amount <> 0`)
    .execute();
  await db.schema.createIndex('loyalty_entries_by_customer').on('loyalty_entries').columns(['merchant_id', 'customer_id', 'account']).execute();
  await db.schema.createIndex('loyalty_entries_by_transaction').on('loyalty_entries').columns(['merchant_id', 'transaction_id']).execute();

  await merchantTable(db, 'loyalty_lots')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('customer_id', 'text', (column) => column.notNull())
    .addColumn('transaction_id', 'text', (column) => column.notNull())
    .addColumn('points', 'bigint', (column) => column.notNull())
    .addColumn('remaining', 'bigint', (column) => column.notNull())
    .addColumn('earned_at', 'text', (column) => column.notNull())
    .addColumn('expires_at', 'text')
    .addCheckConstraint('loyalty_lots_remaining_in_range', sql`remaining >= 0 and remaining <= points`)
    .execute();
  await db.schema.createIndex('loyalty_lots_by_customer').on('loyalty_lots').columns(['merchant_id', 'customer_id', 'expires_at']).execute();

  await merchantTable(db, 'loyalty_lot_spends')
    .addColumn('transaction_id', 'text', (column) => column.notNull())
    .addColumn('lot_id', 'text', (column) => column.notNull())
    .addColumn('points', 'bigint', (column) => column.notNull())
    .addPrimaryKeyConstraint('loyalty_lot_spends_pk', ['merchant_id', 'transaction_id', 'lot_id'])
    .execute();

  await merchantTable(db, 'inbox_events')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('source', 'text', (column) => column.notNull())
    .addColumn('topic', 'text', (column) => column.notNull())
    .addColumn('delivery_id', 'text', (column) => column.notNull())
    .addColumn('event_key', 'text')
    .addColumn('headers_json', 'text', (column) => column.notNull())
    .addColumn('payload', 'text', (column) => column.notNull())
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('attempts', 'integer', (column) => column.notNull())
    .addColumn('error', 'text')
    .addColumn('triggered_at', 'text')
    .addColumn('available_at', 'text', (column) => column.notNull())
    .addColumn('received_at', 'text', (column) => column.notNull())
    .addColumn('processed_at', 'text')
    .addUniqueConstraint('inbox_events_delivery_unique', ['merchant_id', 'source', 'delivery_id'])
    .addUniqueConstraint('inbox_events_event_unique', ['merchant_id', 'source', 'event_key'])
    .addCheckConstraint('inbox_events_status_known', sql`status in ('received', 'processed', 'ignored', 'failed')`)
    .execute();
  await db.schema.createIndex('inbox_events_due').on('inbox_events').columns(['status', 'available_at']).execute();

  await merchantTable(db, 'outbox_events')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('destination', 'text', (column) => column.notNull())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('coalesce_key', 'text')
    .addColumn('payload', 'text', (column) => column.notNull())
    .addColumn('status', 'text', (column) => column.notNull())
    .addColumn('attempts', 'integer', (column) => column.notNull())
    .addColumn('next_attempt_at', 'text', (column) => column.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('delivered_at', 'text')
    .addCheckConstraint('outbox_events_status_known', sql`status in ('pending', 'delivering', 'delivered', 'dead')`)
    .execute();
  await db.schema.createIndex('outbox_events_due').on('outbox_events').columns(['status', 'next_attempt_at']).execute();
  await db.schema.createIndex('outbox_events_coalesce').on('outbox_events').columns(['merchant_id', 'coalesce_key', 'status']).execute();

  await merchantTable(db, 'channel_stock_mirror')
    .addColumn('channel', 'text', (column) => column.notNull())
    .addColumn('location_id', 'text', (column) => column.notNull())
    .addColumn('variant_id', 'text', (column) => column.notNull())
    .addColumn('last_pushed_available', 'bigint')
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('channel_stock_mirror_pk', ['merchant_id', 'channel', 'location_id', 'variant_id'])
    .execute();

  await merchantTable(db, 'exceptions')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('kind', 'text', (column) => column.notNull())
    .addColumn('dedupe_key', 'text', (column) => column.notNull())
    .addColumn('subject', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('details_json', 'text', (column) => column.notNull())
    .addColumn('resolution', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addColumn('resolved_at', 'text')
    .addUniqueConstraint('exceptions_dedupe_unique', ['merchant_id', 'dedupe_key'])
    .execute();

  await merchantTable(db, 'audit_log')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('actor', 'text', (column) => column.notNull())
    .addColumn('action', 'text', (column) => column.notNull())
    .addColumn('subject', 'text', (column) => column.notNull())
    .addColumn('details_json', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();

  await merchantTable(db, 'idempotency_keys')
    .addColumn('key', 'text', (column) => column.notNull())
    .addColumn('request_hash', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_body', 'text')
    .addColumn('created_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['merchant_id', 'key'])
    .execute();
}

export async function down(db: Db): Promise<void> {
  const tables = [
    'idempotency_keys', 'audit_log', 'exceptions', 'channel_stock_mirror', 'outbox_events', 'inbox_events',
    'loyalty_lot_spends', 'loyalty_lots', 'loyalty_entries', 'loyalty_transactions', 'loyalty_accounts', 'rewards',
    'promotion_redemptions', 'promotions', 'return_lines', 'returns', 'payments', 'order_discounts', 'order_lines',
    'orders', 'stock_movements', 'stock_levels', 'external_refs', 'variants', 'products', 'customer_identifiers',
    'customers', 'channel_accounts', 'locations', 'api_keys', 'merchants',
  ];
  for (const table of tables) await db.schema.dropTable(table).execute();
}
