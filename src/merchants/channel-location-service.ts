import type { ChannelLocationsTable, Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import type { Channel } from './merchant-service.ts';

/**
 * A location as a channel has it (a Shopify location), kept so a merchant can see the channel's
 * locations and map each to one of ours. Mapping lives on `locations`; this is the channel's list.
 */
export interface ChannelLocation {
  channel: Channel;
  externalId: string;
  name: string;
  active: boolean;
  address: Record<string, string | null>;
  /** The channel's `updated_at` of the version held; an older version is not applied. */
  sourceUpdatedAt: string | null;
  deletedAt: string | null;
}

export interface ChannelLocationInput {
  externalId: string;
  name: string;
  active: boolean;
  address: Record<string, string | null>;
  sourceUpdatedAt: string | null;
}

function toChannelLocation(row: ChannelLocationsTable): ChannelLocation {
  return {
    channel: row.channel as Channel, externalId: row.external_id, name: row.name, active: row.active === 1,
    address: JSON.parse(row.address_json) as Record<string, string | null>, sourceUpdatedAt: row.source_updated_at, deletedAt: row.deleted_at,
  };
}

export async function findChannelLocation(db: Queryable, merchantId: string, channel: Channel, externalId: string): Promise<ChannelLocation | undefined> {
  const row = await db.selectFrom('channel_locations').selectAll().where('merchant_id', '=', merchantId).where('channel', '=', channel).where('external_id', '=', externalId).executeTakeFirst();
  return row ? toChannelLocation(row) : undefined;
}

/**
 * Records a channel's location, or refreshes it. A version older than the one held changes nothing
 * (`stale`); one whose fields are all as held is `unchanged`. A location recorded again after its
 * deletion comes back (the channel re-created it under the same id, which Shopify does not do).
 */
export async function recordChannelLocation(db: Queryable, merchantId: string, channel: Channel, input: ChannelLocationInput): Promise<'created' | 'updated' | 'unchanged' | 'stale'> {
  const held = await findChannelLocation(db, merchantId, channel, input.externalId);
  const values = { name: input.name, active: input.active ? 1 : 0, address_json: JSON.stringify(input.address), source_updated_at: input.sourceUpdatedAt ?? held?.sourceUpdatedAt ?? null, deleted_at: null, updated_at: nowIso() };
  if (!held) {
    await db.insertInto('channel_locations').values({ merchant_id: merchantId, channel, external_id: input.externalId, ...values }).onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'external_id']).doNothing()).execute();
    return 'created';
  }
  if (input.sourceUpdatedAt && held.sourceUpdatedAt && input.sourceUpdatedAt < held.sourceUpdatedAt) return 'stale';
  const same = held.name === input.name && held.active === input.active && JSON.stringify(held.address) === values.address_json && held.deletedAt === null;
  if (same && (input.sourceUpdatedAt ?? held.sourceUpdatedAt) === held.sourceUpdatedAt) return 'unchanged';
  await db.updateTable('channel_locations').set(values).where('merchant_id', '=', merchantId).where('channel', '=', channel).where('external_id', '=', input.externalId).execute();
  return same ? 'unchanged' : 'updated';
}

/** Marks a channel location deleted; returns false when it was unknown or already deleted. */
export async function markChannelLocationDeleted(db: Queryable, merchantId: string, channel: Channel, externalId: string, deletedAt: string): Promise<boolean> {
  const held = await findChannelLocation(db, merchantId, channel, externalId);
  if (!held) {
    await db.insertInto('channel_locations').values({ merchant_id: merchantId, channel, external_id: externalId, name: `(deleted ${channel} location ${externalId})`, active: 0, address_json: '{}', source_updated_at: deletedAt, deleted_at: deletedAt, updated_at: nowIso() }).execute();
    return true;
  }
  if (held.deletedAt) return false;
  await db.updateTable('channel_locations').set({ deleted_at: deletedAt, active: 0, source_updated_at: held.sourceUpdatedAt && held.sourceUpdatedAt > deletedAt ? held.sourceUpdatedAt : deletedAt, updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('channel', '=', channel).where('external_id', '=', externalId).execute();
  return true;
}

/** Bounded list of a channel's locations, oldest id first. */
export const channelLocationsListMax = 1_000;

export async function listChannelLocations(db: Queryable, merchantId: string, channel: Channel): Promise<ChannelLocation[]> {
  const rows = await db.selectFrom('channel_locations').selectAll().where('merchant_id', '=', merchantId).where('channel', '=', channel).orderBy('external_id').limit(channelLocationsListMax).execute();
  return rows.map(toChannelLocation);
}
