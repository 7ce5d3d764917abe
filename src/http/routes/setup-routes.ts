import { z } from 'zod';
import { createProduct, listProducts } from '../../catalog/index.ts';
import { defineReward } from '../../commands/index.ts';
import { listRewards, percentOffBpsMax, rewardAmountOffMinorMax, rewardPointsCostMax, rewardUsesMax } from '../../loyalty/index.ts';
import { connectChannel, createLocation, listChannelAccounts, listLocations } from '../../merchants/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const name = z.string().trim().min(1).max(200);
const channelId = z.string().trim().min(1).max(100);

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

/** What a merchant's engineers set up: locations, products, promotions, rewards, channels. */
export function registerSetupRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;

  app.get('/v1/locations', { config: { scope: 'read' }, schema: { summary: 'Stores and warehouses', tags: ['setup'] } },
    async (request) => ({ data: await listLocations(db, merchantOf(request).id) }));
  app.post('/v1/locations', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Add a store or warehouse, mapped to its Shopify and Square location ids', tags: ['setup'],
      body: z.object({ name, kind: z.enum(['store', 'warehouse']), shopify_location_id: channelId.optional(), square_location_id: channelId.optional(), fulfils_online: z.boolean().default(false), tax_rate_bps: z.number().int().min(0).max(10_000).default(0) }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const location = await createLocation(db, merchantOf(request).id, { name: body.name, kind: body.kind, shopifyLocationId: body.shopify_location_id ?? null, squareLocationId: body.square_location_id ?? null, fulfilsOnline: body.fulfils_online, taxRateBps: body.tax_rate_bps });
    return reply.code(201).send({ data: location });
  });

  app.get('/v1/products', { config: { scope: 'read' }, schema: { summary: 'Products and their variants', tags: ['setup'] } },
    async (request) => ({ data: await listProducts(db, merchantOf(request).id) }));
  app.post('/v1/products', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Add a product with its variants (one SKU each) and their channel ids', tags: ['setup'],
      body: z.object({
        title: name,
        shopify_product_id: channelId.optional(),
        variants: z.array(z.object({ sku: name, title: name, price_minor: z.number().int().min(0).max(100_000_000), final_sale: z.boolean().default(false).describe('Sold without returns: the return policy refuses it unless a manager overrides'), shopify_variant_id: channelId.optional(), shopify_inventory_item_id: channelId.optional(), square_catalog_object_id: channelId.optional() })).min(1).max(100),
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
