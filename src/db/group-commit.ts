import { PostgresAdapter } from 'kysely';
import { AppError, assert } from '../shared/app-error.ts';
import type { Db, Tx } from './database.ts';
import { inSavepoint, type SavepointOutcome } from './savepoint.ts';
import { toStorageUnavailable } from './storage-errors.ts';

// Group commit for request transactions (issue #9), as src/sync/inbox-writer.ts does for webhooks.
// A request that writes is answered only once its transaction is durably committed; committing
// each on its own costs one fsync per request (on SQLite also the log's write on the event loop), and
// on one hot row every request also waits for the previous one's commit. Measured by
// bench/stock.ts on the 2-core machine: a conditional UPDATE + movement INSERT commits 6,243/s at
// one per transaction and 33,514/s at 32 per transaction. Through the whole HTTP path (in-process,
// 32 at a time, alternating runs on the shared machine): a hold 856–1,022 µs CPU grouped against
// 1,441–1,680 µs alone, a register sale 1,887–1,963 µs against 2,639–2,693 µs.
//
// So the commands of concurrent requests share ONE transaction: each runs inside its own SAVEPOINT,
// in arrival order, so a command that is refused (a 409, a 422) or fails rolls back only its own
// writes and gets its own error, while the others of the batch go on. Every command is answered
// only after the COMMIT: with its own result, or its own error; when the COMMIT (or the batch's
// transaction) fails, nothing of the batch was stored and every command of it is refused with 503
// `storage.unavailable`, so nothing is acknowledged that was not stored. A storage failure inside a
// command (a full disk, a lost connection) fails the whole batch the same way, with its reason.
//
// When it commits: the first command of a batch waits one event loop turn (the requests already
// read get to join it), or until `batchSizeMax` wait. One batch runs at a time; commands that
// arrive meanwhile form the next batch, which starts as soon as it ends. Under load batches grow by
// themselves; an idle engine adds one turn of the event loop, and a batch of one command runs
// exactly as its own transaction did (no savepoint).
//
// On PostgreSQL the routes' shared committer (`requestGroupCommit`) runs each command in its own
// transaction, side by side over the pool, as before. Measured on the shared 2-core machine (holds
// on one SKU through the whole HTTP path, in .prof): grouped 59/s at 2,831 µs CPU each, alone 45/s
// at 3,217 µs, within the noise of that machine; and a batch holds a hot row's lock for all of its
// commands, so writers that are not grouped (a pickup, a webhook's order) wait on it holding pool
// connections, and the requests behind them found no connection within 5 s (503, found by
// test/pickup-and-stock.test.ts: 200 buyers for 10 units). The server's own group commit
// (commit_delay) is the tool there. `createGroupCommit` itself works on both dialects.
//
// A command must use only the `tx` it is given: on SQLite the one connection is held by the
// batch's transaction, so a query on the database itself would wait for the batch for ever.

export interface GroupCommitOptions {
  db: Db;
  /** Commands one transaction runs at most. */
  batchSizeMax?: number;
  /** Commands waiting for a transaction at most; a command beyond it is refused (503), not queued. */
  queueSizeMax?: number;
  /** Where a failed commit is logged (its cause is not sent to the caller). */
  logger?: { error(details: object, message: string): void };
  /** Told the number of commands of each batch committed (a metric, and for tests). */
  onCommit?(commands: number): void;
}

export interface GroupCommit {
  /**
   * Runs `command` in a transaction shared with the commands of concurrent requests, inside its own
   * savepoint. Resolves with its result once the transaction is committed; rejects with the
   * command's own error when it threw (its writes are rolled back, the others' are not); rejects
   * with 503 `storage.unavailable` when the batch's transaction could not be committed (nothing of
   * the batch was stored).
   */
  run<T>(command: (tx: Tx) => Promise<T>): Promise<T>;
  /** Commits what is waiting and refuses later commands. */
  close(): Promise<void>;
}

export const groupCommitDefaults = { batchSizeMax: 64, queueSizeMax: 10_000 } as const;
const batchSizeMaxLimit = 1_000;
const queueSizeMaxLimit = 1_000_000;

