import type { FastifyRequest } from 'fastify';
import { readShopifyHeaders, requireShopifyEventHeaders, verifyShopifySignature } from '../../connectors/shopify/index.ts';
import { readSquareEnvelope, verifySquareSignature } from '../../connectors/square/index.ts';
import type { Channel, ChannelAccount } from '../../merchants/index.ts';
import { checkReplayWindow } from '../../connectors/replay-window.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { nowMs, toIso } from '../../shared/clock.ts';
import { parseJsonExactly, parseJsonRounded } from '../../shared/json.ts';
import { computeResourceKey, createInboxWriter, needsExactNumbers, type InboxSource } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { createChannelAccountCache, type KeptAccount } from '../channel-account-cache.ts';

export const webhookBodyBytesMax = 1024 * 1024;

function rawBodyOf(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

function plainHeaders(request: FastifyRequest): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const name in request.headers) {
    const value = request.headers[name];
    if (name === 'authorization' || value === undefined) continue;
    plain[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return plain;
}

/**
 * The event's resource key (`sync/resource-key.ts`). `payload` is the body as JSON.parse reads it
 * (`parseJsonRounded`): most keys come from a string (Shopify's GraphQL id, Square's ids), and only
 * a key that needs a number beyond 2^53 has the body read again exactly. The exact scan costs more
 * than JSON.parse itself (98 against 43 µs for a 13 KB order, a third of its ingest CPU; measured
 * with bench/webhook-ingest.ts, issue #9), so reading every body exactly slowed the common case to
 * spare refunds and stock levels a second parse.
 */
function readResourceKey(source: InboxSource, topic: string, payload: unknown, text: string): string | null {
  const key = computeResourceKey(source, topic, payload);
  if (key !== needsExactNumbers) return key;
  const exactKey = computeResourceKey(source, topic, parseJsonExactly(text));
  assert(exactKey !== needsExactNumbers, 'an exact parse keeps every id exact');
  return exactKey;
}

function safeIso(value: string | null): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : toIso(date);
}

/**
 * Channel webhooks: verify the signature over the raw bytes, store the event durably, answer 200
 * after the commit. Events of concurrent requests share one commit (`sync/inbox-writer.ts`). The
 * worker applies them afterwards; a channel never waits on our processing.
 */
export async function registerWebhookRoutes(app: AppInstance, { database, metrics, worker, webhookReplayWindows }: RouteDependencies): Promise<void> {
  const inboxWriter = createInboxWriter({
    db: database.db, logger: app.log, onCommit: (events) => metrics.inboxCommitEvents.observe(events),
    ...(database.writerThread ? { thread: database.writerThread } : {}),
  });
  const accounts = createChannelAccountCache(database.db);

  /**
   * The connected account whose secret signed the request, kept in memory for a while. When the
   * kept secret does not verify, the account is read again: a secret rotated a moment ago then
   * works at once. Whatever was kept, the commit confirms the account: each event is stored only if
   * the account that verified it is still as read then (`KeptAccount.guardHolds`).
   */
  async function findSigningAccount(channel: Channel, accountRef: string, verifies: (account: ChannelAccount) => boolean): Promise<KeptAccount | 'unknown' | 'mismatch'> {
    const kept = await accounts.find(channel, accountRef);
    if (!kept) return 'unknown';
    if (verifies(kept.account)) return kept;
    const fresh = await accounts.reload(channel, accountRef);
    if (!fresh) return 'unknown';
    return fresh.guardKey !== kept.guardKey && verifies(fresh.account) ? fresh : 'mismatch';
  }
  // The server closes before the database: what is waiting is committed and answered first.
  app.addHook('onClose', async () => inboxWriter.close());
  // Raw bytes for these routes only: re-serialising a body would break its signature.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyBytesMax }, (_request, body, done) => done(null, body));

  app.post('/webhooks/shopify', {
    schema: { summary: 'Shopify webhooks (HMAC-SHA256 over the raw body with the app secret)', tags: ['webhooks'] },
  }, async (request, reply) => {
    const raw = rawBodyOf(request);
    const headers = readShopifyHeaders(request.headers);
    const signer = await findSigningAccount('shopify', headers.shopDomain, (candidate) => verifyShopifySignature(candidate.webhookSecret, raw, headers.hmac));
    const notConnected = () => new AppError('connectors.shopify.unauthenticated', 'No merchant has connected this shop', { shop_domain: headers.shopDomain });
    if (signer === 'unknown') throw notConnected();
    if (signer === 'mismatch') throw new AppError('connectors.shopify.unauthenticated', 'X-Shopify-Hmac-Sha256 does not match the body', { header: 'X-Shopify-Hmac-Sha256' });
    const { account } = signer;
    requireShopifyEventHeaders(headers);
    // After the signature, so an unsigned request learns nothing but 401; before anything is stored.
    checkReplayWindow({ channel: 'shopify', field: 'X-Shopify-Triggered-At', at: headers.triggeredAt, nowMs: nowMs() }, webhookReplayWindows?.shopify ?? null);
    const text = raw.toString('utf8');
    const resourceKey = readResourceKey('shopify', headers.topic, parseJsonRounded(text), text);
    const { stored } = await inboxWriter.write({
      merchantId: account.merchantId, source: 'shopify', topic: headers.topic, deliveryId: headers.webhookId,
      // Event-Id is shared by every topic one merchant action produced: a duplicate only within a topic.
      eventKey: headers.eventId ? `${headers.topic}:${headers.eventId}` : null,
      headers: plainHeaders(request), payload: text, triggeredAt: safeIso(headers.triggeredAt), resourceKey,
    }, { key: signer.guardKey, holds: signer.guardHolds, refuse: notConnected });
    metrics.inboxEvents.inc({ source: 'shopify', outcome: stored ? 'stored' : 'duplicate' });
    if (stored) worker.wakeInbox();
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
    const payload = parseJsonRounded(text);
    const envelope = readSquareEnvelope(payload);
    const signer = await findSigningAccount('square', envelope.merchantRef, (candidate) => candidate.notificationUrl !== null && verifySquareSignature(candidate.webhookSecret, candidate.notificationUrl, raw, signature));
    const refused = () => new AppError('connectors.square.unauthenticated', 'The signature does not match this seller\'s key and notification URL', { header: 'x-square-hmacsha256-signature' });
    if (typeof signer === 'string') throw refused();
    // The signature covers created_at, so an old notification sent again is refused here.
    checkReplayWindow({ channel: 'square', field: 'created_at', at: envelope.createdAt, nowMs: nowMs() }, webhookReplayWindows?.square ?? null);
    const { account } = signer;
    const { stored } = await inboxWriter.write({
      merchantId: account.merchantId, source: 'square', topic: envelope.type, deliveryId: envelope.eventId, eventKey: null,
      headers: plainHeaders(request), payload: text, triggeredAt: safeIso(envelope.createdAt), resourceKey: readResourceKey('square', envelope.type, payload, text),
    }, { key: signer.guardKey, holds: signer.guardHolds, refuse: refused });
    metrics.inboxEvents.inc({ source: 'square', outcome: stored ? 'stored' : 'duplicate' });
    if (stored) worker.wakeInbox();
    return reply.code(200).send({ received: true, duplicate: !stored });
  });
}
