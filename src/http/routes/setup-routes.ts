import { z } from 'zod';
import { createProduct, listProducts } from '../../catalog/index.ts';
import { changeLocationWorkflows, defineReward } from '../../commands/index.ts';
import { listRewards, percentOffBpsMax, rewardAmountOffMinorMax, rewardPointsCostMax, rewardUsesMax } from '../../loyalty/index.ts';
import { connectChannel, createLocation, listChannelAccounts, listLocations, type Location } from '../../merchants/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const name = z.string().trim().min(1).max(200);
const channelId = z.string().trim().min(1).max(100);
// Shopify's ids are numbers (the webhooks carry them so); any other text stored here would only
// fail later, in the backfill or a push (found by test/faults/hostile-input.test.ts, issue #9).
const shopifyId = z.string().trim().regex(/^\d{1,20}$/, 'a numeric Shopify id');

// The value field each reward kind needs; the others' must be absent.
const rewardValueFields = { amount_off: 'amount_off_minor', percent_off: 'percent_off_bps', free_product: 'free_sku', free_shipping: null } as const;
const rewardBody = z.object({
  code: z.string().trim().min(2).max(50),
  name,
  points_cost: z.number().int().min(1).max(rewardPointsCostMax),
  kind: z.enum(['amount_off', 'percent_off', 'free_product', 'free_shipping']).default('amount_off'),
  amount_off_minor: z.number().int().min(1).max(rewardAmountOffMinorMax).optional().describe('amount_off: minor units taken off'),
  percent_off_bps: z.number().int().min(1).max(percentOffBpsMax).optional().describe('percent_off: basis points of the merchandise left after promotions (1000 = 10 %)'),
  free_sku: z.string().trim().min(1).max(200).optional().describe('free_product: the SKU of which one unit is free'),
  per_customer_max: z.number().int().min(1).max(rewardUsesMax).optional().describe('How many times one customer may redeem it, across channels'),
  total_max: z.number().int().min(1).max(rewardUsesMax).optional().describe('How many times it may be redeemed in all'),
}).superRefine((body, context) => {
  for (const field of ['amount_off_minor', 'percent_off_bps', 'free_sku'] as const) {
    const needed = rewardValueFields[body.kind] === field;
    if (needed && body[field] === undefined) context.addIssue({ code: 'custom', path: [field], message: `a ${body.kind} reward needs ${field}` });
    if (!needed && body[field] !== undefined) context.addIssue({ code: 'custom', path: [field], message: `a ${body.kind} reward takes no ${field}` });
  }
});

/** A location as the API shows it; its workflow switches under their API names (docs/console-api.md). */
function locationView(location: Location) {
  const { workflows, ...rest } = location;
  return { ...rest, workflows: { loyalty_in_store: workflows.loyaltyInStore, pickup: workflows.pickup, cross_channel_returns: workflows.crossChannelReturns, stock_push: workflows.stockPush } };
}

const workflowSwitch = z.boolean();