interface Waiting {
  command(tx: Tx): Promise<unknown>;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

type Outcome = SavepointOutcome<unknown>;

/** Thrown inside a batch of one to roll its transaction back; carries the command's own error out. */
class CommandFailed extends Error {
  constructor(readonly commandError: unknown) {
    super('the command failed');
  }
}

export function createGroupCommit(options: GroupCommitOptions): GroupCommit {
  const batchSizeMax = options.batchSizeMax ?? groupCommitDefaults.batchSizeMax;
  const queueSizeMax = options.queueSizeMax ?? groupCommitDefaults.queueSizeMax;
  assert(Number.isSafeInteger(batchSizeMax) && batchSizeMax >= 1 && batchSizeMax <= batchSizeMaxLimit, `batchSizeMax is 1 to ${batchSizeMaxLimit} (got ${batchSizeMax})`);
  assert(Number.isSafeInteger(queueSizeMax) && queueSizeMax >= batchSizeMax && queueSizeMax <= queueSizeMaxLimit, `queueSizeMax is ${batchSizeMax} to ${queueSizeMaxLimit} (got ${queueSizeMax})`);

  const queue: Waiting[] = [];
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Immediate | undefined;
  let closed = false;

  function schedule(): void {
    if (inFlight || queue.length === 0) return;
    if (queue.length >= batchSizeMax || closed) {
      if (timer !== undefined) clearImmediate(timer);
      timer = undefined;
      inFlight = commitBatch();
      return;
    }
    if (timer !== undefined) return;
    timer = setImmediate(() => {
      timer = undefined;
      if (!inFlight && queue.length > 0) inFlight = commitBatch();
    });
  }

  /** A batch of one: its own transaction, as before group commit; its error rolls it back and is its answer. */
  async function runAlone(waiting: Waiting): Promise<Outcome[]> {
    try {
      const value = await options.db.transaction().execute(async (tx) => {
        try {
          return await waiting.command(tx);
        } catch (error) {
          throw new CommandFailed(error);
        }
      });
      return [{ ok: true, value }];
    } catch (error) {
      if (error instanceof CommandFailed) return [{ ok: false, error: error.commandError }];
      throw error;
    }
  }

  /**
   * Several commands, one transaction, a savepoint each. A failure to roll back to a savepoint (the
   * database ended the transaction itself: a full disk, a lost connection) fails the whole batch.
   */
  async function runTogether(batch: Waiting[]): Promise<Outcome[]> {
    return options.db.transaction().execute(async (tx) => {
      const outcomes: Outcome[] = [];
      // A storage failure (a full disk, a lost connection) is thrown: the whole batch fails, with its reason.
      for (const waiting of batch) outcomes.push(await inSavepoint(tx, 'group_command', waiting.command));
      return outcomes;
    });
  }

  async function commitBatch(): Promise<void> {
    const batch = queue.splice(0, batchSizeMax);
    try {
      const outcomes = batch.length === 1 ? await runAlone(batch[0]!) : await runTogether(batch);
      assert(outcomes.length === batch.length, 'one outcome per command');
      options.onCommit?.(batch.length);
      batch.forEach((waiting, index) => {
        const outcome = outcomes[index]!;
        if (outcome.ok) waiting.resolve(outcome.value);
        else waiting.reject(outcome.error);
      });
    } catch (error) {
      // A batch of one keeps the error that says why (a full disk is already a 503 of its own kind).
      if (batch.length === 1) {
        batch[0]!.reject(error);
      } else {
        options.logger?.error({ err: error, commands: batch.length }, 'a batch of commands could not be committed; none of them was acknowledged');
        const failure = toStorageUnavailable(error) ?? new AppError('storage.unavailable', 'The change could not be stored, so it was not made; send it again', { reason: 'commit_failed' });
        for (const waiting of batch) waiting.reject(failure);
      }
    } finally {
      inFlight = undefined;
      schedule();
    }
  }

  return {
    run<T>(command: (tx: Tx) => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(new AppError('storage.unavailable', 'The engine is stopping; nothing was changed', { reason: 'stopping' }));
      if (queue.length >= queueSizeMax) return Promise.reject(new AppError('storage.unavailable', 'Too many changes are waiting to be stored; send it again later', { reason: 'queue_full', queued: queue.length }));
      return new Promise<T>((resolve, reject) => {
        queue.push({ command, resolve: resolve as (result: unknown) => void, reject });
        schedule();
      });
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearImmediate(timer);
      timer = undefined;
      while (inFlight || queue.length > 0) {
        if (!inFlight) inFlight = commitBatch();
        await inFlight;
      }
    },
  };
}

const shared = new WeakMap<Db, GroupCommit>();

/**
 * The database's one group committer for request transactions, made on first use: the routes that
 * adopt group commit share it, so their commands share transactions too (on SQLite two committers
 * would only take turns on the one connection).
 */
export function requestGroupCommit(db: Db): GroupCommit {
  let committer = shared.get(db);
  if (!committer) {
    committer = db.getExecutor().adapter instanceof PostgresAdapter ? createTransactionPerCommand(db) : createGroupCommit({ db });
    shared.set(db, committer);
  }
  return committer;
}

/** Each command in its own transaction (PostgreSQL, see above), refusing commands once closed like the group committer. */
function createTransactionPerCommand(db: Db): GroupCommit {
  let closed = false;
  const running = new Set<Promise<unknown>>();
  return {
    run(command) {
      if (closed) return Promise.reject(new AppError('storage.unavailable', 'The engine is stopping; nothing was changed', { reason: 'stopping' }));
      const run = db.transaction().execute(command);
      const tracked = run.finally(() => running.delete(tracked)).catch(() => undefined);
      running.add(tracked);
      return run;
    },
    async close() {
      closed = true;
      await Promise.all(running);
    },
  };
}

/** Commits what the database's shared committer holds and refuses later commands (before the database closes). */
export async function closeRequestGroupCommit(db: Db): Promise<void> {
  const committer = shared.get(db);
  if (committer) await committer.close();
}
