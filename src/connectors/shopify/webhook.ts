import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../shared/app-error.ts';
import type { ShopifyWebhookHeaders } from './types.ts';

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads Shopify's webhook headers (protocols.md A1). A missing HMAC or shop domain is an
 * authentication failure (401). The topic and webhook id are checked after the signature, by
 * `requireShopifyEventHeaders`, so an unsigned request never learns more than "401".
 */
export function readShopifyHeaders(headers: HeaderBag): ShopifyWebhookHeaders {
  const hmac = header(headers, 'x-shopify-hmac-sha256') ?? header(headers, 'shopify-hmac-sha256');
  const shopDomain = header(headers, 'x-shopify-shop-domain') ?? header(headers, 'shopify-shop-domain');
  if (!hmac) throw new AppError('connectors.shopify.unauthenticated', 'X-Shopify-Hmac-Sha256 is missing', { header: 'X-Shopify-Hmac-Sha256' });
  if (!shopDomain) throw new AppError('connectors.shopify.unauthenticated', 'X-Shopify-Shop-Domain is missing', { header: 'X-Shopify-Shop-Domain' });
  const topic = header(headers, 'x-shopify-topic') ?? header(headers, 'shopify-topic');
  const webhookId = header(headers, 'x-shopify-webhook-id');
  return {
    topic: topic ?? '',
    hmac,
    shopDomain: shopDomain.toLowerCase(),
    webhookId: webhookId ?? '',
    eventId: header(headers, 'x-shopify-event-id') ?? header(headers, 'shopify-event-id') ?? null,
    triggeredAt: header(headers, 'x-shopify-triggered-at') ?? header(headers, 'shopify-triggered-at') ?? null,
    apiVersion: header(headers, 'x-shopify-api-version') ?? null,
  };
}

/** A signed request without a topic or webhook id is malformed (400): we could not dedupe it. */
export function requireShopifyEventHeaders(headers: ShopifyWebhookHeaders): void {
  if (!headers.topic) throw new AppError('connectors.shopify.missing_header', 'X-Shopify-Topic is missing', { header: 'X-Shopify-Topic' });
  if (!headers.webhookId) throw new AppError('connectors.shopify.missing_header', 'X-Shopify-Webhook-Id is missing', { header: 'X-Shopify-Webhook-Id' });
}

/** base64(HMAC-SHA256(secret, raw body)), as Shopify signs webhooks (protocols.md A2). */
export function signShopifyBody(secret: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

/** Verifies the signature over the raw bytes, in constant time, before anything parses the body. */
export function verifyShopifySignature(secret: string, rawBody: Buffer, hmacHeader: string): boolean {
  const expected = Buffer.from(signShopifyBody(secret, rawBody), 'base64');
  const given = Buffer.from(hmacHeader, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
