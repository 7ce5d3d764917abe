import { forgetKeptReads, keptRead, reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import type { Selectable } from 'kysely';
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
  /** The cross-channel workflows rolled out at this location (all on unless a merchant turned one off). */
  workflows: LocationWorkflows;
}

/**
 * Workflow switches per location, so a merchant can roll the cross-channel workflows out one store
 * at a time (issue #8). Each is on by default: a location behaves as before until one is turned off.
 */
export interface LocationWorkflows {
  /** Store sales earn points and take rewards at this location. */
  loyaltyInStore: boolean;
  /** Online orders can be placed for pickup at this location. */
  pickup: boolean;
  /** Returns here of orders from another channel or another location. */
  crossChannelReturns: boolean;
  /** Stock changes here are pushed to the channels (the stock itself is always kept). */
  stockPush: boolean;
}

export const allWorkflowsOn: Readonly<LocationWorkflows> = Object.freeze({ loyaltyInStore: true, pickup: true, crossChannelReturns: true, stockPush: true });

// Each switch and its column; the API names them in snake case, as the columns do without the prefix.
const workflowColumns = {
  loyaltyInStore: 'workflow_loyalty_in_store',
  pickup: 'workflow_pickup',
  crossChannelReturns: 'workflow_cross_channel_returns',
  stockPush: 'workflow_stock_push',
} as const satisfies Record<keyof LocationWorkflows, keyof LocationsTable>;

type LocationRow = Selectable<LocationsTable>;

export interface LocationInput {
  name: string;
  kind: 'store' | 'warehouse';
  shopifyLocationId?: string | null;
  squareLocationId?: string | null;
  fulfilsOnline?: boolean;
  taxRateBps?: number;
}

function toLocation(row: LocationRow): Location {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as Location['kind'],
    shopifyLocationId: row.shopify_location_id,
    squareLocationId: row.square_location_id,
    fulfilsOnline: row.fulfils_online === 1,
    taxRateBps: row.tax_rate_bps,
    workflows: {
      loyaltyInStore: row.workflow_loyalty_in_store === 1,
      pickup: row.workflow_pickup === 1,
      crossChannelReturns: row.workflow_cross_channel_returns === 1,
      stockPush: row.workflow_stock_push === 1,
    },
  };
}

export async function createLocation(db: Queryable, merchantId: string, input: LocationInput): Promise<Location> {
  for (const channel of ['shopify', 'square'] as const) {
    const externalId = channel === 'shopify' ? input.shopifyLocationId : input.squareLocationId;
    if (externalId && (await findLocationByChannelId(db, merchantId, channel, externalId))) {
      throw new AppError('locations.duplicate_channel_location', `Another location is already mapped to ${channel} location ${externalId}`, { field: `${channel}_location_id`, value: externalId });
    }
  }
  const row: LocationRow = {
    id: newId('loc'),
    merchant_id: merchantId,
    name: input.name,
    kind: input.kind,
    shopify_location_id: input.shopifyLocationId ?? null,
    square_location_id: input.squareLocationId ?? null,
    fulfils_online: input.fulfilsOnline ? 1 : 0,
    tax_rate_bps: input.taxRateBps ?? 0,
    created_at: nowIso(),
    workflow_loyalty_in_store: 1, workflow_pickup: 1, workflow_cross_channel_returns: 1, workflow_stock_push: 1,
  };
  forgetKeptReads(db);
  await db.insertInto('locations').values(row).execute();
  return toLocation(row);
}

export async function listLocations(db: Queryable, merchantId: string): Promise<Location[]> {
  const rows = await db.selectFrom('locations').selectAll().where('merchant_id', '=', merchantId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toLocation);
}

// Every sale, hold and return reads its location (rollout switches, tax rate): built and compiled once (issue #9).
const locationById = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; locationId: string }>) => db
  .selectFrom('locations').selectAll().where('merchant_id', '=', param('merchantId')).where('id', '=', param('locationId')));

export async function getLocation(db: Queryable, merchantId: string, locationId: string): Promise<Location> {
  const [row] = await locationById.execute(db, { merchantId, locationId });
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
const onlineFulfilmentLocation = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string }>) => db
  .selectFrom('locations').selectAll().where('merchant_id', '=', param('merchantId')).where('fulfils_online', '=', 1).orderBy('created_at').limit(1));

export function findOnlineFulfilmentLocation(db: Queryable, merchantId: string): Promise<Location | undefined> {
  return keptRead(db, `online-location:${merchantId}`, async () => {
    const [row] = await onlineFulfilmentLocation.execute(db, { merchantId });
    return row ? toLocation(row) : undefined;
  });
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
  forgetKeptReads(db);
  await db.updateTable('locations').set({ [column]: externalId }).where('merchant_id', '=', merchantId).where('id', '=', locationId).execute();
  return getLocation(db, merchantId, locationId);
}

/**
 * Turns workflows on or off at a location; the switches not named keep their value. Returns the
 * location before and after, so the caller can audit what changed.
 * Example: `await setLocationWorkflows(tx, merchantId, storeId, { pickup: false })`.
 */
export async function setLocationWorkflows(db: Queryable, merchantId: string, locationId: string, change: Partial<LocationWorkflows>): Promise<{ before: Location; after: Location }> {
  const before = await getLocation(db, merchantId, locationId);
  const values: Partial<Record<(typeof workflowColumns)[keyof LocationWorkflows], number>> = {};
  for (const [name, column] of Object.entries(workflowColumns) as [keyof LocationWorkflows, (typeof workflowColumns)[keyof LocationWorkflows]][]) {
    const wanted = change[name];
    if (wanted !== undefined) values[column] = wanted ? 1 : 0;
  }
  forgetKeptReads(db);
  if (Object.keys(values).length > 0) await db.updateTable('locations').set(values).where('merchant_id', '=', merchantId).where('id', '=', locationId).execute();
  return { before, after: await getLocation(db, merchantId, locationId) };
}
