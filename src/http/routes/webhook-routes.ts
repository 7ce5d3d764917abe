import type { FastifyRequest } from 'fastify';
import { readShopifyHeaders, requireShopifyEventHeaders, verifyShopifySignature } from '../../connectors/shopify/index.ts';
import { readSquareEnvelope, verifySquareSignature } from '../../connectors/square/index.ts';
import { findChannelAccount } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { toIso } from '../../shared/clock.ts';
import { parseJsonSafely } from '../../shared/json.ts';
import { storeInboxEvent } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';

export const webhookBodyBytesMax = 1024 * 1024;

function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

function plainHeaders(request: FastifyRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(request.headers).filter(([name]) => name !== 'authorization').map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]));
}

function safeIso(value: string | null): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : toIso(date);
}

/**
 * Channel webhooks: verify the signature over the raw bytes, store the event durably, answer 200
 * after the commit. The worker applies it afterwards; a channel never waits on our processing.
 */
export async function registerWebhookRoutes(app: AppInstance, { database, metrics, worker }: RouteDependencies): Promise<void> {
  // Raw bytes for these routes only: re-serialising a body would break its signature.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyBytesMax }, (_request, body, done) => done(null, body));

  app.post('/webhooks/shopify', {
    schema: { summary: 'Shopify webhooks (HMAC-SHA256 over the raw body with the app secret)', tags: ['webhooks'] },
  }, async (request, reply) => {
    const raw = rawBodyOf(request);
    const headers = readShopifyHeaders(request.headers);
    const account = await findChannelAccount(database.db, 'shopify', headers.shopDomain);
    if (!account) throw new AppError('connectors.shopify.unauthenticated', 'No merchant has connected this shop', { shop_domain: headers.shopDomain });
    if (!verifyShopifySignature(account.webhookSecret, raw, headers.hmac)) throw new AppError('connectors.shopify.unauthenticated', 'X-Shopify-Hmac-Sha256 does not match the body', { header: 'X-Shopify-Hmac-Sha256' });
    requireShopifyEventHeaders(headers);
    const text = raw.toString('utf8');
    parseJsonSafely(text);
    const { stored } = await storeInboxEvent(database.db, {
      merchantId: account.merchantId, source: 'shopify', topic: headers.topic, deliveryId: headers.webhookId,
      // Event-Id is shared by every topic one merchant action produced: a duplicate only within a topic.
      eventKey: headers.eventId ? `${headers.topic}:${headers.eventId}` : null,
      headers: plainHeaders(request), payload: text, triggeredAt: safeIso(headers.triggeredAt),
    });
    metrics.inboxEvents.inc({ source: 'shopify', outcome: stored ? 'stored' : 'duplicate' });
    if (stored) worker.wake();
    return reply.code(200).send({ received: true, duplicate: !stored });
  });

  app.post('/webhooks/square', {
    schema: { summary: 'Square notifications (HMAC-SHA256 over notification URL + raw body with the signature key)', tags: ['webhooks'] },
  }, async (request, reply) => {
    const raw = rawBodyOf(request);
    const signature = request.headers['x-square-hmacsha256-signature'];
    if (typeof signature !== 'string') throw new AppError('connectors.square.unauthenticated', 'x-square-hmacsha256-signature is missing', { header: 'x-square-hmacsha256-signature' });
    const text = raw.toString('utf8');
    // The signature key belongs to the seller named in the body, so the envelope is read first;
    // nothing is stored or applied before the signature over the raw bytes is verified.
    const envelope = readSquareEnvelope(parseJsonSafely(text));
    const account = await findChannelAccount(database.db, 'square', envelope.merchantRef);
    if (!account?.notificationUrl || !verifySquareSignature(account.webhookSecret, account.notificationUrl, raw, signature)) {
      throw new AppError('connectors.square.unauthenticated', 'The signature does not match this seller\'s key and notification URL', { header: 'x-square-hmacsha256-signature' });
    }
    const { stored } = await storeInboxEvent(database.db, { merchantId: account.merchantId, source: 'square', topic: envelope.type, deliveryId: envelope.eventId, eventKey: null, headers: plainHeaders(request), payload: text, triggeredAt: safeIso(envelope.createdAt) });
    metrics.inboxEvents.inc({ source: 'square', outcome: stored ? 'stored' : 'duplicate' });
    if (stored) worker.wake();
    return reply.code(200).send({ received: true, duplicate: !stored });
  });
}
