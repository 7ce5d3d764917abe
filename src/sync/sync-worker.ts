import type { Logger } from 'pino';
import { classifyStorageError, inSavepoint, keepReadsForTransaction, type Db, type Tx } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import type { Metrics } from '../shared/metrics.ts';
import { raiseException } from './exceptions.ts';
import { claimInboxEvent, listDueInboxEvents, prerequisiteMissingCodes, recordInboxFailure, type InboxEvent } from './inbox.ts';
import { createOutboxDelivery } from './outbox-delivery.ts';
import { deferOutboxAbsorbs, flushOutboxAbsorbs, type OutboxEvent } from './outbox.ts';

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
 * Inbox events applied in one transaction at most. On SQLite the transaction holds the one
 * connection, so this bounds how long a webhook's insert waits behind it (about 50 orders of
 * ~1 ms); one commit for 50 orders costs each a fiftieth of an fsync.
 */
export const inboxEventsPerTransactionMax = 50;
/** After a batch in which an event failed, the batches that follow apply each event in a savepoint of its own. */
export const savepointBatchesAfterFailure = 20;

/**
 * The in-process worker: processes the inbox and delivers the outbox in bounded batches, at its own
 * pace. `wake()` shortens the wait after new work is committed; `drain()` runs until nothing is due.
 */
