import { findExternalId } from '../catalog/index.ts';
import { listChannelAccounts, type Location } from '../merchants/index.ts';
import type { Tx } from '../db/index.ts';
import { enqueueOutbox } from '../sync/index.ts';

/** Only a shop connected to its Admin API can be told anything; a webhook-only or disconnected shop gets no messages. */
async function pushesToChannel(tx: Tx, merchantId: string, channel: 'shopify' | 'square'): Promise<boolean> {
  const accounts = await listChannelAccounts(tx, merchantId, channel);
  return accounts.some((account) => account.adminApiUrl !== null && account.accessToken !== null && account.state === 'connected');
}

/**
 * Announces the changes of one command: which channels are connected is read once for all of them
 * rather than once per change (an order of two lines read it three times; found by
 * bench/orders-end-to-end.ts). Made for one command in one transaction, and used only within it.
 */
export function createChangeAnnouncer(tx: Tx, merchantId: string) {
  const connected = new Map<'shopify' | 'square', Promise<boolean>>();
  const pushesTo = (channel: 'shopify' | 'square'): Promise<boolean> => {
    let answer = connected.get(channel);
    if (!answer) connected.set(channel, (answer = pushesToChannel(tx, merchantId, channel)));
    return answer;
  };
  return {
    /**
     * Tells the channels that available stock changed at a location, through the outbox, in the
     * caller's transaction. Coalesced per channel, location and variant: the delivery reads the latest figure.
     * A location whose `stock_push` workflow is off tells no channel: its stock is kept, not pushed.
     */
    async stock(location: Location, variantId: string): Promise<void> {
      if (!location.workflows.stockPush) return;
      if (location.shopifyLocationId && (await pushesTo('shopify'))) {
        await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: `inventory.push:${location.id}:${variantId}`, payload: { location_id: location.id, variant_id: variantId } });
      }
      // A Square seller connected to the Square API (issue #7), and the variant sold there as a catalog object.
      if (location.squareLocationId && (await pushesTo('square')) && (await findExternalId(tx, merchantId, 'variant', variantId, 'square')) !== undefined) {
        await enqueueOutbox(tx, merchantId, { destination: 'square', kind: 'inventory.push', coalesceKey: `inventory.push:square:${location.id}:${variantId}`, payload: { location_id: location.id, variant_id: variantId } });
      }
    },
    /** Mirrors a customer's points and tier to the channels that know her, coalesced per customer. */
    async customer(customerId: string): Promise<void> {
      if (!(await pushesTo('shopify'))) return;
      await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'customer.mirror', coalesceKey: `customer.mirror:${customerId}`, payload: { customer_id: customerId } });
    },
  };
}

export type ChangeAnnouncer = ReturnType<typeof createChangeAnnouncer>;

/** One stock change announced on its own (`createChangeAnnouncer` for several). */
export async function announceStockChange(tx: Tx, merchantId: string, location: Location, variantId: string): Promise<void> {
  await createChangeAnnouncer(tx, merchantId).stock(location, variantId);
}

/** One customer's change announced on its own (`createChangeAnnouncer` for several). */
export async function announceCustomerChange(tx: Tx, merchantId: string, customerId: string): Promise<void> {
  await createChangeAnnouncer(tx, merchantId).customer(customerId);
}
