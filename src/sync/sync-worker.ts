import type { Logger } from 'pino';
import { classifyStorageError, type Db, type Tx } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import type { Metrics } from '../shared/metrics.ts';
import { raiseException } from './exceptions.ts';
import { claimInboxEvent, listDueInboxEvents, prerequisiteMissingCodes, recordInboxFailure, type InboxEvent } from './inbox.ts';
import { createOutboxDelivery } from './outbox-delivery.ts';
import type { OutboxEvent } from './outbox.ts';

/**
 * Applies one inbound event inside the given transaction; says whether it was applied or only kept.
 * `prepared` is what the preparer fetched for it before the transaction (undefined without one).
 */
export type InboxHandler<Prepared = undefined> = (tx: Tx, event: InboxEvent, prepared: Prepared | undefined) => Promise<{ outcome: 'processed' | 'ignored'; note?: string }>;
/**
 * Fetches what applying an event needs from outside (a channel's API) before its transaction opens:
 * a network call inside the transaction would hold it open, and on SQLite block every writer. A
 * throw counts as a failed attempt of the event, retried with backoff like any other.
 */
export type InboxPreparer<Prepared> = (event: InboxEvent) => Promise<Prepared | undefined>;
/** Delivers one outbound message to its destination; throws to retry. May return a note to keep. */
export type OutboxDeliverer = (event: OutboxEvent) => Promise<string | void>;

export interface SyncWorkerOptions<Prepared = undefined> {
  db: Db;
  logger: Logger;
  metrics: Metrics;
  prepareInboxEvent?: InboxPreparer<Prepared>;
  handleInboxEvent: InboxHandler<Prepared>;
  deliverers: Record<string, OutboxDeliverer>;
  pollIntervalMs?: number;
}

const defaultPollIntervalMs = 250;
const drainRoundsMax = 1_000;

/**
 * The in-process worker: processes the inbox and delivers the outbox in bounded batches, at its own
 * pace. `wake()` shortens the wait after new work is committed; `drain()` runs until nothing is due.
 */
export function createSyncWorker<Prepared = undefined>(options: SyncWorkerOptions<Prepared>) {
  const { db, logger, metrics } = options;
  const pollIntervalMs = options.pollIntervalMs ?? defaultPollIntervalMs;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<number> = Promise.resolve(0);

  async function processInboxEvent(event: InboxEvent): Promise<void> {
    try {
      const prepared = options.prepareInboxEvent ? await options.prepareInboxEvent(event) : undefined;
      await db.transaction().execute(async (tx) => {
        if (!(await claimInboxEvent(tx, event.id, 'processed'))) return;
        const result = await options.handleInboxEvent(tx, event, prepared);
        if (result.outcome === 'ignored' || result.note) {
          await tx.updateTable('inbox_events').set({ status: result.outcome, error: result.note ?? null }).where('id', '=', event.id).execute();
        }
        metrics.inboxEvents.inc({ source: event.source, outcome: result.outcome });
      });
    } catch (error) {
      // The storage failed, not the event (a full disk, the server away): not an attempt, so an
      // outage never burns an event's retries. The round ends here and the next waits a poll.
      if (classifyStorageError(error)) throw error;
      try {
        await recordInboxEventFailure(event, error);
      } catch (recordError) {
        // The failure could not even be recorded (the database is away): the event is still
        // `received`, so a later round tries it again; the rest of this batch goes on.
        logger.error({ eventId: event.id, err: recordError }, 'inbox event failure could not be recorded');
      }
    }
  }

  /**
   * A failed attempt: retried with backoff, and after the last attempt an `inbox_failed` exception
   * for a person. An event missing what a later event of its resource brings (a refund before its
   * order) moves behind that resource's other events, so it does not hold them back.
   */
  async function recordInboxEventFailure(event: InboxEvent, error: unknown): Promise<void> {
    const message = error instanceof AppError ? `${error.code}: ${error.message}` : String((error as Error).stack ?? error);
    const park = error instanceof AppError && prerequisiteMissingCodes.has(error.code);
    const verdict = await recordInboxFailure(db, event, message, { park });
    metrics.inboxEvents.inc({ source: event.source, outcome: verdict });
    logger.warn({ eventId: event.id, topic: event.topic, resourceKey: event.resource_key, verdict, err: message }, 'inbox event failed');
    if (verdict === 'failed') {
      await raiseException(db, event.merchant_id, { kind: 'inbox_failed', dedupeKey: `inbox:${event.id}`, subject: event.id, details: { source: event.source, topic: event.topic, error: message } });
      metrics.exceptionsRaised.inc({ kind: 'inbox_failed' });
    }
  }

  // The outbound half (claims, circuit breakers, retries, dead letters): sync/outbox-delivery.ts.
  const outboxDelivery = createOutboxDelivery({ db, logger, metrics, deliverers: options.deliverers });

  /** One round: a batch of inbox events, then a batch of outbox messages. Returns how many were due. */
  async function runOnce(): Promise<number> {
    const inbox = await listDueInboxEvents(db);
    for (const event of inbox) await processInboxEvent(event);
    const outbox = await outboxDelivery.claimDue();
    for (const event of outbox) await outboxDelivery.deliver(event);
    return inbox.length + outbox.length;
  }

  // One round at a time: a wake during a round asks for another round right after it.
  let roundInFlight = false;
  let wakeRequested = false;

  function runRound(): void {
    if (roundInFlight) {
      wakeRequested = true;
      return;
    }
    roundInFlight = true;
    wakeRequested = false;
    current = runOnce().catch((error: unknown) => {
      logger.error({ err: error }, 'sync worker round failed');
      return 0;
    });
    void current.then((count) => {
      roundInFlight = false;
      schedule(count > 0 || wakeRequested ? 0 : pollIntervalMs);
    });
  }

  function schedule(delayMs: number): void {
    if (!running) return;
    clearTimeout(timer);
    timer = setTimeout(runRound, delayMs);
  }

  return {
    start(): void {
      running = true;
      schedule(0);
    },
    async stop(): Promise<void> {
      running = false;
      clearTimeout(timer);
      await current;
    },
    /** Called after committing new work so it is picked up at once rather than at the next poll. */
    wake(): void {
      if (running) schedule(0);
    },
    runOnce,
    /** Names this worker in the outbox's `claimed_by` (host, process id, a random part). */
    workerId: outboxDelivery.workerId,
    /** Runs rounds until nothing is due; for tests and the demo. */
    async drain(): Promise<void> {
      await current;
      for (let round = 0; round < drainRoundsMax; round += 1) {
        if ((await runOnce()) === 0) return;
      }
      throw new Error('sync worker did not drain');
    },
  };
}

export type SyncWorker = ReturnType<typeof createSyncWorker>;
