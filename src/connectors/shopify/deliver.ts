import { createHash } from 'node:crypto';
import { findExternalId } from '../../catalog/index.ts';
import { findChannelId } from '../../customers/index.ts';
import type { Db } from '../../db/index.ts';
import { channelAvailable, findLastPushedAvailable, getChannelBuffer, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { getLoyaltyBalance } from '../../loyalty/index.ts';
import { getLocation, getMerchant, listChannelAccounts, type ChannelAccount } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { OutboxDeliverer, OutboxEvent } from '../../sync/index.ts';
import { createShopifyAdminClient, shopifyGid, type ShopifyAdminClient } from './client.ts';

export type ShopifyClientFactory = (account: ChannelAccount & { adminApiUrl: string; accessToken: string }) => ShopifyAdminClient;

const defaultClientFactory: ShopifyClientFactory = (account) => createShopifyAdminClient({ adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });

/** A UUID-shaped key that is the same for a true retry of the same write and differs otherwise. */
function idempotencyKeyFor(...parts: (string | number | null)[]): string {
  const hex = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

async function pushInventory(db: Db, client: ShopifyAdminClient, event: OutboxEvent, payload: { location_id: string; variant_id: string }): Promise<string | void> {
  const merchantId = event.merchant_id;
  const location = await getLocation(db, merchantId, payload.location_id);
  const inventoryItemId = await findExternalId(db, merchantId, 'inventory_item', payload.variant_id, 'shopify');
  if (!location.shopifyLocationId || !inventoryItemId) return 'skipped: the location or variant has no Shopify id';
  // Read at delivery time, so a burst of changes coalesced into this message sends the latest figure.
  const level = await getStockLevel(db, merchantId, location.id, payload.variant_id);
  const quantity = channelAvailable(level.available, await getChannelBuffer(db, merchantId, 'shopify', location.id));
  const lastKnown = await findLastPushedAvailable(db, merchantId, 'shopify', location.id, payload.variant_id);
  await client.pushAvailable({
    inventoryItemId: shopifyGid('InventoryItem', inventoryItemId),
    locationId: shopifyGid('Location', location.shopifyLocationId),
    quantity,
    lastKnown,
    idempotencyKey: idempotencyKeyFor(event.id, quantity, lastKnown),
    referenceDocumentUri: `gid://continuum/StockLevel/${location.id}-${payload.variant_id}`,
  });
  await recordPushedAvailable(db, merchantId, 'shopify', location.id, payload.variant_id, quantity);
}

async function mirrorCustomer(db: Db, client: ShopifyAdminClient, event: OutboxEvent, payload: { customer_id: string }): Promise<string | void> {
  const merchant = await getMerchant(db, event.merchant_id);
  const shopifyCustomerId = await findChannelId(db, merchant.id, payload.customer_id, 'shopify_id');
  if (!shopifyCustomerId) return 'skipped: the customer has no Shopify id';
  const balance = await getLoyaltyBalance(db, merchant.id, payload.customer_id, merchant.settings.loyalty.baseTier);
  await client.setCustomerMetafields({ customerId: shopifyGid('Customer', shopifyCustomerId), points: balance.available, tier: balance.tier });
}

/**
 * Delivers outbox messages to the merchant's Shopify store through the Admin GraphQL API. A store
 * connected for webhooks only (no Admin API URL or token) has nothing to push to: the message is
 * closed with a note saying so rather than retried forever.
 */
export function createShopifyDeliverer(db: Db, clientFactory: ShopifyClientFactory = defaultClientFactory): OutboxDeliverer {
  return async (event) => {
    const [account] = await listChannelAccounts(db, event.merchant_id, 'shopify');
    if (!account) return 'skipped: no Shopify store connected';
    if (!account.adminApiUrl || !account.accessToken) return 'skipped: the Shopify store has no Admin API connection';
    const client = clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
    const payload = JSON.parse(event.payload) as Record<string, string>;
    switch (event.kind) {
      case 'inventory.push':
        return pushInventory(db, client, event, payload as { location_id: string; variant_id: string });
      case 'customer.mirror':
        return mirrorCustomer(db, client, event, payload as { customer_id: string });
      default:
        throw new AppError('connectors.shopify.unknown_message', `No Shopify delivery for ${event.kind}`, { kind: event.kind });
    }
  };
}
