import { findExternalId, listLiveVariants } from '../../catalog/index.ts';
import type { Db } from '../../db/index.ts';
import { channelAvailable, getChannelBuffer, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { listLocations } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { enqueueOutbox } from '../../sync/index.ts';
import { shopifyGid } from './client.ts';
import { openShopifyAdminClient } from './connected-client.ts';
import type { ShopifyClientFactory } from './deliver.ts';
import { reconcileShopifyCustomers, type CustomerReconciliation } from './reconcile-customers.ts';
import { reconcileShopifyOrders, type OrderReconciliation } from './reconcile-orders.ts';
import { reconcileShopifyWebhooks, type WebhookReconciliation } from './reconcile-webhooks.ts';

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
  const client = await openShopifyAdminClient(db, merchantId, options.clientFactory);
  // A location whose stock_push workflow is off keeps its stock to itself: Shopify's figure there is not ours to correct.
  const locations = (await listLocations(db, merchantId)).filter((location) => location.shopifyLocationId && location.workflows.stockPush);
  // Variants of products deleted in Shopify (archived) are not pushed, so they are not compared either.
  const variants = await listLiveVariants(db, merchantId, levelsPerRunMax);
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

export const reconcileScopes = ['stock', 'customers', 'orders', 'webhooks'] as const;
export type ReconcileScope = (typeof reconcileScopes)[number];

export interface ShopifyReconciliation {
  stock?: StockReconciliation;
  customers?: CustomerReconciliation;
  orders?: OrderReconciliation;
  webhooks?: WebhookReconciliation;
}

export interface ShopifyReconcileOptions {
  scopes: readonly ReconcileScope[];
  repair: boolean;
  /** The engine's public URL (PUBLIC_URL); the webhooks scope needs it. */
  publicUrl: string | null;
  /** How many days of orders to compare (default ORDER_RECONCILE_DAYS_DEFAULT). */
  orderDays?: number;
  clientFactory?: ShopifyClientFactory;
}

/**
 * Reconciles the merchant's Shopify store with Continuum, scope by scope: stock per location,
 * customers (mirrored points and tier, links), recent orders (missed webhooks), and webhook
 * subscriptions. Each scope reports every drift with its reason; `repair` puts our truth back.
 * Example: `await reconcileShopify(db, merchantId, { scopes: ['orders', 'webhooks'], repair: true, publicUrl })`.
 */
export async function reconcileShopify(db: Db, merchantId: string, options: ShopifyReconcileOptions): Promise<ShopifyReconciliation> {
  const report: ShopifyReconciliation = {};
  if (options.scopes.includes('webhooks') && !options.publicUrl) {
    throw new AppError('connectors.shopify.not_configured', 'Set PUBLIC_URL, the address Shopify reaches the engine at, to reconcile webhook subscriptions', { setting: 'PUBLIC_URL' });
  }
  if (options.scopes.includes('stock')) report.stock = await reconcileShopifyStock(db, merchantId, { repair: options.repair, ...(options.clientFactory ? { clientFactory: options.clientFactory } : {}) });
  const others = options.scopes.filter((scope) => scope !== 'stock');
  if (others.length === 0) return report;
  const client = await openShopifyAdminClient(db, merchantId, options.clientFactory);
  if (others.includes('customers')) report.customers = await reconcileShopifyCustomers(db, merchantId, client, { repair: options.repair });
  if (others.includes('orders')) report.orders = await reconcileShopifyOrders(db, merchantId, client, { repair: options.repair, ...(options.orderDays !== undefined ? { days: options.orderDays } : {}) });
  if (others.includes('webhooks')) report.webhooks = await reconcileShopifyWebhooks(client, { repair: options.repair, publicUrl: options.publicUrl! });
  return report;
}

/** Days of orders the scheduled run compares: a missed webhook is found within the day. */
const scheduledOrderDays = 2;
/** Merchants one scheduled run visits. */
const scheduledMerchantsMax = 1_000;

/**
 * The scheduled reconciliation (engine.ts): for every merchant with a connected shop, re-creates
 * missing webhook subscriptions (when PUBLIC_URL is set) and records the orders of the last two days
 * whose webhooks were missed. Stock and customers are compared on request only (`continuum
 * reconcile`), since they read every level and customer. A merchant whose shop fails is logged by
 * the caller and does not stop the others. Returns how many repairs were made.
 */
export async function runScheduledShopifyReconciliation(db: Db, options: { publicUrl: string | null; clientFactory?: ShopifyClientFactory; onError?: (merchantId: string, error: unknown) => void }): Promise<number> {
  const accounts = await db.selectFrom('channel_accounts').select('merchant_id').distinct().where('channel', '=', 'shopify').where('state', '=', 'connected').where('admin_api_url', 'is not', null).where('access_token', 'is not', null).limit(scheduledMerchantsMax).execute();
  let repaired = 0;
  for (const { merchant_id: merchantId } of accounts) {
    const scopes: ReconcileScope[] = options.publicUrl ? ['orders', 'webhooks'] : ['orders'];
    try {
      const report = await reconcileShopify(db, merchantId, { scopes, repair: true, publicUrl: options.publicUrl, orderDays: scheduledOrderDays, ...(options.clientFactory ? { clientFactory: options.clientFactory } : {}) });
      repaired += (report.orders?.repaired ?? 0) + (report.webhooks?.repaired ?? 0);
    } catch (error) {
      options.onError?.(merchantId, error);
    }
  }
  return repaired;
}
