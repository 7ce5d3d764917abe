import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { DatabaseHandle, StorageHealth } from '../db/index.ts';
import type { Metrics } from '../shared/metrics.ts';
import type { SyncWorker } from '../sync/index.ts';
import type { ShopifyClientFactory } from '../connectors/shopify/index.ts';
import type { WebhookReplayWindows } from '../config.ts';

export type AppInstance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** What route modules need from the engine. */
export interface RouteDependencies {
  database: DatabaseHandle;
  metrics: Metrics;
  worker: SyncWorker;
  /** The Shopify connector's settings for its admin routes: the engine's public URL and, in tests, a client factory. */
  shopify?: { publicUrl: string | null; clientFactory?: ShopifyClientFactory };
  /** How old a webhook's delivery time may be, per channel (null: not checked); unset: not checked. */
  webhookReplayWindows?: WebhookReplayWindows;
  /** The storage failures the HTTP layer saw lately, for /healthz (set by buildServer). */
  storageHealth?: StorageHealth;
}
