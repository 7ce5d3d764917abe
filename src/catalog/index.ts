/**
 * Products, variants (one per SKU) and the channels' ids for them.
 * Example: `await findVariantForChannelLine(db, merchantId, 'shopify', { externalVariantId: '642667041472713922', sku: 'SKU2006-001' })`.
 */
export * from './catalog-service.ts';
