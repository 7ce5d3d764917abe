import { findExternalId } from '../catalog/index.ts';
import type { Location } from '../merchants/index.ts';
import { keptRead, reuseQuery, type ParameterPlaceholders, type Tx } from '../db/index.ts';
import { enqueueOutbox } from '../sync/index.ts';

/**
 * Only a shop connected to its Admin API can be told anything; a webhook-only or disconnected shop
 * gets no messages. Both channels in one statement built once: a hold read the accounts twice
 * (Shopify, then Square), each statement built anew (found by .prof/holds-cpu.mts, issue #9).
 */
const connectedChannels = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string }>) => db
  .selectFrom('channel_accounts').select('channel').distinct()
  .where('merchant_id', '=', param('merchantId')).where('admin_api_url', 'is not', null).where('access_token', 'is not', null).where('state', '=', 'connected'));

function readConnectedChannels(tx: Tx, merchantId: string): Promise<Set<string>> {
  return keptRead(tx, `connected-channels:${merchantId}`, async () => new Set((await connectedChannels.execute(tx, { merchantId })).map((row) => row.channel)));
}

/**
 * Announces the changes of one command: which channels are connected is read once for all of them
 * rather than once per change (an order of two lines read it three times; found by
 * bench/orders-end-to-end.ts). Made for one command in one transaction, and used only within it.
 */
export function createChangeAnnouncer(tx: Tx, merchantId: string) {
  let connected: Promise<Set<string>> | undefined;
  const pushesTo = async (channel: 'shopify' | 'square'): Promise<boolean> => (await (connected ??= readConnectedChannels(tx, merchantId))).has(channel);
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
