import { acceptChannelStock, eraseMerchantData, mergeCustomers, recordChannelOrder, updateChannelOrder, recordChannelStock, recordChannelRefund, recordCustomerDataRequest, redactCustomer, resolveEventCustomer } from '../../commands/index.ts';
import { archiveChannelProduct, mirrorProduct, type MirroredProduct } from '../../catalog/index.ts';
import { findCustomerIdsByIdentifier, getCustomerSourceVersion, overwriteCustomerProfile, recordCustomerSourceVersion, unlinkChannelCustomerId, type CustomerClaim } from '../../customers/index.ts';
import type { Tx } from '../../db/index.ts';
import {
  findLocationByChannelId, getMerchant, listChannelAccounts, mapLocationToChannel, markChannelDisconnected, markChannelLocationDeleted, recordChannelLocation, type ChannelLocationInput, type Merchant,
} from '../../merchants/index.ts';
import { findOrderBySource } from '../../orders/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { parseJsonExactly } from '../../shared/json.ts';
import { raiseException, writeAudit, type InboxEvent } from '../../sync/index.ts';
import { findChannelDeletion, recordChannelDeletion } from '../channel-deletions.ts';
import {
  translateShopifyCustomerVersion, translateShopifyDeletion, translateShopifyLocation, translateShopifyUninstall,
  translateShopifyInventoryLevel, translateShopifyProduct, translateShopifyCustomer, translateShopifyCustomerDataRequest, translateShopifyCustomerMerge, translateShopifyCustomerRedact, translateShopifyOrder, translateShopifyRefund, translateShopifyShopRedact,
} from './translate.ts';

type Outcome = { outcome: 'processed' | 'ignored'; note?: string };

/** Topics Continuum applies; every other topic is kept in the inbox, acknowledged and not applied. */
export const appliedShopifyTopics = [
  'orders/create', 'orders/paid', 'orders/updated', 'orders/cancelled', 'refunds/create', 'customers/create', 'customers/update', 'customers/merge',
  'customers/data_request', 'customers/redact', 'shop/redact', 'inventory_levels/update', 'products/create', 'products/update',
  'products/delete', 'customers/delete', 'locations/create', 'locations/update', 'locations/delete', 'app/uninstalled',
] as const;

/**
 * The mandatory privacy topics: Shopify sends them to the URLs set in the app's configuration
 * (Partner Dashboard or shopify.app.toml), never through webhookSubscriptionCreate
 * (https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance).
 */
export const shopifyPrivacyTopics: readonly string[] = ['customers/data_request', 'customers/redact', 'shop/redact'];

/** The note of an event older than what we hold: kept in the inbox, never applied. */
export const staleEventNote = 'older than the version held (stale), recorded and not applied';

/**
 * When the event's version of its record was made: the payload's `updated_at` when it has one,
 * else Shopify's X-Shopify-Triggered-At (a retry carries the original payload and trigger time,
 * https://shopify.dev/changelog/updates-to-webhook-retry-mechanism), else when we received it.
 */
export function shopifyEventVersion(event: Pick<InboxEvent, 'triggered_at' | 'received_at'>, payloadUpdatedAt: string | null): string {
  return payloadUpdatedAt ?? event.triggered_at ?? event.received_at;
}

