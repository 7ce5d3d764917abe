import { mergeCustomers, recordChannelOrder, recordChannelRefund, resolveEventCustomer } from '../../commands/index.ts';
import { findCustomerIdsByIdentifier } from '../../customers/index.ts';
import type { Tx } from '../../db/index.ts';
import { getMerchant, type Merchant } from '../../merchants/index.ts';
import { findOrderBySource } from '../../orders/index.ts';
import { parseJsonSafely } from '../../shared/json.ts';
import type { InboxEvent } from '../../sync/index.ts';
import { translateShopifyCustomer, translateShopifyCustomerMerge, translateShopifyOrder, translateShopifyRefund } from './translate.ts';

type Outcome = { outcome: 'processed' | 'ignored'; note?: string };

/** Topics Continuum applies; every other topic is kept in the inbox, acknowledged and not applied. */
export const appliedShopifyTopics = ['orders/create', 'orders/paid', 'orders/updated', 'refunds/create', 'customers/create', 'customers/update', 'customers/merge'] as const;

/** Applies one stored Shopify webhook inside the worker's transaction. */
export async function applyShopifyEvent(tx: Tx, event: InboxEvent): Promise<Outcome> {
  const merchant = await getMerchant(tx, event.merchant_id);
  const payload = parseJsonSafely(event.payload);
  switch (event.topic) {
    case 'orders/create':
    case 'orders/paid': {
      const { created } = await recordChannelOrder(tx, merchant, translateShopifyOrder(payload));
      return created ? { outcome: 'processed' } : { outcome: 'ignored', note: 'order already recorded' };
    }
    case 'orders/updated': {
      // The first sight of an order may be an update (its create was lost or arrives late).
      // Changes to an order already held are applied by the orders work of issue #5.
      const command = translateShopifyOrder(payload);
      if (await findOrderBySource(tx, merchant.id, 'shopify', command.sourceRef)) return { outcome: 'ignored', note: 'updates to recorded orders are not applied yet (issue #5)' };
      await recordChannelOrder(tx, merchant, command);
      return { outcome: 'processed' };
    }
    case 'refunds/create': {
      const { created } = await recordChannelRefund(tx, merchant, translateShopifyRefund(payload));
      return created ? { outcome: 'processed' } : { outcome: 'ignored', note: 'refund already recorded' };
    }
    case 'customers/create':
    case 'customers/update':
      await resolveEventCustomer(tx, merchant, translateShopifyCustomer(payload), `shopify:customer:${event.delivery_id}`);
      return { outcome: 'processed' };
    case 'customers/merge':
      return applyShopifyCustomerMerge(tx, merchant, payload);
    default:
      return { outcome: 'ignored', note: `topic ${event.topic} is kept but not applied` };
  }
}

/** Shopify merged two of its customers: merge our profiles the same way, the deleted one into the kept one. */
async function applyShopifyCustomerMerge(tx: Tx, merchant: Merchant, payload: unknown): Promise<Outcome> {
  const merge = translateShopifyCustomerMerge(payload);
  if (!merge.completed) return { outcome: 'ignored', note: 'Shopify reports the merge did not complete' };
  const [keptId] = await findCustomerIdsByIdentifier(tx, merchant.id, 'shopify_id', merge.keptId);
  const [deletedId] = await findCustomerIdsByIdentifier(tx, merchant.id, 'shopify_id', merge.deletedId);
  if (!keptId || !deletedId) return { outcome: 'ignored', note: 'one of the merged Shopify customers has no profile here' };
  if (keptId === deletedId) return { outcome: 'ignored', note: 'both Shopify customers are already one profile' };
  await mergeCustomers(tx, merchant, { survivorId: keptId, mergedId: deletedId, actor: 'shopify', reason: 'merged in Shopify (customers/merge)' });
  return { outcome: 'processed' };
}
