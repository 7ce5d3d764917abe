import { createHash } from 'node:crypto';
import { findExternalId, findVariantBySku, isVariantArchived } from '../../catalog/index.ts';
import { findChannelId, findChannelIds } from '../../customers/index.ts';
import type { Db, Tx } from '../../db/index.ts';
import { channelAvailable, findLastPushedAvailable, getChannelBuffer, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { getLoyaltyBalance, getLoyaltyBalances, getReward, getRewardCodeById, type Reward } from '../../loyalty/index.ts';
import { getLocation, getMerchant, listChannelAccounts, type ChannelAccount } from '../../merchants/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { minorToDecimal } from '../../shared/money.ts';
import type { BatchDeliveryOutcome, BatchingDeliverer, OutboxEvent } from '../../sync/index.ts';
import { syncPromotionDiscount } from './promotion-discounts.ts';
import { createShopifyAdminClient, METAFIELDS_CUSTOMERS_MAX, SET_QUANTITIES_ITEMS_MAX, shopifyGid, type BasicCodeDiscountInput, type CustomerMetafieldsInput, type ShopifyAdminClient } from './client.ts';
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

/**
 * Several coalesced inventory.push messages of one merchant with one inventorySetQuantities call per
 * Shopify location (up to 250 levels each). Shopify charges a mutation 10 points whatever its list's
 * length, so on a standard plan (100 points/s) one call a tenth of a second keeps every item of a
 * busy store current, where a call per item could push ten items a second (found by bench/stock.ts:
 * 50 SKUs selling 1,000 times a second). Each level is read at delivery time, as for one message.
 */
async function pushInventoryMany(db: Db, client: ShopifyAdminClient, events: OutboxEvent[]): Promise<Map<string, BatchDeliveryOutcome>> {
  const outcomes = new Map<string, BatchDeliveryOutcome>();
  const merchantId = events[0]!.merchant_id;
  assert(events.every((event) => event.merchant_id === merchantId && event.kind === 'inventory.push'), 'a batch holds one merchant\'s inventory pushes');
  type Level = { event: OutboxEvent; alsoFor: OutboxEvent[]; locationId: string; variantId: string; inventoryItemId: string; quantity: number; lastKnown: number | null };
  const byShopifyLocation = new Map<string, Level[]>();
  async function readLevels(tx: Tx): Promise<void> {
    const locations = new Map<string, Awaited<ReturnType<typeof getLocation>>>();
    const buffers = new Map<string, number>();
    for (const event of events) {
      try {
        const payload = JSON.parse(event.payload) as { location_id: string; variant_id: string };
        if (await isVariantArchived(tx, merchantId, payload.variant_id)) {
          outcomes.set(event.id, { ok: true, note: 'skipped: the product was deleted in Shopify and is archived here' });
          continue;
        }
        let location = locations.get(payload.location_id);
        if (!location) locations.set(payload.location_id, (location = await getLocation(tx, merchantId, payload.location_id)));
        const inventoryItemId = await findExternalId(tx, merchantId, 'inventory_item', payload.variant_id, 'shopify');
        if (!location.shopifyLocationId || !inventoryItemId) {
          outcomes.set(event.id, { ok: true, note: 'skipped: the location or variant has no Shopify id' });
          continue;
        }
        let buffer = buffers.get(location.id);
        if (buffer === undefined) buffers.set(location.id, (buffer = await getChannelBuffer(tx, merchantId, 'shopify', location.id)));
        const level = await getStockLevel(tx, merchantId, location.id, payload.variant_id);
        const lastKnown = await findLastPushedAvailable(tx, merchantId, 'shopify', location.id, payload.variant_id);
        const levels = byShopifyLocation.get(location.shopifyLocationId) ?? [];
        // Two messages of one level (one claimed before the other was queued) set it once, both delivered by it.
        const same = levels.find((other) => other.locationId === location!.id && other.variantId === payload.variant_id);
        if (same) same.alsoFor.push(event);
        else levels.push({ event, alsoFor: [], locationId: location.id, variantId: payload.variant_id, inventoryItemId, quantity: channelAvailable(level.available, buffer), lastKnown });
        byShopifyLocation.set(location.shopifyLocationId, levels);
      } catch (error) {
        outcomes.set(event.id, { ok: false, error });
      }
    }
  }
  // The figures are read in one transaction: on SQLite the one connection then serves the worker's
  // reads in one turn, where each read alone waited for a whole batch of sales to commit (found by
  // bench/stock.ts: 27 pushes took 3.7 s to read under 1,000 sales/s offered).
  const ownedByShopify = await db.transaction().execute(async (tx) => {
    const merchant = await getMerchant(tx, merchantId);
    if (merchant.settings.sync.ownership.stock === 'shopify') return true;
    await readLevels(tx);
    return false;
  });
  if (ownedByShopify) {
    for (const event of events) outcomes.set(event.id, { ok: true, note: 'skipped: Shopify owns stock (sync.ownership.stock), nothing is pushed back to it' });
    return outcomes;
  }
  for (const [shopifyLocationId, levels] of byShopifyLocation) {
    for (let start = 0; start < levels.length; start += SET_QUANTITIES_ITEMS_MAX) {
      const chunk = levels.slice(start, start + SET_QUANTITIES_ITEMS_MAX);
      try {
        await client.pushAvailableMany({
          items: chunk.map((level) => ({ inventoryItemId: shopifyGid('InventoryItem', level.inventoryItemId), locationId: shopifyGid('Location', shopifyLocationId), quantity: level.quantity, lastKnown: level.lastKnown })),
          // The same for a true retry of the same messages and figures, different otherwise.
          idempotencyKey: idempotencyKeyFor(...chunk.flatMap((level) => [level.event.id, level.quantity, level.lastKnown])),
          referenceDocumentUri: `gid://continuum/StockLevels/${chunk[0]!.locationId}`,
        });
        // One commit for the figures of the whole call.
        await db.transaction().execute(async (tx) => {
          for (const level of chunk) await recordPushedAvailable(tx, merchantId, 'shopify', level.locationId, level.variantId, level.quantity);
        });
        for (const level of chunk) for (const event of [level.event, ...level.alsoFor]) outcomes.set(event.id, { ok: true, note: undefined });
      } catch (error) {
        for (const level of chunk) for (const event of [level.event, ...level.alsoFor]) outcomes.set(event.id, { ok: false, error });
      }
    }
  }
  return outcomes;
}

async function mirrorCustomer(db: Db, client: ShopifyAdminClient, event: OutboxEvent, payload: { customer_id: string }): Promise<string | void> {
  const merchant = await getMerchant(db, event.merchant_id);
  const shopifyCustomerId = await findChannelId(db, merchant.id, payload.customer_id, 'shopify_id');
  if (!shopifyCustomerId) return 'skipped: the customer has no Shopify id';
  const balance = await getLoyaltyBalance(db, merchant.id, payload.customer_id, merchant.settings.loyalty.baseTier);
  await client.setCustomerMetafields([{ customerId: shopifyGid('Customer', shopifyCustomerId), points: balance.available, tier: balance.tier }]);
}

/**
 * Several customer.mirror messages of one merchant with one metafieldsSet call per
 * METAFIELDS_CUSTOMERS_MAX shoppers. A mutation costs 10 points however many metafields it sets,
 * so on a standard plan (100 points/s) a call per shopper mirrors ten shoppers a second: a busy
 * day's earnings would queue behind it. Each balance is read at delivery time, as for one message.
 * Shopify applies a call whole or not at all, so a call refused with a userError (a shopper
 * deleted in Shopify) is sent again one shopper at a time: only the refused shopper's messages fail.
 */
async function mirrorCustomersMany(db: Db, client: ShopifyAdminClient, events: OutboxEvent[]): Promise<Map<string, BatchDeliveryOutcome>> {
  const outcomes = new Map<string, BatchDeliveryOutcome>();
  const merchantId = events[0]!.merchant_id;
  assert(events.every((event) => event.merchant_id === merchantId && event.kind === 'customer.mirror'), 'a batch holds one merchant\'s customer mirrors');
  type Mirror = { events: OutboxEvent[]; input: CustomerMetafieldsInput };
  const eventsByCustomer = new Map<string, OutboxEvent[]>();
  for (const event of events) {
    try {
      const { customer_id: customerId } = JSON.parse(event.payload) as { customer_id: string };
      const same = eventsByCustomer.get(customerId);
      if (same) same.push(event);
      else eventsByCustomer.set(customerId, [event]);
    } catch (error) {
      outcomes.set(event.id, { ok: false, error });
    }
  }
  const byCustomer = new Map<string, Mirror>();
  // Read in one transaction, as the inventory pushes are (one turn of SQLite's one connection), and
  // for every customer of the claim at once: two statements, not two per shopper (a claim holds up
  // to 50 mirrors; bench/orders-end-to-end.ts counts statements per order).
  await db.transaction().execute(async (tx) => {
    const merchant = await getMerchant(tx, merchantId);
    const customerIds = [...eventsByCustomer.keys()];
    const shopifyIds = await findChannelIds(tx, merchantId, customerIds, 'shopify_id');
    const balances = await getLoyaltyBalances(tx, merchantId, customerIds.filter((customerId) => shopifyIds.has(customerId)), merchant.settings.loyalty.baseTier);
    for (const [customerId, customerEvents] of eventsByCustomer) {
      const shopifyCustomerId = shopifyIds.get(customerId);
      const balance = balances.get(customerId);
      if (!shopifyCustomerId || !balance) {
        for (const event of customerEvents) outcomes.set(event.id, { ok: true, note: 'skipped: the customer has no Shopify id' });
        continue;
      }
      byCustomer.set(customerId, { events: customerEvents, input: { customerId: shopifyGid('Customer', shopifyCustomerId), points: balance.available, tier: balance.tier } });
    }
  });
  const settle = (mirrors: Mirror[], outcome: BatchDeliveryOutcome) => {
    for (const mirror of mirrors) for (const event of mirror.events) outcomes.set(event.id, outcome);
  };
  const mirrors = [...byCustomer.values()];
  for (let start = 0; start < mirrors.length; start += METAFIELDS_CUSTOMERS_MAX) {
    const chunk = mirrors.slice(start, start + METAFIELDS_CUSTOMERS_MAX);
    try {
      await client.setCustomerMetafields(chunk.map((mirror) => mirror.input));
      settle(chunk, { ok: true, note: undefined });
    } catch (error) {
      const refusedWhole = error instanceof AppError && error.code === 'connectors.shopify.user_error' && chunk.length > 1;
      if (!refusedWhole) {
        settle(chunk, { ok: false, error });
        continue;
      }
      for (const mirror of chunk) {
        try {
          await client.setCustomerMetafields([mirror.input]);
          settle([mirror], { ok: true, note: undefined });
        } catch (alone) {
          settle([mirror], { ok: false, error: alone });
        }
      }
    }
  }
  return outcomes;
}

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
/** Shopify connections whose batch client is kept (a bound: a process serves few). */
const batchClientsMax = 1_000;

export function createShopifyDeliverer(db: Db, clientFactory: ShopifyClientFactory = defaultShopifyClientFactory): BatchingDeliverer {
  const batchClients = new Map<string, ShopifyAdminClient>();
  const deliverer: BatchingDeliverer = async (event) => {
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
  deliverer.batch = {
    keyOf: (event) => (event.kind === 'inventory.push' || event.kind === 'customer.mirror' ? `${event.kind}:${event.merchant_id}` : null),
    async deliverMany(events) {
      const merchantId = events[0]!.merchant_id;
      const [account] = await listChannelAccounts(db, merchantId, 'shopify');
      // Without a connected Admin API each message is closed with its own note, as alone.
      if (!account || !account.adminApiUrl || !account.accessToken || account.state === 'disconnected') {
        const outcomes = new Map<string, BatchDeliveryOutcome>();
        for (const event of events) {
          try {
            outcomes.set(event.id, { ok: true, note: await deliverer(event) });
          } catch (error) {
            outcomes.set(event.id, { ok: false, error });
          }
        }
        return outcomes;
      }
      // The client is kept per connection: it paces each call by the bucket Shopify last reported,
      // where a new one would learn it only from a THROTTLED answer (and wait at least a second).
      const clientKey = `${account.merchantId}|${account.adminApiUrl}|${account.accessToken}`;
      let client = batchClients.get(clientKey);
      if (!client) {
        if (batchClients.size >= batchClientsMax) batchClients.clear();
        batchClients.set(clientKey, (client = clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken })));
      }
      return events[0]!.kind === 'customer.mirror' ? mirrorCustomersMany(db, client, events) : pushInventoryMany(db, client, events);
    },
  };
  return deliverer;
}
