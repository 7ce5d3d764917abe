import pino, { type Logger } from 'pino';
import { defaultWebhookReplayWindows, type WebhookReplayWindows } from './config.ts';
import { applyShopifyEvent, createShopifyDeliverer, runScheduledShopifyReconciliation, type ShopifyClientFactory } from './connectors/shopify/index.ts';
import { applySquareEvent, createSquareDeliverer, createSquareEventPreparer, type PreparedSquareEvent, type SquareClientFactory } from './connectors/square/index.ts';
import { createMerchantWebhookDeliverer } from './connectors/merchant/index.ts';
import { migrateToLatest, openDatabase, type DatabaseHandle, type Tx } from './db/index.ts';
import { buildServer } from './http/server.ts';
import type { AppInstance } from './http/app-instance.ts';
import { createMetrics, type Metrics } from './shared/metrics.ts';
import { createScheduler, createSyncGaugeReader, createSyncWorker, pruneSettledSyncRows, type InboxEvent, type Scheduler, type SyncWorker } from './sync/index.ts';
import { expireDueReservations } from './commands/index.ts';
import { payQualifiedReferrals } from './commands/index.ts';
import { announceCustomerChange, announceExpiringPoints, awardDueBirthdayBonuses, downgradeDueTiers, expireInactivePoints } from './commands/index.ts';
import { expireDueLots, releaseDuePendingLots } from './loyalty/index.ts';

export interface EngineOptions {
  databaseUrl: string;
  postgresSchema?: string;
  logger?: Logger;
  startWorker?: boolean;
  workerPollIntervalMs?: number;
  shopifyClientFactory?: ShopifyClientFactory;
  /** The engine's address as Shopify reaches it (PUBLIC_URL); webhook subscriptions point at it. */
  publicUrl?: string | null;
  /** How often the Shopify reconciliation (webhook subscriptions, recent orders) runs; 0 or unset: not scheduled. */
  reconcileIntervalMs?: number;
  /** Days applied inbox events and delivered outbox messages are kept (src/sync/retention.ts); 0 or unset: kept for ever. */
  syncRetentionDays?: number;
  /** How the worker reaches a merchant's Square API (RetrieveOrder for register sales, RefundPayment for returns); tests inject one. */
  squareClientFactory?: SquareClientFactory;
  /** How old a webhook's delivery time may be (replays refused); unset: the defaults of `config.ts`, null: a channel not checked. */
  webhookReplayWindows?: WebhookReplayWindows;
}

export interface Engine {
  database: DatabaseHandle;
  metrics: Metrics;
  worker: SyncWorker;
  /** Expiry of holds and uncollected pickups; more jobs join it as the program grows. */
  scheduler: Scheduler;
  server: AppInstance;
  logger: Logger;
  close(): Promise<void>;
}

/** What a connector fetched for an event before its transaction; only Square needs anything yet. */
type PreparedInboxEvent = PreparedSquareEvent;

/** Routes a stored inbound event to the connector that speaks its channel. */
async function applyInboxEvent(tx: Tx, event: InboxEvent, prepared: PreparedInboxEvent | undefined) {
  switch (event.source) {
    case 'shopify':
      return applyShopifyEvent(tx, event);
    case 'square':
      return applySquareEvent(tx, event, prepared);
    default:
      return { outcome: 'ignored' as const, note: `${event.source} events are kept but not applied yet (issue #7)` };
  }
}

// How often scheduled jobs (expiries) look for due work: holds are minutes long, so seconds suffice.
const scheduledJobIntervalMs = 5_000;
// Referrals qualify when a return window of days closes: a minute late is never noticed.
const referralJobIntervalMs = 60_000;
// Pending points are released and lots expire to the minute: each run takes a bounded batch.
const loyaltyLotJobIntervalMs = 60_000;
// Tier downgrades, birthdays and inactivity are decided by the day; hourly runs are daily enough
// and give a day's birthdays 24 chances if the engine was down for part of it.
const loyaltyDailyJobIntervalMs = 3_600_000;
// Each run deletes a bounded number of settled sync rows; every 10 minutes keeps up with a busy shop.
const syncRetentionJobIntervalMs = 600_000;

