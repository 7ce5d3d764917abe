import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { signShopifyBody } from '../connectors/shopify/index.ts';

export interface SendShopifyWebhookOptions {
  url: string;
  shop: string;
  secret: string;
}

/**
 * Sends a file as a Shopify webhook, signed over its exact bytes like Shopify does, with fresh
 * delivery and event ids (pass the same ids to see a duplicate recognised).
 */
export async function sendShopifyWebhook(topic: string, file: string, options: SendShopifyWebhookOptions & { webhookId?: string; eventId?: string }): Promise<void> {
  const body = readFileSync(file);
  const response = await fetch(options.url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Shopify-Topic': topic,
      'X-Shopify-Shop-Domain': options.shop,
      'X-Shopify-Hmac-Sha256': signShopifyBody(options.secret, body),
      'X-Shopify-Webhook-Id': options.webhookId ?? randomUUID(),
      'X-Shopify-Event-Id': options.eventId ?? randomUUID(),
      'X-Shopify-Triggered-At': new Date().toISOString(),
      'X-Shopify-API-Version': '2026-04',
    },
    body,
  });
  console.log(`${response.status} ${await response.text()}`);
  if (!response.ok) process.exitCode = 1;
}
