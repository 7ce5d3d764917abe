import type { CompiledQuery } from 'kysely';
import type { Db, Queryable, WriterThread } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { inboxStoreBatchMax, storeInboxEvents, storeInboxEventsOnThread, type InboundEvent, type StoredInboxEvent } from './inbox.ts';

// Group commit for webhooks (issue #9). A webhook is answered only once its event is durably
// committed; committing each request on its own costs one fsync (and on SQLite one write of the
// log on the event loop) per event. The writer instead collects the events of concurrent requests
// and stores them with one INSERT in one transaction (one commit, one fsync), then answers each
// request with its own outcome.
//
// When it commits: the first event of a batch waits `windowMs` (default 0: until the event loop
// has run the requests it has already read, one turn), or until `batchSizeMax` events wait. One
// batch is in flight at a time; events that arrive meanwhile form the next batch, which starts as
// soon as it ends. So under load batches grow by themselves and an idle engine adds no delay.
//
// Where the database offers a writer thread (SQLite on a file), a batch is stored there, its
// statements and commit off the event loop (src/db/writer-thread.ts).

export interface InboxWriterOptions {
  db: Db;
  /** Events one commit stores at most. */
  batchSizeMax?: number;
  /** How long the first event of a batch waits for others to share its commit; 0 = one event loop turn. */
  windowMs?: number;
  /** Events waiting for a commit at most; a write beyond it is refused (503), not queued. */
  queueSizeMax?: number;
  /** Where a failed commit is logged (its cause is not sent to the channel). */
  logger?: { error(details: object, message: string): void };
  /** Told the size of each batch committed (a metric). */
  onCommit?(events: number): void;
  /** Where batches are stored off the event loop, while it is available (`DatabaseHandle.writerThread`). */
  thread?: WriterThread;
}

/**
 * What a write must still satisfy when its batch commits, and how it is refused otherwise. Checked
 * inside each commit's transaction, before the events are stored: a write whose guard no longer
 * holds is refused with its own error and its event is not stored; the rest of the batch is. The
 * webhook routes name the channel account (and secret) that verified the request, read from
 * memory, so that what is stored was signed by an account connected at the commit.
 */
export interface WriteGuard {
  /** Names the guard: writes with the same key share one check. */
  key: string;
  /** Returns a row while the guard holds (compiled for the writer's database). */
  holds: CompiledQuery;
  refuse(): Error;
}

export interface InboxWriter {
  /**
   * Resolves once the event is committed (`stored: true`) or recognised as a duplicate of a delivery
   * already held or earlier in the same batch (`stored: false`); rejects with `storage.unavailable`
   * when its batch could not be committed, and then nothing of that batch was stored; rejects with
   * the guard's own error (`refuse()`) when its guard no longer holds at the commit.
   */
  write(event: InboundEvent, guard?: WriteGuard): Promise<StoredInboxEvent>;
  /** Commits what is waiting and refuses later writes. */
  close(): Promise<void>;
}

/** The keys of the guards that no longer hold: their query returns no row in this transaction. */
async function failedGuards(tx: Queryable, guards: ReadonlyMap<string, WriteGuard>): Promise<Set<string>> {
  const failed = new Set<string>();
  for (const [key, guard] of guards) if ((await tx.executeQuery(guard.holds)).rows.length === 0) failed.add(key);
  return failed;
}

export const inboxWriterDefaults = { batchSizeMax: 256, windowMs: 0, queueSizeMax: 10_000 } as const;
const windowMsMax = 1_000;
const queueSizeMaxLimit = 1_000_000;

interface Waiting {
  event: InboundEvent;
  guard: WriteGuard | undefined;
  resolve(result: StoredInboxEvent): void;
  reject(error: Error): void;
}

