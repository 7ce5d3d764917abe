import type { Kysely } from 'kysely';

// Privacy requests (issue #3): one row per channel request, so a data request delivered again
// under new webhook and event ids builds no second export. Rows without a channel reference
// (NULL) never conflict, on both dialects.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.createIndex('privacy_requests_channel_ref_unique').on('privacy_requests').columns(['merchant_id', 'kind', 'channel_ref']).unique().execute();
  await db.schema.createIndex('privacy_requests_by_customer').on('privacy_requests').columns(['merchant_id', 'customer_id']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('privacy_requests_by_customer').execute();
  await db.schema.dropIndex('privacy_requests_channel_ref_unique').execute();
}