export function createSyncWorker<Prepared = undefined>(options: SyncWorkerOptions<Prepared>) {
  const { db, logger, metrics } = options;
  const pollIntervalMs = options.pollIntervalMs ?? defaultPollIntervalMs;

  /**
   * Applies one event inside `tx` (the caller's transaction or savepoint). Returns the outcome to
   * count once committed, or undefined when another worker had already claimed the event.
   */
  async function applyClaimedEvent(tx: Tx, event: InboxEvent, prepared: Prepared | undefined): Promise<'processed' | 'ignored' | undefined> {
    if (!(await claimInboxEvent(tx, event.id, 'processed'))) return undefined;
    const result = await options.handleInboxEvent(tx, event, prepared);
    if (result.outcome === 'ignored' || result.note) {
      await tx.updateTable('inbox_events').set({ status: result.outcome, error: result.note ?? null }).where('id', '=', event.id).execute();
    }
    return result.outcome;
  }

  /**
   * A failed attempt that is the event's own, recorded on its own; a storage failure is not an
   * attempt (a full disk, the server away), so an outage never burns an event's retries: it is
   * rethrown, the round ends, and the next waits a poll.
   */
  async function settleFailure(event: InboxEvent, error: unknown): Promise<void> {
    if (classifyStorageError(error)) throw error;
    try {
      await recordInboxEventFailure(event, error);
    } catch (recordError) {
      // The failure could not even be recorded (the database is away): the event is still
      // `received`, so a later round tries it again; the rest of this batch goes on.
      logger.error({ eventId: event.id, err: recordError }, 'inbox event failure could not be recorded');
    }
  }

  /** One event in a transaction of its own: the fallback when a shared transaction fails as a whole. */
  async function processInboxEvent(event: InboxEvent, prepared: Prepared | undefined): Promise<void> {
    try {
      const outcome = await db.transaction().execute((tx) => applyClaimedEvent(tx, event, prepared));
      if (outcome) metrics.inboxEvents.inc({ source: event.source, outcome });
    } catch (error) {
      await settleFailure(event, error);
    }
  }

  type BatchEntry = { event: InboxEvent; prepared: Prepared | undefined };
  type Applied = { event: InboxEvent; outcome: 'processed' | 'ignored' };

  /**
   * Several events, one transaction (one commit, one fsync). Applied whole first, without a
   * savepoint per event: a savepoint costs two statements an event, and on SQLite a copy of every
   * page the event changes (bench/orders-end-to-end.ts: 2 of ~27 statements an order). Nearly every
   * batch succeeds whole. When an event fails, or the commit does, nothing of the batch is kept and
   * it is applied again with a savepoint per event (`processInboxBatchInSavepoints`), as are the
   * next `savepointBatchesAfterFailure` batches: while events fail, a batch is not applied twice.
   * The batch holds at most one event per resource (`listDueInboxEvents`), so applying them in one
   * transaction keeps each resource's order. Found by bench/orders-end-to-end.ts: one commit per
   * order was the largest cost of an order on SQLite (2.6 of 4.8 s of SQL for 400).
   */
  let savepointBatchesLeft = 0;
  async function processInboxBatch(batch: readonly BatchEntry[]): Promise<void> {
    if (batch.length === 1) return processInboxEvent(batch[0]!.event, batch[0]!.prepared);
    if (savepointBatchesLeft > 0) {
      savepointBatchesLeft -= 1;
      return processInboxBatchInSavepoints(batch);
    }
    const applied = await applyInboxBatchWhole(batch);
    if (applied) {
      for (const { event, outcome } of applied) metrics.inboxEvents.inc({ source: event.source, outcome });
      return;
    }
    savepointBatchesLeft = savepointBatchesAfterFailure;
    await processInboxBatchInSavepoints(batch);
  }

  /**
   * The batch in one transaction without savepoints: what was applied, or undefined when an event
   * or the commit failed and so nothing was kept. A storage failure is thrown (see `settleFailure`).
   */
  async function applyInboxBatchWhole(batch: readonly BatchEntry[]): Promise<Applied[] | undefined> {
    let applying: InboxEvent | undefined;
    try {
      return await db.transaction().execute(async (tx) => {
        keepReadsForTransaction(tx);
        // Without savepoints nothing is undone short of the whole batch, so the outbox messages it
        // added stay pending to its end: later changes to them are counted, and written once here.
        deferOutboxAbsorbs(tx);
        const applied: Applied[] = [];
        for (const { event, prepared } of batch) {
          applying = event;
          const outcome = await applyClaimedEvent(tx, event, prepared);
          if (outcome) applied.push({ event, outcome });
        }
        applying = undefined;
        await flushOutboxAbsorbs(tx);
        return applied;
      });
    } catch (error) {
      if (classifyStorageError(error)) throw error;
      logger.debug({ events: batch.length, eventId: applying?.id, err: error }, 'an inbox batch applied whole failed; it is applied again with a savepoint per event');
      return undefined;
    }
  }

  /**
   * The batch in one transaction, a SAVEPOINT each: an event that fails rolls back only its own
   * writes, its outbox messages included, and is recorded as a failed attempt once the others are
   * committed. A failure to roll back to a savepoint (the database ended the transaction itself) or
   * to commit leaves nothing of the batch applied; each event is then tried again in a transaction
   * of its own, so one bad event can never hold back the others.
   */
  async function processInboxBatchInSavepoints(batch: readonly BatchEntry[]): Promise<void> {
    const applied: Applied[] = [];
    const failed: { event: InboxEvent; error: unknown }[] = [];
    try {
      await db.transaction().execute(async (tx) => {
        // How each merchant is set up is read once for the batch, not once per event (db/transaction-memo.ts).
        keepReadsForTransaction(tx);
        for (const { event, prepared } of batch) {
          const result = await inSavepoint(tx, 'inbox_event', (savepoint) => applyClaimedEvent(savepoint, event, prepared));
          if (!result.ok) failed.push({ event, error: result.error });
          else if (result.value) applied.push({ event, outcome: result.value });
        }
      });
    } catch (error) {
      if (classifyStorageError(error)) throw error;
      logger.warn({ events: batch.length, err: error }, 'a batch of inbox events could not be committed; each is tried on its own');
      for (const { event, prepared } of batch) await processInboxEvent(event, prepared);
      return;
    }
    for (const { event, outcome } of applied) metrics.inboxEvents.inc({ source: event.source, outcome });
    for (const { event, error } of failed) await settleFailure(event, error);
  }

  /**
   * Applies a round's events in transactions of at most `inboxEventsPerTransactionMax`. What an
   * event needs from outside is fetched first, outside any transaction; a failure to fetch it is
   * that event's failed attempt.
   */
  async function processInboxEvents(events: readonly InboxEvent[]): Promise<void> {
    let batch: BatchEntry[] = [];
    for (const event of events) {
      let prepared: Prepared | undefined;
      try {
        prepared = options.prepareInboxEvent ? await options.prepareInboxEvent(event) : undefined;
      } catch (error) {
        await settleFailure(event, error);
        continue;
      }
      batch.push({ event, prepared });
      if (batch.length >= inboxEventsPerTransactionMax) {
        await processInboxBatch(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await processInboxBatch(batch);
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

  /** A batch of due inbox events, applied. Returns how many were due. */
  async function runInboxRound(): Promise<number> {
    const inbox = await listDueInboxEvents(db);
    await processInboxEvents(inbox);
    return inbox.length;
  }

  /** A claim of due outbox messages, delivered one by one. Returns how many were claimed. */
  async function runOutboxRound(): Promise<number> {
    const outbox = await outboxDelivery.claimDue();
    try {
      for (const event of outbox) await outboxDelivery.deliver(event);
    } finally {
      await outboxDelivery.recordDelivered();
    }
    return outbox.length;
  }

  /** One round of each half, one after the other (tests and `drain`). Returns how many were due. */
  async function runOnce(): Promise<number> {
    return (await runInboxRound()) + (await runOutboxRound());
  }

  // The two halves run side by side: a channel that answers slowly (Shopify throttling, a merchant's
  // webhook taking its 10 s) never holds back applying what arrives, and applying a burst never
  // holds back pushing. Found by bench/orders-end-to-end.ts: delivering took 7-16 % of each round
  // when the halves took turns. Events applied may have added messages, so the outbound half is
  // woken after each inbound round that found work.
  const outboxLoop = createRoundLoop('outbox', runOutboxRound, pollIntervalMs, logger);
  const inboxLoop = createRoundLoop('inbox', runInboxRound, pollIntervalMs, logger, () => outboxLoop.wake());

  return {
    start(): void {
      inboxLoop.start();
      outboxLoop.start();
    },
    async stop(): Promise<void> {
      await Promise.all([inboxLoop.stop(), outboxLoop.stop()]);
    },
    /** Called after committing new work so it is picked up at once rather than at the next poll. */
    wake(): void {
      inboxLoop.wake();
      outboxLoop.wake();
    },
    /**
     * Called after storing inbox events only (a webhook): the outbound half has nothing new until
     * they are applied, and is woken then. Woken by every webhook, it would read the outbox for
     * nothing thousands of times a second.
     */
    wakeInbox(): void {
      inboxLoop.wake();
    },
    runOnce,
    /** Names this worker in the outbox's `claimed_by` (host, process id, a random part). */
    workerId: outboxDelivery.workerId,
    /** Runs rounds until nothing is due; for tests and the demo. */
    async drain(): Promise<void> {
      await Promise.all([inboxLoop.settled(), outboxLoop.settled()]);
      for (let round = 0; round < drainRoundsMax; round += 1) {
        if ((await runOnce()) === 0) return;
      }
      throw new Error('sync worker did not drain');
    },
  };
}

/**
 * Runs `round` again at once while it finds work, else after `pollIntervalMs`. One round at a time:
 * a wake during a round asks for another right after it. `afterWork` is called after a round that
 * found work.
 */
function createRoundLoop(name: string, round: () => Promise<number>, pollIntervalMs: number, logger: Logger, afterWork?: () => void) {
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let roundInFlight = false;
  let wakeRequested = false;

  function schedule(delayMs: number): void {
    if (!running) return;
    clearTimeout(timer);
    timer = setTimeout(runRound, delayMs);
  }

  function runRound(): void {
    if (roundInFlight) {
      wakeRequested = true;
      return;
    }
    roundInFlight = true;
    wakeRequested = false;
    current = round().catch((error: unknown) => {
      logger.error({ err: error }, `sync worker ${name} round failed`);
      return 0;
    }).then((count) => {
      roundInFlight = false;
      if (count > 0) afterWork?.();
      schedule(count > 0 || wakeRequested ? 0 : pollIntervalMs);
    });
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
    wake(): void {
      schedule(0);
    },
    /** Resolves when the round in flight (if any) has ended. */
    settled: (): Promise<void> => current,
  };
}

export type SyncWorker = ReturnType<typeof createSyncWorker>;