export function createInboxWriter(options: InboxWriterOptions): InboxWriter {
  const batchSizeMax = options.batchSizeMax ?? inboxWriterDefaults.batchSizeMax;
  const windowMs = options.windowMs ?? inboxWriterDefaults.windowMs;
  const queueSizeMax = options.queueSizeMax ?? inboxWriterDefaults.queueSizeMax;
  assert(Number.isSafeInteger(batchSizeMax) && batchSizeMax >= 1 && batchSizeMax <= inboxStoreBatchMax, `batchSizeMax is 1 to ${inboxStoreBatchMax} (got ${batchSizeMax})`);
  assert(windowMs >= 0 && windowMs <= windowMsMax, `windowMs is 0 to ${windowMsMax} (got ${windowMs})`);
  assert(Number.isSafeInteger(queueSizeMax) && queueSizeMax >= batchSizeMax && queueSizeMax <= queueSizeMaxLimit, `queueSizeMax is ${batchSizeMax} to ${queueSizeMaxLimit} (got ${queueSizeMax})`);

  const queue: Waiting[] = [];
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  let closed = false;

  function cancelTimer(): void {
    if (timer === undefined) return;
    if (windowMs > 0) clearTimeout(timer as NodeJS.Timeout);
    else clearImmediate(timer as NodeJS.Immediate);
    timer = undefined;
  }

  /** Starts a batch now, or arranges for one; a batch in flight starts the next when it ends. */
  function schedule(): void {
    if (inFlight || queue.length === 0) return;
    if (queue.length >= batchSizeMax || closed) {
      cancelTimer();
      inFlight = commitBatch();
      return;
    }
    if (timer !== undefined) return;
    const start = () => {
      timer = undefined;
      if (!inFlight && queue.length > 0) inFlight = commitBatch();
    };
    timer = windowMs > 0 ? setTimeout(start, windowMs) : setImmediate(start);
  }

  type Stored = { accepted: Waiting[]; refused: Waiting[]; results: StoredInboxEvent[] };

  /** The distinct guards of the writes, by key. */
  function guardsOf(batch: Waiting[]): Map<string, WriteGuard> {
    const guards = new Map<string, WriteGuard>();
    for (const waiting of batch) if (waiting.guard && !guards.has(waiting.guard.key)) guards.set(waiting.guard.key, waiting.guard);
    return guards;
  }

  /**
   * One statement, so one transaction, without guards; with them, the checks and the insert in one
   * transaction, so nothing is stored for a guard that stopped holding before the commit.
   */
  async function storeBatch(batch: Waiting[]): Promise<Stored> {
    if (options.thread?.available) return storeBatchOnThread(batch, options.thread);
    const guards = guardsOf(batch);
    if (guards.size === 0) return { accepted: batch, refused: [], results: await storeInboxEvents(options.db, batch.map((waiting) => waiting.event)) };
    return options.db.transaction().execute(async (tx) => {
      const failed = await failedGuards(tx, guards);
      const accepted = batch.filter((waiting) => !waiting.guard || !failed.has(waiting.guard.key));
      const refused = batch.filter((waiting) => waiting.guard && failed.has(waiting.guard.key));
      const results = accepted.length > 0 ? await storeInboxEvents(tx, accepted.map((waiting) => waiting.event)) : [];
      return { accepted, refused, results };
    });
  }

  /**
   * On the writer thread, the checks and the insert run in its one transaction; when a guard no
   * longer holds nothing is stored, its writes are refused and the rest stored by a second unit.
   */
  async function storeBatchOnThread(batch: Waiting[], thread: WriterThread): Promise<Stored> {
    let accepted = batch;
    const refused: Waiting[] = [];
    while (accepted.length > 0) {
      const checks = [...guardsOf(accepted).values()].map((guard) => ({ key: guard.key, query: guard.holds }));
      const outcome = await storeInboxEventsOnThread(options.db, thread, accepted.map((waiting) => waiting.event), checks);
      if ('stored' in outcome) return { accepted, refused, results: outcome.stored };
      assert(outcome.failedChecks.length > 0, 'a unit not written names the checks that failed');
      const failed = new Set(outcome.failedChecks);
      refused.push(...accepted.filter((waiting) => waiting.guard && failed.has(waiting.guard.key)));
      accepted = accepted.filter((waiting) => !waiting.guard || !failed.has(waiting.guard.key));
    }
    return { accepted, refused, results: [] };
  }

  async function commitBatch(): Promise<void> {
    const batch = queue.splice(0, batchSizeMax);
    try {
      const { accepted, refused, results } = await storeBatch(batch);
      assert(results.length === accepted.length, 'one result per event stored');
      options.onCommit?.(accepted.length);
      accepted.forEach((waiting, index) => waiting.resolve(results[index]!));
      for (const waiting of refused) if (waiting.guard) waiting.reject(waiting.guard.refuse());
    } catch (error) {
      options.logger?.error({ err: error, events: batch.length }, 'an inbox batch could not be committed; none of its events was acknowledged');
      const failure = new AppError('storage.unavailable', 'The event could not be stored, so it is not acknowledged; send it again', { reason: 'commit_failed' });
      for (const waiting of batch) waiting.reject(failure);
    } finally {
      inFlight = undefined;
      schedule();
    }
  }

  return {
    write(event, guard) {
      if (closed) return Promise.reject(new AppError('storage.unavailable', 'The engine is stopping; the event was not stored', { reason: 'stopping' }));
      if (queue.length >= queueSizeMax) return Promise.reject(new AppError('storage.unavailable', 'Too many events are waiting to be stored; send it again later', { reason: 'queue_full', queued: queue.length }));
      return new Promise<StoredInboxEvent>((resolve, reject) => {
        queue.push({ event, guard, resolve, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      cancelTimer();
      while (inFlight || queue.length > 0) {
        if (!inFlight) inFlight = commitBatch();
        await inFlight;
      }
    },
  };
}
