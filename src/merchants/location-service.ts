import type { Queryable } from '../db/index.ts';
import type { LocationsTable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { Channel } from './merchant-service.ts';

export interface Location {
  id: string;
  name: string;
  kind: 'store' | 'warehouse';
  shopifyLocationId: string | null;
  squareLocationId: string | null;
  fulfilsOnline: boolean;
  taxRateBps: number;
}

export interface LocationInput {
  name: string;
  kind: 'store' | 'warehouse';
  shopifyLocationId?: string | null;
  squareLocationId?: string | null;
  fulfilsOnline?: boolean;
  taxRateBps?: number;
}

function toLocation(row: LocationsTable): Location {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as Location['kind'],
    shopifyLocationId: row.shopify_location_id,
    squareLocationId: row.square_location_id,
    fulfilsOnline: row.fulfils_online === 1,
    taxRateBps: row.tax_rate_bps,
  };
}

export async function createLocation(db: Queryable, merchantId: string, input: LocationInput): Promise<Location> {
  for (const channel of ['shopify', 'square'] as const) {
    const externalId = channel === 'shopify' ? input.shopifyLocationId : input.squareLocationId;
    if (externalId && (await findLocationByChannelId(db, merchantId, channel, externalId))) {
      throw new AppError('locations.duplicate_channel_location', `Another location is already mapped to ${channel} location ${externalId}`, { field: `${channel}_location_id`, value: externalId });
    }
  }
  const row: LocationsTable = {
    id: newId('loc'),
    merchant_id: merchantId,
    name: input.name,
    kind: input.kind,
    shopify_location_id: input.shopifyLocationId ?? null,
    square_location_id: input.squareLocationId ?? null,
    fulfils_online: input.fulfilsOnline ? 1 : 0,
    tax_rate_bps: input.taxRateBps ?? 0,
    created_at: nowIso(),
  };
  await db.insertInto('locations').values(row).execute();
  return toLocation(row);
}

export async function listLocations(db: Queryable, merchantId: string): Promise<Location[]> {
  const rows = await db.selectFrom('locations').selectAll().where('merchant_id', '=', merchantId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toLocation);
}

export async function getLocation(db: Queryable, merchantId: string, locationId: string): Promise<Location> {
  const row = await db.selectFrom('locations').selectAll().where('merchant_id', '=', merchantId).where('id', '=', locationId).executeTakeFirst();
  if (!row) throw new AppError('locations.not_found', `No location ${locationId}`, { location_id: locationId });
  return toLocation(row);
}

/** Finds our location for a channel's location id (Shopify `location_id`, Square `location_id`). */
export async function findLocationByChannelId(db: Queryable, merchantId: string, channel: Channel, externalId: string): Promise<Location | undefined> {
  const column = channel === 'square' ? 'square_location_id' : 'shopify_location_id';
  const row = await db.selectFrom('locations').selectAll().where('merchant_id', '=', merchantId).where(column, '=', externalId).executeTakeFirst();
  return row ? toLocation(row) : undefined;
}

/** The location that ships online orders that name none (Shopify web orders carry `location_id: null`). */
export async function findOnlineFulfilmentLocation(db: Queryable, merchantId: string): Promise<Location | undefined> {
  const row = await db.selectFrom('locations').selectAll().where('merchant_id', '=', merchantId).where('fulfils_online', '=', 1).orderBy('created_at').executeTakeFirst();
  return row ? toLocation(row) : undefined;
}

/**
 * Maps one of our locations to a channel's location id, or unmaps it with null. A channel location
 * maps to at most one of ours (the unique index says so too); mapping it elsewhere is refused.
 */
export async function mapLocationToChannel(db: Queryable, merchantId: string, locationId: string, channel: Channel, externalId: string | null): Promise<Location> {
  await getLocation(db, merchantId, locationId);
  const column = channel === 'square' ? 'square_location_id' : 'shopify_location_id';
  if (externalId !== null) {
    const holder = await findLocationByChannelId(db, merchantId, channel, externalId);
    if (holder && holder.id !== locationId) {
      throw new AppError('locations.duplicate_channel_location', `Location ${holder.id} is already mapped to ${channel} location ${externalId}`, { field: `${channel}_location_id`, value: externalId });
    }
  }
  await db.updateTable('locations').set({ [column]: externalId }).where('merchant_id', '=', merchantId).where('id', '=', locationId).execute();
  return getLocation(db, merchantId, locationId);
}
