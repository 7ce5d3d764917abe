import type { Db } from '../../db/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { OutboxDeliverer } from '../../sync/index.ts';
import { signStandardWebhook } from './webhook-signature.ts';

const deliveryTimeoutMs = 10_000;

/**
 * Delivers an event to a merchant's subscriber, signed per Standard Webhooks. Any answer but 2xx
 * (or no answer) is a failed attempt: the outbox retries on its schedule, then dead-letters it.
 * The webhook id is the outbox message id, the same on every retry, so the subscriber can dedupe.
 */
export function createMerchantWebhookDeliverer(db: Db, fetchImpl: typeof fetch = fetch): OutboxDeliverer {
  return async (event) => {
    const payload = JSON.parse(event.payload) as { subscription_id: string; event: { type: string; timestamp: string; data: unknown } };
    const subscription = await db.selectFrom('webhook_subscriptions').selectAll().where('merchant_id', '=', event.merchant_id).where('id', '=', payload.subscription_id).executeTakeFirst();
    if (!subscription || subscription.state !== 'active') return 'skipped: the subscription is gone or disabled';
    const body = JSON.stringify(payload.event);
    const timestamp = Math.floor(Date.now() / 1000);
    let response: Response;
    try {
      response = await fetchImpl(subscription.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': event.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signStandardWebhook(subscription.secret, event.id, timestamp, body) },
        body,
        signal: AbortSignal.timeout(deliveryTimeoutMs),
      });
    } catch (error) {
      throw new AppError('connectors.merchant.unreachable', `The subscriber did not answer: ${(error as Error).message}`, { url: subscription.url });
    }
    if (!response.ok) throw new AppError('connectors.merchant.rejected', `The subscriber answered ${response.status}`, { url: subscription.url, status: response.status });
  };
}