/** What a merchant's engineers set up: locations, products, promotions, rewards, channels. */
export function registerSetupRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;

  app.get('/v1/locations', { config: { scope: 'read' }, schema: { summary: 'Stores and warehouses, with the workflows rolled out at each', tags: ['setup'] } },
    async (request) => ({ data: (await listLocations(db, merchantOf(request).id)).map(locationView) }));
  app.post('/v1/locations', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Add a store or warehouse, mapped to its Shopify and Square location ids', tags: ['setup'],
      body: z.object({ name, kind: z.enum(['store', 'warehouse']), shopify_location_id: shopifyId.optional(), square_location_id: channelId.optional(), fulfils_online: z.boolean().default(false), tax_rate_bps: z.number().int().min(0).max(10_000).default(0) }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const location = await createLocation(db, merchantOf(request).id, { name: body.name, kind: body.kind, shopifyLocationId: body.shopify_location_id ?? null, squareLocationId: body.square_location_id ?? null, fulfilsOnline: body.fulfils_online, taxRateBps: body.tax_rate_bps });
    return reply.code(201).send({ data: locationView(location) });
  });

  app.patch('/v1/locations/:id/workflows', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Roll workflows out (or back) at one location: loyalty in store, pickup, cross-channel returns, stock pushed to the channels; the switches not sent keep their value; audited',
      tags: ['setup'], params: z.object({ id: z.string().trim().min(1).max(200) }),
      body: z.strictObject({
        loyalty_in_store: workflowSwitch.optional().describe('off: store sales here earn no points and take no rewards (422 loyalty.not_enabled_at_location)'),
        pickup: workflowSwitch.optional().describe('off: no pickup orders here (422 pickups.not_enabled_at_location)'),
        cross_channel_returns: workflowSwitch.optional().describe("off: returns here only of this store's own sales (422 returns.not_enabled_at_location)"),
        stock_push: workflowSwitch.optional().describe('off: stock here is kept but not pushed to the channels; on again pushes every level'),
      }).refine((body) => Object.keys(body).length > 0, { message: 'name at least one workflow: loyalty_in_store, pickup, cross_channel_returns or stock_push', path: ['loyalty_in_store'] }),
    },
  }, async (request) => {
    const body = request.body;
    const location = await db.transaction().execute((tx) => changeLocationWorkflows(tx, merchantOf(request).id, request.params.id, {
      ...(body.loyalty_in_store !== undefined ? { loyaltyInStore: body.loyalty_in_store } : {}), ...(body.pickup !== undefined ? { pickup: body.pickup } : {}),
      ...(body.cross_channel_returns !== undefined ? { crossChannelReturns: body.cross_channel_returns } : {}), ...(body.stock_push !== undefined ? { stockPush: body.stock_push } : {}),
    }, `api:${request.principal?.keyId ?? 'unknown'}`));
    worker.wake();
    return { data: locationView(location) };
  });

  app.get('/v1/products', { config: { scope: 'read' }, schema: { summary: 'Products and their variants', tags: ['setup'] } },
    async (request) => ({ data: await listProducts(db, merchantOf(request).id) }));
  app.post('/v1/products', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Add a product with its variants (one SKU each) and their channel ids', tags: ['setup'],
      body: z.object({
        title: name,
        shopify_product_id: shopifyId.optional(),
        variants: z.array(z.object({ sku: name, title: name, price_minor: z.number().int().min(0).max(100_000_000), final_sale: z.boolean().default(false).describe('Sold without returns: the return policy refuses it unless a manager overrides'), shopify_variant_id: shopifyId.optional(), shopify_inventory_item_id: shopifyId.optional(), square_catalog_object_id: channelId.optional() })).min(1).max(100),
      }),
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const product = await db.transaction().execute((tx) => createProduct(tx, merchant.id, merchant.currency, {
      title: body.title, shopifyProductId: body.shopify_product_id ?? null,
      variants: body.variants.map((variant) => ({ sku: variant.sku, title: variant.title, priceMinor: variant.price_minor, finalSale: variant.final_sale, shopifyVariantId: variant.shopify_variant_id ?? null, shopifyInventoryItemId: variant.shopify_inventory_item_id ?? null, squareCatalogObjectId: variant.square_catalog_object_id ?? null })),
    }));
    return reply.code(201).send({ data: product });
  });

  // Promotions are in promotion-routes.ts.

  app.get('/v1/rewards', { config: { scope: 'read' }, schema: { summary: 'The rewards catalogue', tags: ['loyalty'] } },
    async (request) => ({ data: await listRewards(db, merchantOf(request).id) }));
  app.post('/v1/rewards', {
    config: { scope: 'admin' },
    schema: { summary: 'Add a reward for a points price: an amount off, a percent off, a free product or free shipping, with optional limits', tags: ['loyalty'], body: rewardBody },
  }, async (request, reply) => {
    const body = request.body;
    const reward = await defineReward(db, merchantOf(request).id, {
      code: body.code, name: body.name, pointsCost: body.points_cost, kind: body.kind, amountOffMinor: body.amount_off_minor ?? null, percentOffBps: body.percent_off_bps ?? null,
      freeSku: body.free_sku ?? null, perCustomerMax: body.per_customer_max ?? null, totalMax: body.total_max ?? null,
    });
    return reply.code(201).send({ data: reward });
  });

  app.get('/v1/channels', { config: { scope: 'admin' }, schema: { summary: 'Connected channels (secrets never shown)', tags: ['setup'] } }, async (request) => ({
    data: (await listChannelAccounts(db, merchantOf(request).id)).map((account) => ({ id: account.id, channel: account.channel, account_ref: account.accountRef, admin_api_url: account.adminApiUrl, notification_url: account.notificationUrl, has_access_token: account.accessToken !== null, state: account.state, disconnected_at: account.disconnectedAt })),
  }));
  app.post('/v1/channels', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Connect a Shopify shop or Square seller', tags: ['setup'],
      body: z.object({ channel: z.enum(['shopify', 'square']), account_ref: z.string().trim().min(3).max(200).describe('The myshopify domain, or the Square merchant id'), webhook_secret: z.string().min(8).max(500), admin_api_url: z.url().optional(), access_token: z.string().min(1).max(500).optional(), notification_url: z.url().optional() })
        .refine((body) => body.channel !== 'square' || body.notification_url, { message: 'Square signs the notification URL: give notification_url', path: ['notification_url'] }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const account = await connectChannel(db, merchantOf(request).id, { channel: body.channel, accountRef: body.channel === 'shopify' ? body.account_ref.toLowerCase() : body.account_ref, webhookSecret: body.webhook_secret, adminApiUrl: body.admin_api_url ?? null, accessToken: body.access_token ?? null, notificationUrl: body.notification_url ?? null });
    return reply.code(201).send({ data: { id: account.id, channel: account.channel, account_ref: account.accountRef } });
  });
}
