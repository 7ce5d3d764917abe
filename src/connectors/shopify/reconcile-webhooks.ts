import { assert } from '../../shared/app-error.ts';
import { createWebhookSubscription, paginate, readWebhookSubscriptionsPage, toWebhookSubscriptionTopic } from './admin-queries.ts';
import type { ShopifyAdminClient } from './client.ts';
import { appliedShopifyTopics, shopifyPrivacyTopics } from './inbound.ts';

export type WebhookDriftReason =
  /** No subscription of the topic reaches the engine: Shopify removed it after failed deliveries, or it was never made. */
  | 'missing'
  /** The topic is subscribed, but to another address than the engine's (an old deployment?). */
  | 'other_address';

export interface WebhookDrift {
  topic: string;
  reason: WebhookDriftReason;
  /** The addresses the topic is subscribed to now. */
  uris: string[];
}

export interface WebhookReconciliation {
  /** Where Shopify must deliver: `${PUBLIC_URL}/webhooks/shopify`. */
  address: string;
  checked: number;
  drifts: WebhookDrift[];
  repaired: number;
}

/** Subscription pages read (100 each); a shop has far fewer. */
const subscriptionPagesMax = 20;

/** The topics Continuum needs subscribed through the Admin API: every topic it applies but the privacy ones. */
export function neededShopifyTopics(): string[] {
  return appliedShopifyTopics.filter((topic) => !shopifyPrivacyTopics.includes(topic));
}

/** `${publicUrl}/webhooks/shopify`, the one address every subscription must point at. */
export function shopifyWebhookAddress(publicUrl: string): string {
  assert(/^https?:\/\//.test(publicUrl), 'the public URL is an http(s) URL');
  return `${publicUrl.replace(/\/+$/, '')}/webhooks/shopify`;
}

/**
 * Shopify removes a subscription made through the Admin API after its deliveries keep failing
 * (protocols.md A3; the remedy it advises is this reconciliation). Lists the shop's subscriptions,
 * compares them with the topics Continuum applies at the engine's public address, and in repair
 * mode creates each missing one with webhookSubscriptionCreate. Others' subscriptions are left alone.
 */
export async function reconcileShopifyWebhooks(client: ShopifyAdminClient, options: { repair: boolean; publicUrl: string }): Promise<WebhookReconciliation> {
  const address = shopifyWebhookAddress(options.publicUrl);
  const urisByTopic = new Map<string, string[]>();
  for await (const page of paginate((after) => readWebhookSubscriptionsPage(client, after), { after: null, pagesMax: subscriptionPagesMax })) {
    for (const subscription of page.nodes) urisByTopic.set(subscription.topic, [...(urisByTopic.get(subscription.topic) ?? []), subscription.uri ?? '']);
  }
  const report: WebhookReconciliation = { address, checked: 0, drifts: [], repaired: 0 };
  for (const topic of neededShopifyTopics()) {
    report.checked += 1;
    const uris = urisByTopic.get(toWebhookSubscriptionTopic(topic)) ?? [];
    if (uris.includes(address)) continue;
    report.drifts.push({ topic, reason: uris.length === 0 ? 'missing' : 'other_address', uris });
    if (options.repair) {
      await createWebhookSubscription(client, topic, address);
      report.repaired += 1;
    }
  }
  return report;
}
