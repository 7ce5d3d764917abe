import type { Queryable } from '../db/index.ts';

/**
 * Tombstones of records a channel deleted, shared by the connectors: a late update of a deleted
 * record (a retried or out-of-order webhook) is recognised as older than its deletion and is not
 * applied, so it cannot bring back a link or a record the channel removed.
 */

export type DeletionChannel = 'shopify' | 'square';
export type DeletedEntity = 'customer' | 'product' | 'location';

/** Remembers that the channel deleted a record; a later deletion time never moves it back. */
export async function recordChannelDeletion(db: Queryable, merchantId: string, channel: DeletionChannel, entity: DeletedEntity, externalId: string, deletedAt: string): Promise<void> {
  await db
    .insertInto('channel_deletions')
    .values({ merchant_id: merchantId, channel, entity, external_id: externalId, deleted_at: deletedAt })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'entity', 'external_id']).doUpdateSet({ deleted_at: deletedAt }).where('channel_deletions.deleted_at', '<', deletedAt))
    .execute();
}

/** When the channel deleted the record, or undefined when it did not (as far as we heard). */
export async function findChannelDeletion(db: Queryable, merchantId: string, channel: DeletionChannel, entity: DeletedEntity, externalId: string): Promise<string | undefined> {
  const row = await db.selectFrom('channel_deletions').select('deleted_at').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('entity', '=', entity).where('external_id', '=', externalId).executeTakeFirst();
  return row?.deleted_at;
}
