import { findExternalId } from '../catalog/index.ts';
import { listChannelAccounts, type Location } from '../merchants/index.ts';
import type { Tx } from '../db/index.ts';
import { enqueueOutbox } from '../sync/index.ts';

/** Only a shop connected to its Admin API can be told anything; a webhook-only or disconnected shop gets no messages. */
async function pushesToShopify(tx: Tx, merchantId: string): Promise<boolean> {
  const accounts = await listChannelAccounts(tx, merchantId, 'shopify');
  return accounts.some((account) => account.adminApiUrl !== null && account.accessToken !== null && account.state === 'connected');
}

/** A Square seller connected to the Square API (issue #7), and the variant sold there as a catalog object. */
async function pushesStockToSquare(tx: Tx, merchantId: string, variantId: string): Promise<boolean> {
  const accounts = await listChannelAccounts(tx, merchantId, 'square');
  if (!accounts.some((account) => account.adminApiUrl !== null && account.accessToken !== null && account.state === 'connected')) return false;
  return (await findExternalId(tx, merchantId, 'variant', variantId, 'square')) !== undefined;
}

/**
 * Tells the channels that available stock changed at a location, through the outbox, in the
 * caller's transaction. Coalesced per channel, location and variant: the delivery reads the latest figure.
 * A location whose `stock_push` workflow is off tells no channel: its stock is kept, not pushed.
 */
export async function announceStockChange(tx: Tx, merchantId: string, location: Location, variantId: string): Promise<void> {
  if (!location.workflows.stockPush) return;
  if (location.shopifyLocationId && (await pushesToShopify(tx, merchantId))) {
    await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: `inventory.push:${location.id}:${variantId}`, payload: { location_id: location.id, variant_id: variantId } });
  }
  if (location.squareLocationId && (await pushesStockToSquare(tx, merchantId, variantId))) {
    await enqueueOutbox(tx, merchantId, { destination: 'square', kind: 'inventory.push', coalesceKey: `inventory.push:square:${location.id}:${variantId}`, payload: { location_id: location.id, variant_id: variantId } });
  }
}

/** Mirrors a customer's points and tier to the channels that know her, coalesced per customer. */
export async function announceCustomerChange(tx: Tx, merchantId: string, customerId: string): Promise<void> {
  if (!(await pushesToShopify(tx, merchantId))) return;
  await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'customer.mirror', coalesceKey: `customer.mirror:${customerId}`, payload: { customer_id: customerId } });
}