/** Applies one stored Shopify webhook inside the worker's transaction. */
export async function applyShopifyEvent(tx: Tx, event: InboxEvent): Promise<Outcome> {
  const merchant = await getMerchant(tx, event.merchant_id);
  const payload = parseJsonExactly(event.payload);
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
    case 'customers/update': {
      const { shopifyId, updatedAt } = translateShopifyCustomerVersion(payload);
      return applyShopifyCustomer(tx, merchant, { claim: translateShopifyCustomer(payload), shopifyId, version: shopifyEventVersion(event, updatedAt) }, `shopify:customer:${event.delivery_id}`);
    }
    case 'customers/delete':
      return applyShopifyCustomerDeletion(tx, merchant, translateShopifyDeletion(payload, event.topic).id, shopifyEventVersion(event, null));
    case 'inventory_levels/update': {
      const report = translateShopifyInventoryLevel(payload, `shopify:${event.delivery_id}`);
      if (!report) return { outcome: 'ignored', note: 'the item is not tracked in Shopify' };
      if (merchant.settings.sync.ownership.stock === 'shopify') {
        const accepted = await acceptChannelStock(tx, merchant, report);
        return accepted === 'applied' ? { outcome: 'processed', note: 'Shopify owns stock: its figure is the truth, nothing is pushed back' } : { outcome: 'ignored', note: accepted === 'stale' ? staleEventNote : accepted };
      }
      const outcome = await recordChannelStock(tx, merchant, report);
      return outcome === 'applied' ? { outcome: 'processed' } : { outcome: 'ignored', note: outcome === 'echo' ? 'our own push coming back' : outcome === 'stale' ? staleEventNote : outcome };
    }
    case 'products/create':
    case 'products/update':
      return applyShopifyProduct(tx, merchant, translateShopifyProduct(payload, merchant.currency), event);
    case 'products/delete':
      return applyShopifyProductDeletion(tx, merchant, translateShopifyDeletion(payload, event.topic).id, shopifyEventVersion(event, null));
    case 'locations/create':
    case 'locations/update':
      return applyShopifyLocation(tx, merchant, translateShopifyLocation(payload));
    case 'locations/delete':
      return applyShopifyLocationDeletion(tx, merchant, translateShopifyDeletion(payload, event.topic).id, shopifyEventVersion(event, null));
    case 'app/uninstalled':
      return applyShopifyUninstall(tx, merchant, event, translateShopifyUninstall(payload).shopDomain);
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

/**
 * `customers/create` and `customers/update`: an update older than the version last applied to her
 * profile, or than Shopify's deletion of the customer, is kept and not applied. Who owns customer
 * data decides what an applied update may change (docs/configuration.md): Shopify overwrites the
 * name and note; Continuum (the default) only fills what is empty. Identifiers are linked either way.
 */
export async function applyShopifyCustomer(tx: Tx, merchant: Merchant, input: { claim: CustomerClaim; shopifyId: string; version: string | null }, eventRef: string): Promise<Outcome> {
  const deletedAt = await findChannelDeletion(tx, merchant.id, 'shopify', 'customer', input.shopifyId);
  if (deletedAt && (!input.version || input.version <= deletedAt)) return { outcome: 'ignored', note: `${staleEventNote}: Shopify deleted this customer at ${deletedAt}` };
  const [heldId] = await findCustomerIdsByIdentifier(tx, merchant.id, 'shopify_id', input.shopifyId);
  if (heldId && input.version) {
    const heldVersion = await getCustomerSourceVersion(tx, merchant.id, heldId);
    if (heldVersion && input.version < heldVersion) return { outcome: 'ignored', note: staleEventNote };
  }
  const customerId = await resolveEventCustomer(tx, merchant, input.claim, eventRef);
  if (!customerId) return { outcome: 'ignored', note: 'the customer names no usable identifier' };
  const overwritten = merchant.settings.sync.ownership.customers === 'shopify' && (await overwriteCustomerProfile(tx, merchant.id, customerId, input.claim));
  if (input.version) await recordCustomerSourceVersion(tx, merchant.id, customerId, input.version);
  return overwritten ? { outcome: 'processed', note: 'Shopify owns customer data: the name and note were overwritten' } : { outcome: 'processed' };
}

/** `customers/delete`: the Shopify id is unlinked; the profile, its points and its orders stay. */
async function applyShopifyCustomerDeletion(tx: Tx, merchant: Merchant, shopifyId: string, deletedAt: string): Promise<Outcome> {
  await recordChannelDeletion(tx, merchant.id, 'shopify', 'customer', shopifyId, deletedAt);
  const customerIds = await unlinkChannelCustomerId(tx, merchant.id, 'shopify_id', shopifyId);
  for (const customerId of customerIds) {
    await recordCustomerSourceVersion(tx, merchant.id, customerId, deletedAt);
    await writeAudit(tx, merchant.id, { actor: 'shopify', action: 'customer.channel_unlinked', subject: customerId, details: { channel: 'shopify', shopify_id: shopifyId, deleted_at: deletedAt } });
  }
  if (customerIds.length === 0) return { outcome: 'ignored', note: 'no profile holds this Shopify customer' };
  return { outcome: 'processed', note: `Shopify customer ${shopifyId} unlinked from ${customerIds.join(', ')}; the profile and its loyalty ledger stay` };
}

/**
 * `products/create` and `products/update`. Who owns products decides (docs/configuration.md):
 * Shopify (the default) → mirrored; Continuum → only the ids are linked, and what Shopify shows
 * differently is kept in the inbox note and raised once per product version for a person.
 */
export async function applyShopifyProduct(tx: Tx, merchant: Merchant, product: MirroredProduct, event: Pick<InboxEvent, 'triggered_at' | 'received_at'>): Promise<Outcome> {
  const version = shopifyEventVersion(event, product.updatedAt);
  const deletedAt = await findChannelDeletion(tx, merchant.id, 'shopify', 'product', product.productRef);
  if (deletedAt && version <= deletedAt) return { outcome: 'ignored', note: `${staleEventNote}: Shopify deleted this product at ${deletedAt}` };
  const ownedByShopify = merchant.settings.sync.ownership.products === 'shopify';
  const result = await mirrorProduct(tx, merchant.id, merchant.currency, product, { applyChanges: ownedByShopify });
  if (result.stale) return { outcome: 'ignored', note: staleEventNote };
  if (result.archived) return { outcome: 'ignored', note: 'the product was deleted in Shopify and is archived here; later versions are not applied' };
  const notes: string[] = [];
  if (result.skippedWithoutSku.length > 0) notes.push(`variants without a SKU were not mirrored: ${result.skippedWithoutSku.join(', ')}`);
  if (result.differences.length > 0) {
    const described = result.differences.map((difference) => `${difference.subject} ${difference.field} ${String(difference.held)} here, ${String(difference.channel)} in Shopify`);
    notes.push(`Continuum owns products: Shopify's changes were recorded, not applied (${described.join('; ')})`);
    await raiseException(tx, merchant.id, { kind: 'channel_drift', dedupeKey: `catalog-drift:shopify:${product.productRef}:${version}`, subject: result.productId ?? product.productRef, details: { channel: 'shopify', product_ref: product.productRef, version, differences: result.differences } });
  }
  return notes.length > 0 ? { outcome: 'processed', note: notes.join('; ') } : { outcome: 'processed' };
}

/** `products/delete`: the product is archived (decision in catalog-service.ts, archiveChannelProduct). */
async function applyShopifyProductDeletion(tx: Tx, merchant: Merchant, productRef: string, deletedAt: string): Promise<Outcome> {
  await recordChannelDeletion(tx, merchant.id, 'shopify', 'product', productRef, deletedAt);
  const { outcome, productId } = await archiveChannelProduct(tx, merchant.id, 'shopify', productRef, deletedAt);
  if (outcome === 'unknown') return { outcome: 'ignored', note: 'no product here carries this Shopify id' };
  if (outcome === 'already_archived') return { outcome: 'ignored', note: 'the product is archived already' };
  await writeAudit(tx, merchant.id, { actor: 'shopify', action: 'product.archived', subject: productId ?? productRef, details: { channel: 'shopify', product_ref: productRef, deleted_at: deletedAt } });
  return { outcome: 'processed', note: `product ${productId} archived: its variants stay for history and are no longer pushed to Shopify` };
}

/** `locations/create` and `locations/update`: kept so a merchant can map them; an older version is not applied. */
async function applyShopifyLocation(tx: Tx, merchant: Merchant, location: ChannelLocationInput): Promise<Outcome> {
  const outcome = await recordChannelLocation(tx, merchant.id, 'shopify', location);
  if (outcome === 'stale') return { outcome: 'ignored', note: staleEventNote };
  if (outcome === 'unchanged') return { outcome: 'ignored', note: 'nothing changed' };
  const mapped = await findLocationByChannelId(tx, merchant.id, 'shopify', location.externalId);
  return { outcome: 'processed', note: mapped ? `Shopify location ${location.externalId} maps to ${mapped.id}` : `Shopify location ${location.externalId} is not mapped to a location here yet (POST /v1/channels/shopify/locations/${location.externalId}/map)` };
}

/**
 * `locations/delete`: the channel location is marked deleted and our location it mapped to is
 * unmapped, so nothing is pushed to a location Shopify no longer has; orders that still name it
 * raise the unmapped exception for a person.
 */
async function applyShopifyLocationDeletion(tx: Tx, merchant: Merchant, externalId: string, deletedAt: string): Promise<Outcome> {
  await recordChannelDeletion(tx, merchant.id, 'shopify', 'location', externalId, deletedAt);
  const marked = await markChannelLocationDeleted(tx, merchant.id, 'shopify', externalId, deletedAt);
  const mapped = await findLocationByChannelId(tx, merchant.id, 'shopify', externalId);
  if (mapped) {
    await mapLocationToChannel(tx, merchant.id, mapped.id, 'shopify', null);
    await writeAudit(tx, merchant.id, { actor: 'shopify', action: 'location.unmapped', subject: mapped.id, details: { channel: 'shopify', shopify_location_id: externalId, deleted_at: deletedAt } });
    return { outcome: 'processed', note: `Shopify deleted location ${externalId}; ${mapped.id} is no longer mapped to it` };
  }
  return marked ? { outcome: 'processed' } : { outcome: 'ignored', note: 'the location was deleted already' };
}

/**
 * `app/uninstalled`: the shop's account is marked disconnected. The outbox stops pushing to it (each
 * message is closed with a note), and its webhooks are still verified with its secret, since
 * `shop/redact` comes 48 hours later.
 */
async function applyShopifyUninstall(tx: Tx, merchant: Merchant, event: InboxEvent, bodyShopDomain: string | null): Promise<Outcome> {
  const headers = JSON.parse(event.headers_json) as Record<string, string>;
  const shopDomain = (headers['x-shopify-shop-domain'] ?? bodyShopDomain ?? '').toLowerCase();
  const account = (await listChannelAccounts(tx, merchant.id, 'shopify')).find((candidate) => candidate.accountRef.toLowerCase() === shopDomain);
  if (!account) throw new AppError('connectors.shopify.shop_mismatch', `The uninstall names shop ${shopDomain}, which this merchant has not connected`, { shop_domain: shopDomain });
  const disconnectedAt = shopifyEventVersion(event, null);
  if (!(await markChannelDisconnected(tx, merchant.id, account.id, disconnectedAt))) return { outcome: 'ignored', note: 'the shop was disconnected already' };
  await writeAudit(tx, merchant.id, { actor: 'shopify', action: 'channel.disconnected', subject: account.id, details: { shop_domain: shopDomain, at: disconnectedAt } });
  return { outcome: 'processed', note: `${shopDomain} uninstalled the app: nothing is pushed to it until it is connected again` };
}
