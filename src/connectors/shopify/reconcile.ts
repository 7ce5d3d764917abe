import { findExternalId } from '../../catalog/index.ts';
import type { Db } from '../../db/index.ts';
import { channelAvailable, getChannelBuffer, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { listChannelAccounts, listLocations } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { enqueueOutbox } from '../../sync/index.ts';
import { shopifyGid } from './client.ts';
import { defaultShopifyClientFactory, type ShopifyClientFactory } from './deliver.ts';

export type StockDriftReason = 'shopify_shows_more' | 'shopify_shows_less' | 'not_stocked_in_shopify';

export interface StockDrift {
  location_id: string;
  sku: string;
  continuum_available: number;
  shopify_available: number | null;
  reason: StockDriftReason;
}

export interface StockReconciliation {
  checked: number;
  drifts: StockDrift[];
  repaired: number;
}

const levelsPerRunMax = 5_000;

/**
 * Reads what Shopify shows as available for every mapped location and variant, compares it with
 * the truth (available less the channel's buffer), and reports each difference with its reason.
 * In repair mode the truth is pushed again through the outbox (from the figure Shopify holds, so
 * the compare-and-swap matches). Reads happen outside any database transaction.
 */
export async function reconcileShopifyStock(db: Db, merchantId: string, options: { repair: boolean; clientFactory?: ShopifyClientFactory }): Promise<StockReconciliation> {
  const account = (await listChannelAccounts(db, merchantId, 'shopify')).find((candidate) => candidate.adminApiUrl && candidate.accessToken);
  if (!account?.adminApiUrl || !account.accessToken) throw new AppError('connectors.shopify.not_configured', 'The shop has no Admin API connection to read stock from', { channel: 'shopify' });
  const client = (options.clientFactory ?? defaultShopifyClientFactory)({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
  const locations = (await listLocations(db, merchantId)).filter((location) => location.shopifyLocationId);
  const variants = await db.selectFrom('variants').select(['id', 'sku']).where('merchant_id', '=', merchantId).orderBy('sku').limit(levelsPerRunMax).execute();
  const report: StockReconciliation = { checked: 0, drifts: [], repaired: 0 };
  for (const location of locations) {
    const buffer = await getChannelBuffer(db, merchantId, 'shopify', location.id);
    for (const variant of variants) {
      if (report.checked >= levelsPerRunMax) return report;
      const inventoryItemId = await findExternalId(db, merchantId, 'inventory_item', variant.id, 'shopify');
      if (!inventoryItemId) continue;
      report.checked += 1;
      const truth = channelAvailable((await getStockLevel(db, merchantId, location.id, variant.id)).available, buffer);
      const shown = await readShown(client, shopifyGid('InventoryItem', inventoryItemId), shopifyGid('Location', location.shopifyLocationId!));
      if (shown === truth) continue;
      report.drifts.push({ location_id: location.id, sku: variant.sku, continuum_available: truth, shopify_available: shown, reason: shown === null ? 'not_stocked_in_shopify' : shown > truth ? 'shopify_shows_more' : 'shopify_shows_less' });
      if (options.repair && shown !== null) {
        await db.transaction().execute(async (tx) => {
          await recordPushedAvailable(tx, merchantId, 'shopify', location.id, variant.id, shown);
          await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: `inventory.push:${location.id}:${variant.id}`, payload: { location_id: location.id, variant_id: variant.id } });
        });
        report.repaired += 1;
      }
    }
  }
  return report;
}

async function readShown(client: ReturnType<ShopifyClientFactory>, inventoryItemId: string, locationId: string): Promise<number | null> {
  try {
    return await client.readAvailable({ inventoryItemId, locationId });
  } catch (error) {
    if (error instanceof AppError && error.code === 'connectors.shopify.not_found') return null;
    throw error;
  }
}
