import { createHmac } from 'node:crypto';
import autocannon, { type AutocannonResult } from 'autocannon';
import { LatencyHistogram, latencyMsMax } from './latency-histogram.ts';

// The load generator of the webhook ingest benchmark, run as a child process (`fork`) so that it
// never shares the engine's event loop. It receives a plan over IPC and fires autocannon at
// POST /webhooks/shopify on loopback: every request a distinct Shopify event (its own resource id,
// webhook id and event id in the body and headers), signed with the shop's secret as Shopify signs
// (HMAC-SHA256 over the raw body, base64). A warm-up first, not counted; then it says when the
// counted run starts, sends back one result and exits.

export interface WebhookLoadPlan {
  baseUrl: string;
  shopDomain: string;
  secret: string;
  topic: string;
  /** The body with every occurrence of the resource id replaced by `idPlaceholder`. */
  template: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Makes the ids of this run distinct from any earlier run on the same database. */
  runTag: string;
}

export interface WebhookLoadResult {
  /** Events acknowledged with a 2xx (stored durably, or recognised as a duplicate). */
  acknowledged: number;
  acknowledgedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Requests sent over the counted run (distinct events). */
  sent: number;
  bodyBytes: number;
}

export type WebhookLoadMessage = { type: 'measuring' } | { type: 'result'; result: WebhookLoadResult } | { type: 'error'; message: string };

export const idPlaceholder = '__RESOURCE_ID__';
const requestTimeoutSeconds = latencyMsMax / 1000;
const runSlackMs = 30_000;
// Resource ids of the run: a base far from the fixtures' ids, plus a counter.
const idBase = 4_000_000_000_000_000n;

function assertLoopback(baseUrl: string): void {
  const host = new URL(baseUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`the load generator only targets loopback, not ${host}`);
}

async function fire(plan: WebhookLoadPlan, durationSeconds: number, phase: string): Promise<WebhookLoadResult> {
  const parts = plan.template.split(idPlaceholder);
  if (parts.length < 2) throw new Error(`the template has no ${idPlaceholder}`);
  const histogram = new LatencyHistogram();
  let non2xx = 0;
  let sent = 0;
  let bodyBytes = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon({
      url: plan.baseUrl,
      connections: plan.connections,
      pipelining: 1,
      duration: durationSeconds,
      timeout: requestTimeoutSeconds,
      requests: [{
        method: 'POST',
        path: '/webhooks/shopify',
        setupRequest: (request) => {
          sent += 1;
          const body = parts.join(String(idBase + BigInt(sent)));
          bodyBytes = Buffer.byteLength(body);
          const webhookId = `${plan.runTag}-${phase}-${sent}`;
          return {
            ...request,
            body,
            headers: {
              'content-type': 'application/json',
              'x-shopify-topic': plan.topic,
              'x-shopify-shop-domain': plan.shopDomain,
              'x-shopify-api-version': '2026-04',
              'x-shopify-webhook-id': webhookId,
              'x-shopify-event-id': `event-${webhookId}`,
              'x-shopify-triggered-at': new Date().toISOString(),
              'x-shopify-hmac-sha256': createHmac('sha256', plan.secret).update(body).digest('base64'),
            },
          };
        },
      }],
    }, (error, finished) => (error ? reject(error) : resolve(finished)));
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      if (statusCode >= 200 && statusCode < 300) histogram.record(responseTimeMs);
      else non2xx += 1;
    });
    setTimeout(() => instance.stop(), durationSeconds * 1000 + runSlackMs).unref();
  });
  return {
    acknowledged: histogram.count, acknowledgedPerSecond: histogram.count / result.duration,
    p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99), non2xx, errors: result.errors, timeouts: result.timeouts, sent, bodyBytes,
  };
}

process.once('message', (message) => {
  const plan = message as WebhookLoadPlan;
  void (async () => {
    assertLoopback(plan.baseUrl);
    if (plan.warmupSeconds > 0) await fire(plan, plan.warmupSeconds, 'warmup');
    process.send?.({ type: 'measuring' } satisfies WebhookLoadMessage);
    process.send?.({ type: 'result', result: await fire(plan, plan.durationSeconds, 'counted') } satisfies WebhookLoadMessage);
    process.disconnect();
  })().catch((error: unknown) => {
    process.send?.({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies WebhookLoadMessage, () => process.exit(1));
  });
});
