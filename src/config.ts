import type { ReplayWindow } from './connectors/replay-window.ts';
import { defaultSyncRetentionDays, syncRetentionDaysMin } from './sync/retention.ts';

/** The replay window of each channel's webhooks (`docs/inbox.md`, "Replay window"); null: not checked. */
export interface WebhookReplayWindows {
  shopify: ReplayWindow | null;
  square: ReplayWindow | null;
}

/**
 * Shopify retries a failed delivery 8 times over 4 hours, each retry with the original
 * X-Shopify-Triggered-At (shared/reference/protocols.md A3); its older policy retried for 48 hours.
 * 48 hours takes every retry of either policy. The header is not signed, so this refuses replays
 * that keep their headers; the signed body's own ids make any replay a duplicate (docs/inbox.md).
 */
export const defaultShopifyWebhookMaxAgeHours = 48;
/**
 * Square retries for up to 72 hours, each retry with the event's original `created_at`, which the
 * signature covers (protocols.md C3). 96 hours takes every retry with a day to spare.
 */
export const defaultSquareWebhookMaxAgeHours = 96;
/** A delivery time ahead of our clock by more than this is refused: clocks differ, but not by more. */
export const webhookMaxAheadMinutes = 15;

/** A window of `maxAgeHours` (0: none). */
export function replayWindowOfHours(maxAgeHours: number): ReplayWindow | null {
  return maxAgeHours === 0 ? null : { maxAgeMs: maxAgeHours * 3_600_000, maxAheadMs: webhookMaxAheadMinutes * 60_000 };
}

export const defaultWebhookReplayWindows: WebhookReplayWindows = {
  shopify: replayWindowOfHours(defaultShopifyWebhookMaxAgeHours),
  square: replayWindowOfHours(defaultSquareWebhookMaxAgeHours),
};

/**
 * Every option of the engine, read from the environment, with its default. This is the one place
 * defaults live; docs/configuration.md lists the same table for people.
 */
export interface EngineConfig {
  /** `sqlite:PATH` (embedded, the default) or `postgres://...`. */
  databaseUrl: string;
  port: number;
  /** Loopback by default; set HOST=0.0.0.0 to serve other machines. */
  host: string;
  logLevel: string;
  /** Run the inbox/outbox worker in this process (on by default). */
  runWorker: boolean;
  workerPollIntervalMs: number;
  /**
   * The engine's address as the channels reach it (`https://continuum.example.com`), without a
   * trailing slash; Shopify's webhook subscriptions point at `${publicUrl}/webhooks/shopify`. Null
   * when unset: webhook subscriptions are then neither checked nor re-created.
   */
  publicUrl: string | null;
  /** How often the scheduled Shopify reconciliation (webhooks, recent orders) runs; 0 turns it off. */
  reconcileIntervalMs: number;
  /** SHOPIFY_WEBHOOK_MAX_AGE_HOURS (48) and SQUARE_WEBHOOK_MAX_AGE_HOURS (96); 0 turns a check off. */
  webhookReplayWindows: WebhookReplayWindows;
  /** SYNC_RETENTION_DAYS (30): applied inbox events and delivered outbox messages older are deleted; 0 keeps them. */
  syncRetentionDays: number;
}

function readInteger(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (got "${raw}")`);
  return value;
}

function readSyncRetentionDays(env: NodeJS.ProcessEnv): number {
  const days = readInteger('SYNC_RETENTION_DAYS', defaultSyncRetentionDays, env);
  if (days !== 0 && days < syncRetentionDaysMin) throw new Error(`SYNC_RETENTION_DAYS must be 0 (keep every row) or at least ${syncRetentionDaysMin}: the channels redeliver for up to 3 days (got "${env['SYNC_RETENTION_DAYS']}")`);
  return days;
}

function readPublicUrl(env: NodeJS.ProcessEnv): string | null {
  const raw = env['PUBLIC_URL'];
  if (raw === undefined || raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`PUBLIC_URL must be an absolute URL such as https://continuum.example.com (got "${raw}")`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`PUBLIC_URL must be an http(s) URL (got "${raw}")`);
  return raw.replace(/\/+$/, '');
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  return {
    databaseUrl: env['DATABASE_URL'] || 'sqlite:./data/continuum.db',
    port: readInteger('PORT', 3000, env),
    host: env['HOST'] || '127.0.0.1',
    logLevel: env['LOG_LEVEL'] || 'info',
    runWorker: (env['WORKER'] ?? 'on') !== 'off',
    workerPollIntervalMs: readInteger('WORKER_POLL_INTERVAL_MS', 250, env),
    publicUrl: readPublicUrl(env),
    reconcileIntervalMs: readInteger('RECONCILE_INTERVAL_MS', 3_600_000, env),
    webhookReplayWindows: {
      shopify: replayWindowOfHours(readInteger('SHOPIFY_WEBHOOK_MAX_AGE_HOURS', defaultShopifyWebhookMaxAgeHours, env)),
      square: replayWindowOfHours(readInteger('SQUARE_WEBHOOK_MAX_AGE_HOURS', defaultSquareWebhookMaxAgeHours, env)),
    },
    syncRetentionDays: readSyncRetentionDays(env),
  };
}