/**
 * Wires the engine: database (migrated), metrics, the sync worker and the HTTP server. The caller
 * listens on a port or injects requests; `close()` stops the worker, the server and the database.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const logger = options.logger ?? pino({ level: 'info' });
  const database = openDatabase(options.databaseUrl, options.postgresSchema ? { postgresSchema: options.postgresSchema } : {});
  await migrateToLatest(database.db, database.dialect);
  const metrics = createMetrics();
  const prepareSquareEvent = createSquareEventPreparer(database.db, options.squareClientFactory);
  const deliverers = {
    shopify: createShopifyDeliverer(database.db, options.shopifyClientFactory),
    square: createSquareDeliverer(database.db, options.squareClientFactory),
    merchant_webhook: createMerchantWebhookDeliverer(database.db),
  };
  metrics.attachSyncGauges(createSyncGaugeReader(database.db, Object.keys(deliverers)));
  const worker = createSyncWorker<PreparedInboxEvent>({
    db: database.db, logger, metrics, handleInboxEvent: applyInboxEvent,
    prepareInboxEvent: async (event) => (event.source === 'square' ? prepareSquareEvent(event) : undefined),
    deliverers,
    ...(options.workerPollIntervalMs !== undefined ? { pollIntervalMs: options.workerPollIntervalMs } : {}),
  });
  const server = await buildServer({
    database, metrics, worker, webhookReplayWindows: options.webhookReplayWindows ?? defaultWebhookReplayWindows,
    shopify: { publicUrl: options.publicUrl ?? null, ...(options.shopifyClientFactory ? { clientFactory: options.shopifyClientFactory } : {}) },
  }, logger);
  await server.ready();
  const scheduler = createScheduler([
    { name: 'expire-reservations', intervalMs: scheduledJobIntervalMs, run: () => expireDueReservations(database.db) },
    { name: 'pay-qualified-referrals', intervalMs: referralJobIntervalMs, run: () => payQualifiedReferrals(database.db) },
    { name: 'release-pending-points', intervalMs: loyaltyLotJobIntervalMs, run: () => releaseDuePendingLots(database.db, undefined, announceCustomerChange) },
    { name: 'expire-points', intervalMs: loyaltyLotJobIntervalMs, run: () => expireDueLots(database.db, undefined, announceCustomerChange) },
    { name: 'announce-expiring-points', intervalMs: loyaltyDailyJobIntervalMs, run: () => announceExpiringPoints(database.db) },
    { name: 'expire-inactive-points', intervalMs: loyaltyDailyJobIntervalMs, run: () => expireInactivePoints(database.db) },
    { name: 'downgrade-tiers', intervalMs: loyaltyDailyJobIntervalMs, run: () => downgradeDueTiers(database.db) },
    { name: 'birthday-bonuses', intervalMs: loyaltyDailyJobIntervalMs, run: () => awardDueBirthdayBonuses(database.db) },
    ...(options.syncRetentionDays ? [{
      name: 'prune-settled-sync-rows', intervalMs: syncRetentionJobIntervalMs,
      run: async () => {
        const pruned = await pruneSettledSyncRows(database.db, options.syncRetentionDays!);
        return pruned.inboxEvents + pruned.outboxEvents + pruned.idempotencyKeys;
      },
    }] : []),
    ...(options.reconcileIntervalMs ? [{
      name: 'reconcile-shopify', intervalMs: options.reconcileIntervalMs,
      run: () => runScheduledShopifyReconciliation(database.db, {
        publicUrl: options.publicUrl ?? null, ...(options.shopifyClientFactory ? { clientFactory: options.shopifyClientFactory } : {}),
        onError: (merchantId, error) => logger.warn({ merchantId, err: error }, 'Shopify reconciliation failed for a merchant'),
      }),
    }] : []),
  ], logger);
  if (options.startWorker) {
    worker.start();
    scheduler.start();
  }
  return {
    database, metrics, worker, scheduler, server, logger,
    async close() {
      await scheduler.stop();
      await worker.stop();
      await server.close();
      await database.close();
    },
  };
}
