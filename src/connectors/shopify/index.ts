/** The Shopify connector: webhooks in (verify, store, translate, apply), Admin API out. */
export * from './webhook.ts';
export * from './inbound.ts';
export * from './deliver.ts';
export { createShopifyAdminClient, shopifyGid, type ShopifyAdminClient } from './client.ts';
export * from './reconcile.ts';
export * from './reconcile-customers.ts';
export * from './reconcile-orders.ts';
export * from './reconcile-webhooks.ts';
export * from './backfill.ts';
export { openShopifyAdminClient } from './connected-client.ts';
