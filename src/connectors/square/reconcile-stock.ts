import { findExternalId, listLiveVariants } from '../../catalog/index.ts';
import type { Db } from '../../db/index.ts';
import { channelAvailable, getChannelBuffer, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { listChannelAccounts, listLocations, type Location } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { nowIso } from '../../shared/clock.ts';
import { enqueueOutbox } from '../../sync/index.ts';
import type { SquareClient } from './client.ts';
import { defaultSquareClientFactory, type SquareClientFactory } from './inbound.ts';

// Square's side of the stock reconciliation (Shopify's: ../shopify/reconcile.ts). Continuum owns
// the stock (`sync.ownership.stock` names no other owner for Square); what Square shows as IN_STOCK at each
// mapped location is read with BatchRetrieveInventoryCounts
// (https://developer.squareup.com/reference/square/inventory-api/batch-retrieve-inventory-counts)
// and compared with the truth less the Square buffer, as the push computes it (push-stock.ts).

export type SquareStockDriftReason = 'square_shows_more' | 'square_shows_less' | 'not_counted_in_square';

export interface SquareStockDrift {
  location_id: string;
  sku: string;
  continuum_available: number;
  square_available: number | null;
  reason: SquareStockDriftReason;
}

export interface SquareStockReconciliation {
  checked: number;
  drifts: SquareStockDrift[];
  repaired: number;
}

const levelsPerRunMax = 5_000;
/** Items asked about per BatchRetrieveInventoryCounts at one location: one page of counts (the client reads 100 a page). */
const itemsPerCountRead = 100;

interface MappedVariant {
  variantId: string;
  sku: string;
  catalogObjectId: string;
}

/** The merchant's Square API client; refused by name when Square is not connected for the API. */
async function openSquareClient(db: Db, merchantId: string, clientFactory: SquareClientFactory): Promise<SquareClient> {
  const [account] = await listChannelAccounts(db, merchantId, 'square');
  if (!account) throw new AppError('channels.not_found', 'No Square account is connected', { channel: 'square' });
  if (!account.adminApiUrl || !account.accessToken) {
    throw new AppError('connectors.square.not_configured', 'The Square account is connected for notifications only: give it an API URL and access token to compare its stock', { channel: 'square' });
  }
  return clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
}

/** Variants sold in Square (a catalog object id), of products not archived, by SKU. */
async function listSquareVariants(db: Db, merchantId: string): Promise<MappedVariant[]> {
  const variants = await listLiveVariants(db, merchantId, levelsPerRunMax);
  const mapped: MappedVariant[] = [];
  for (const variant of variants) {
    const catalogObjectId = await findExternalId(db, merchantId, 'variant', variant.id, 'square');
    if (catalogObjectId) mapped.push({ variantId: variant.id, sku: variant.sku, catalogObjectId });
  }
  return mapped;
}

/** What Square shows IN_STOCK at one of its locations, by catalog object id; an item without a count there is absent. */
async function readSquareCounts(client: SquareClient, squareLocationId: string, variants: MappedVariant[]): Promise<Map<string, number>> {
  const shown = new Map<string, number>();
  for (let start = 0; start < variants.length; start += itemsPerCountRead) {
    const catalogObjectIds = variants.slice(start, start + itemsPerCountRead).map((variant) => variant.catalogObjectId);
    for (const count of await client.retrieveInventoryCounts({ catalogObjectIds, locationIds: [squareLocationId] })) {
      if (count.state === 'IN_STOCK' && count.location_id === squareLocationId) shown.set(count.catalog_object_id, Number(count.quantity));
    }
  }
  return shown;
}

/**
 * Compares what Square shows as available at every location mapped to Square (and pushing stock)
 * with the truth, and reports each difference with its reason. In repair mode the truth is pushed
 * again through the outbox, also where Square holds no count yet (a physical count makes one).
 * Square is read outside any database transaction.
 * Example: `await reconcileSquareStock(db, merchantId, { repair: false })` → `{ checked, drifts, repaired }`.
 */
export async function reconcileSquareStock(db: Db, merchantId: string, options: { repair: boolean; clientFactory?: SquareClientFactory }): Promise<SquareStockReconciliation> {
  const client = await openSquareClient(db, merchantId, options.clientFactory ?? defaultSquareClientFactory);
  const locations = (await listLocations(db, merchantId)).filter((location) => location.squareLocationId && location.workflows.stockPush);
  const variants = await listSquareVariants(db, merchantId);
  const report: SquareStockReconciliation = { checked: 0, drifts: [], repaired: 0 };
  for (const location of locations) {
    const shown = await readSquareCounts(client, location.squareLocationId!, variants);
    const buffer = await getChannelBuffer(db, merchantId, 'square', location.id);
    for (const variant of variants) {
      if (report.checked >= levelsPerRunMax) return report;
      report.checked += 1;
      const truth = channelAvailable((await getStockLevel(db, merchantId, location.id, variant.variantId)).available, buffer);
      const squareAvailable = shown.get(variant.catalogObjectId) ?? null;
      if (squareAvailable === truth) continue;
      report.drifts.push({ location_id: location.id, sku: variant.sku, continuum_available: truth, square_available: squareAvailable, reason: squareAvailable === null ? 'not_counted_in_square' : squareAvailable > truth ? 'square_shows_more' : 'square_shows_less' });
      if (options.repair) {
        await pushAgain(db, merchantId, location, variant.variantId, squareAvailable);
        report.repaired += 1;
      }
    }
  }
  return report;
}

/**
 * Queues the truth for Square, stated as of now (push-stock.ts, `as_of`): Square applies counts by
 * their time, and the one it holds may be newer than our last change. What Square shows is
 * remembered first, so the push is not skipped as already told. Its own coalescing key: a pending
 * ordinary push of the place would absorb it and lose `as_of`.
 */
async function pushAgain(db: Db, merchantId: string, location: Location, variantId: string, squareAvailable: number | null): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await recordPushedAvailable(tx, merchantId, 'square', location.id, variantId, squareAvailable);
    await enqueueOutbox(tx, merchantId, {
      destination: 'square', kind: 'inventory.push', coalesceKey: `inventory.push:square:restate:${location.id}:${variantId}`,
      payload: { location_id: location.id, variant_id: variantId, as_of: nowIso() },
    });
  });
}
