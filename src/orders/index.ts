/**
 * One order history for every channel: web, Shopify POS, Square and Continuum's own POS API.
 * Example: `await findOrderBySource(db, merchantId, 'shopify', '820982911946154508')`.
 */
export * from './order-service.ts';
export * from './order-payments.ts';
export * from './recent-orders.ts';
