import { eraseMerchantData, mergeCustomers, recordChannelOrder, updateChannelOrder, recordChannelStock, recordChannelRefund, recordCustomerDataRequest, redactCustomer, resolveEventCustomer } from '../../commands/index.ts';
import { mirrorProduct } from '../../catalog/index.ts';
import { findCustomerIdsByIdentifier } from '../../customers/index.ts';
import type { Tx } from '../../db/index.ts';
import { getMerchant, listChannelAccounts, type Merchant } from '../../merchants/index.ts';
import { findOrderBySource } from '../../orders/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { parseJsonSafely } from '../../shared/json.ts';
import type { InboxEvent } from '../../sync/index.ts';
import {
  translateShopifyInventoryLevel, translateShopifyProduct, translateShopifyCustomer, translateShopifyCustomerDataRequest, translateShopifyCustomerMerge, translateShopifyCustomerRedact, translateShopifyOrder, translateShopifyRefund, translateShopifyShopRedact,
} from './translate.ts';

type Outcome = { outcome: 'processed' | 'ignored'; note?: string };

/** Topics Continuum applies; every other topic is kept in the inbox, acknowledged and not applied. */
export const appliedShopifyTopics = [
  'orders/create', 'orders/paid', 'orders/updated', 'orders/cancelled', 'refunds/create', 'customers/create', 'customers/update', 'customers/merge',
  'customers/data_request', 'customers/redact', 'shop/redact', 'inventory_levels/update', 'products/create', 'products/update',
] as const;

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
    case 'orders/updated':
    case 'orders/cancelled': {
      const outcome = await updateChannelOrder(tx, merchant, translateShopifyOrder(payload));
      return outcome === 'stale' || outcome === 'unchanged' ? { outcome: 'ignored', note: outcome === 'stale' ? 'older than the version held (stale), recorded and not applied' : 'nothing changed' } : { outcome: 'processed' };
    }
    case 'refunds/create': {
      const command = translateShopifyRefund(payload);
      const { created, returnId } = await recordChannelRefund(tx, merchant, command);
      if (created) return { outcome: 'processed' };
      return { outcome: 'ignored', note: returnId === command.continuumReturnId ? `our own refund of return ${returnId}, linked to it` : 'refund already recorded' };
    }
    case 'customers/create':
    case 'customers/update':
      await resolveEventCustomer(tx, merchant, translateShopifyCustomer(payload), `shopify:customer:${event.delivery_id}`);
      return { outcome: 'processed' };
    case 'inventory_levels/update': {
      const report = translateShopifyInventoryLevel(payload, `shopify:${event.delivery_id}`);
      if (!report) return { outcome: 'ignored', note: 'the item is not tracked in Shopify' };
      const outcome = await recordChannelStock(tx, merchant, report);
      return outcome === 'applied' ? { outcome: 'processed' } : { outcome: 'ignored', note: outcome === 'echo' ? 'our own push coming back' : outcome };
    }
    case 'products/create':
    case 'products/update': {
      const result = await mirrorProduct(tx, merchant.id, merchant.currency, translateShopifyProduct(payload, merchant.currency));
      if (result.stale) return { outcome: 'ignored', note: 'older than the version held (stale), recorded and not applied' };
      return result.skippedWithoutSku.length > 0 ? { outcome: 'processed', note: `variants without a SKU were not mirrored: ${result.skippedWithoutSku.join(', ')}` } : { outcome: 'processed' };
    }
    case 'customers/merge':
      return applyShopifyCustomerMerge(tx, merchant, payload);
    case 'customers/data_request': {
      const { shopDomain, command } = translateShopifyCustomerDataRequest(payload);
      await requireConnectedShop(tx, merchant, shopDomain);
      const { created } = await recordCustomerDataRequest(tx, merchant, command);
      return created ? { outcome: 'processed' } : { outcome: 'ignored', note: 'this data request was already exported' };
    }
    case 'customers/redact': {
      const { shopDomain, command } = translateShopifyCustomerRedact(payload);
      await requireConnectedShop(tx, merchant, shopDomain);
      const { customerIds } = await redactCustomer(tx, merchant, command);
      return customerIds.length > 0 ? { outcome: 'processed' } : { outcome: 'processed', note: 'no profile holds this customer (never seen, or already redacted)' };
    }
    case 'shop/redact': {
      const { shopDomain } = translateShopifyShopRedact(payload);
      await requireConnectedShop(tx, merchant, shopDomain);
      // This event's own inbox row goes with the rest of the merchant's rows. The worker claimed it
      // earlier in this transaction and updates it afterwards only for a note or `ignored`, so the
      // outcome carries neither: nothing touches the deleted row, and the commit stands.
      await eraseMerchantData(tx, merchant.id);
      return { outcome: 'processed' };
    }
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

/**
 * Privacy webhooks act on data beyond recall, so the shop the body names must be the shop this
 * merchant connected (the one whose signature was verified), not merely some shop.
 */
async function requireConnectedShop(tx: Tx, merchant: Merchant, shopDomain: string): Promise<void> {
  const accounts = await listChannelAccounts(tx, merchant.id, 'shopify');
  if (!accounts.some((account) => account.accountRef.toLowerCase() === shopDomain)) {
    throw new AppError('connectors.shopify.shop_mismatch', `The payload names shop ${shopDomain}, which this merchant has not connected`, { shop_domain: shopDomain });
  }
}
