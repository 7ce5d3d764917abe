import { listChannelAccounts, type Location } from '../merchants/index.ts';
import type { Tx } from '../db/index.ts';
import { enqueueOutbox } from '../sync/index.ts';

/**
 * Tells the channels that available stock changed at a location, through the outbox, in the
 * caller's transaction. Coalesced per location and variant: the delivery reads the latest figure.
 */
export async function announceStockChange(tx: Tx, merchantId: string, location: Location, variantId: string): Promise<void> {
  if (!location.shopifyLocationId) return;
  const shopify = await listChannelAccounts(tx, merchantId, 'shopify');
  if (shopify.length === 0) return;
  await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: `inventory.push:${location.id}:${variantId}`, payload: { location_id: location.id, variant_id: variantId } });
}

/** Mirrors a customer's points and tier to the channels that know her, coalesced per customer. */
export async function announceCustomerChange(tx: Tx, merchantId: string, customerId: string): Promise<void> {
  const shopify = await listChannelAccounts(tx, merchantId, 'shopify');
  if (shopify.length === 0) return;
  await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'customer.mirror', coalesceKey: `customer.mirror:${customerId}`, payload: { customer_id: customerId } });
}
