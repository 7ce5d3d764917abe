import { z } from 'zod';
import { newWebhookSecret } from '../../connectors/merchant/index.ts';
import { createWebhookSubscription, disableWebhookSubscription, listWebhookSubscriptions, merchantEventTypes } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

/** Subscriptions of the merchant's own systems to Continuum's events, signed per Standard Webhooks. */
export function registerMerchantWebhookRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;
  app.post('/v1/webhook-subscriptions', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Subscribe a URL to events (points earned, reward redeemed, tier changed, points expiring); the signing secret is shown once', tags: ['webhooks'],
      body: z.object({ url: z.url().refine((value) => /^https?:\/\//.test(value), 'must be http or https'), event_types: z.array(z.enum(merchantEventTypes)).min(1) }),
    },
  }, async (request, reply) => {
    const secret = newWebhookSecret();
    const subscription = await createWebhookSubscription(db, merchantOf(request).id, { url: request.body.url, eventTypes: request.body.event_types, secret });
    return reply.code(201).send({ data: { id: subscription.id, url: subscription.url, event_types: request.body.event_types, secret } });
  });
  app.get('/v1/webhook-subscriptions', { config: { scope: 'admin' }, schema: { summary: 'The subscriptions (secrets never shown again)', tags: ['webhooks'] } },
    async (request) => ({ data: await listWebhookSubscriptions(db, merchantOf(request).id) }));
  app.post('/v1/webhook-subscriptions/:id/disable', { config: { scope: 'admin' }, schema: { summary: 'Stop delivering to a subscription', tags: ['webhooks'], params: z.object({ id: z.string().min(1).max(100) }) } },
    async (request) => {
      await disableWebhookSubscription(db, merchantOf(request).id, request.params.id);
      return { data: await listWebhookSubscriptions(db, merchantOf(request).id) };
    });
}
