import { listChannelAccounts, type Location } from '../merchants/index.ts';
import type { Tx } from '../db/index.ts';
import { enqueueOutbox } from '../sync/index.ts';

/** Only a shop connected to its Admin API can be told anything; a webhook-only shop gets no messages. */
async function pushesToShopify(tx: Tx, merchantId: string): Promise<boolean> {
  const accounts = await listChannelAccounts(tx, merchantId, 'shopify');
  return accounts.some((account) => account.adminApiUrl !== null && account.accessToken !== null);
}

/**
 * Tells the channels that available stock changed at a location, through the outbox, in the
 * caller's transaction. Coalesced per location and variant: the delivery reads the latest figure.
 */
export async function announceStockChange(tx: Tx, merchantId: string, location: Location, variantId: string): Promise<void> {
  if (!location.shopifyLocationId || !(await pushesToShopify(tx, merchantId))) return;
  await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: `inventory.push:${location.id}:${variantId}`, payload: { location_id: location.id, variant_id: variantId } });
}

/** Mirrors a customer's points and tier to the channels that know her, coalesced per customer. */
export async function announceCustomerChange(tx: Tx, merchantId: string, customerId: string): Promise<void> {
  if (!(await pushesToShopify(tx, merchantId))) return;
  await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'customer.mirror', coalesceKey: `customer.mirror:${customerId}`, payload: { customer_id: customerId } });
}
