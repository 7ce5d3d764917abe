import { createHash } from 'node:crypto';
import { findExternalId, findVariantBySku, isVariantArchived } from '../../catalog/index.ts';
import { findChannelId } from '../../customers/index.ts';
import type { Db } from '../../db/index.ts';
import { channelAvailable, findLastPushedAvailable, getChannelBuffer, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { getLoyaltyBalance, getReward, getRewardCodeById, type Reward } from '../../loyalty/index.ts';
import { getLocation, getMerchant, listChannelAccounts, type ChannelAccount } from '../../merchants/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { minorToDecimal } from '../../shared/money.ts';
import type { OutboxDeliverer, OutboxEvent } from '../../sync/index.ts';
import { syncPromotionDiscount } from './promotion-discounts.ts';
import { createShopifyAdminClient, shopifyGid, type BasicCodeDiscountInput, type ShopifyAdminClient } from './client.ts';
import { pushShopifyRefund } from './push-refund.ts';

export type ShopifyClientFactory = (account: ChannelAccount & { adminApiUrl: string; accessToken: string }) => ShopifyAdminClient;

export const defaultShopifyClientFactory: ShopifyClientFactory = (account) => createShopifyAdminClient({ adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });

/** A UUID-shaped key that is the same for a true retry of the same write and differs otherwise. */
function idempotencyKeyFor(...parts: (string | number | null)[]): string {
  const hex = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

async function pushInventory(db: Db, client: ShopifyAdminClient, event: OutboxEvent, payload: { location_id: string; variant_id: string }): Promise<string | void> {
  const merchantId = event.merchant_id;
  const merchant = await getMerchant(db, merchantId);
  if (merchant.settings.sync.ownership.stock === 'shopify') return 'skipped: Shopify owns stock (sync.ownership.stock), nothing is pushed back to it';
  if (await isVariantArchived(db, merchantId, payload.variant_id)) return 'skipped: the product was deleted in Shopify and is archived here';
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

/** What a reward's code takes off in Shopify: an amount or a fraction, on every item or on the free product's variant. */
async function discountValueOf(db: Db, merchantId: string, currency: string, reward: Reward): Promise<Pick<BasicCodeDiscountInput, 'value' | 'variantIds'>> {
  switch (reward.kind) {
    case 'amount_off':
      assert(reward.amountOffMinor !== null, 'an amount-off reward has its amount');
      return { value: { amount: minorToDecimal(reward.amountOffMinor, currency) }, variantIds: [] };
    case 'percent_off':
      assert(reward.percentOffBps !== null, 'a percent-off reward has its basis points');
      return { value: { percentage: reward.percentOffBps / 10_000 }, variantIds: [] };
    case 'free_product': {
      // One unit free: the unit price off, split over the entitled variant's items (appliesOnEachItem false).
      const variant = reward.freeSku === null ? undefined : await findVariantBySku(db, merchantId, reward.freeSku);
      const shopifyVariantId = variant ? await findExternalId(db, merchantId, 'variant', variant.id, 'shopify') : undefined;
      if (!variant || !shopifyVariantId) throw new AppError('connectors.shopify.unmapped_variant', `Reward ${reward.code} gives ${reward.freeSku}, which has no Shopify variant`, { reward: reward.code, sku: reward.freeSku });
      return { value: { amount: minorToDecimal(variant.priceMinor, currency) }, variantIds: [shopifyGid('ProductVariant', shopifyVariantId)] };
    }
    case 'free_shipping':
      throw new Error('Assertion failed: free shipping is created as a free-shipping code discount');
  }
}

/**
 * Creates the single-use discount for an issued reward code. A code used or cancelled before this
 * message went out is not created; a code Shopify already holds (an earlier attempt whose answer
 * was lost) is not created twice.
 */
async function createRewardDiscount(db: Db, client: ShopifyAdminClient, event: OutboxEvent, payload: { reward_code_id: string }): Promise<string | void> {
  const merchant = await getMerchant(db, event.merchant_id);
  const rewardCode = await getRewardCodeById(db, merchant.id, payload.reward_code_id);
  if (rewardCode.state !== 'issued') return `skipped: the code is ${rewardCode.state} already`;
  const existingId = await client.findCodeDiscountId(rewardCode.code);
  if (existingId) return `skipped: Shopify already holds the code as ${existingId}`;
  const reward = await getReward(db, merchant.id, rewardCode.rewardId);
  const shopifyCustomerId = await findChannelId(db, merchant.id, rewardCode.customerId, 'shopify_id');
  const common = { title: `${reward.name} (${rewardCode.code})`, code: rewardCode.code, startsAt: rewardCode.createdAt, customerId: shopifyCustomerId ? shopifyGid('Customer', shopifyCustomerId) : null };
  if (reward.kind === 'free_shipping') await client.createFreeShippingCodeDiscount(common);
  else await client.createBasicCodeDiscount({ ...common, ...(await discountValueOf(db, merchant.id, merchant.currency, reward)) });
}

/** Deactivates the discount of a code cancelled or used at a register; a code that never reached Shopify has nothing to stop. */
async function deactivateRewardDiscount(db: Db, client: ShopifyAdminClient, event: OutboxEvent, payload: { reward_code_id: string }): Promise<string | void> {
  const rewardCode = await getRewardCodeById(db, event.merchant_id, payload.reward_code_id);
  const discountId = await client.findCodeDiscountId(rewardCode.code);
  if (!discountId) return 'skipped: Shopify holds no discount with this code';
  await client.deactivateCodeDiscount(discountId);
}

/**
 * Delivers outbox messages to the merchant's Shopify store through the Admin GraphQL API. A store
 * connected for webhooks only (no Admin API URL or token) has nothing to push to: the message is
 * closed with a note saying so rather than retried forever.
 */
export function createShopifyDeliverer(db: Db, clientFactory: ShopifyClientFactory = defaultShopifyClientFactory): OutboxDeliverer {
  return async (event) => {
    const [account] = await listChannelAccounts(db, event.merchant_id, 'shopify');
    if (!account) return 'skipped: no Shopify store connected';
    if (!account.adminApiUrl || !account.accessToken) return 'skipped: the Shopify store has no Admin API connection';
    if (account.state === 'disconnected') return `skipped: ${account.accountRef} uninstalled the app at ${account.disconnectedAt ?? 'an unknown time'}; nothing is sent until it is connected again`;
    const client = clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
    const payload = JSON.parse(event.payload) as Record<string, string>;
    switch (event.kind) {
      case 'inventory.push':
        return pushInventory(db, client, event, payload as { location_id: string; variant_id: string });
      case 'customer.mirror':
        return mirrorCustomer(db, client, event, payload as { customer_id: string });
      case 'discount.create':
        return createRewardDiscount(db, client, event, payload as { reward_code_id: string });
      case 'discount.deactivate':
        return deactivateRewardDiscount(db, client, event, payload as { reward_code_id: string });
      case 'promotion.push':
      case 'promotion.deactivate':
        return syncPromotionDiscount(db, client, event.merchant_id, (payload as { promotion_id: string }).promotion_id);
      case 'refund.create':
        return pushShopifyRefund(db, client, event);
      default:
        throw new AppError('connectors.shopify.unknown_message', `No Shopify delivery for ${event.kind}`, { kind: event.kind });
    }
  };
}
