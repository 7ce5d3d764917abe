import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints SQLite's write-ahead log on a thread of its own, so the event loop never copies the
 * log into the database file nor waits for the two syncs a checkpoint makes.
 *
 * SQLite checkpoints in the connection that commits: once the log holds 1,000 pages, the COMMIT
 * that crosses it copies them into the database file and syncs the log and the file, all on the
 * calling thread, here the event loop (better-sqlite3 is synchronous). Found by
 * bench/orders-end-to-end.ts and bench/webhook-ingest.ts (issue #9): with no checkpoint at all the
 * worker applied 8 % more orders a second and 13 KB webhooks were stored 6–18 % faster. With the
 * checkpoint on this thread, in alternating runs: 13 KB webhooks 3,153, 2,826, 3,031/s against
 * 2,816, 3,073, 1,940/s; orders applied 906–1,040/s (median 927) against 837–976 (median 901), within
 * the machine's noise (the thread's copying takes the second core from the rest of the process).
 *
 * Here a second connection on a worker thread runs a PASSIVE checkpoint (it never waits for, nor
 * holds back, a reader or the writer) after a write has committed, at most one at a time and at
 * most one every `checkpointIntervalMs`. The log is reused from its start once a checkpoint has
 * copied all of it and the writer begins its next transaction. The engine's own connection keeps
 * SQLite's checkpoint as a safety net at `safetyNetPages` (a log that could not be reused under a
 * writer that never pauses, or a worker thread that failed): then it checkpoints as before, with
 * most pages already copied. Durability does not depend on checkpoints: a commit is on disk once
 * its log is synced (wal-sync.ts).
 */
export const safetyNetPages = 10_000;
const checkpointIntervalMs = 25;

// The worker's code, evaluated as CommonJS: a file would need the TypeScript loader on the thread.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const SqliteDatabase = require(workerData.driverPath);
const database = new SqliteDatabase(workerData.path, { fileMustExist: true });
// With NORMAL a checkpoint syncs the log before copying it and the database file after.
database.pragma('synchronous = NORMAL');
parentPort.on('message', (message) => {
  if (message === 'close') {
    database.close();
    parentPort.close();
    return;
  }
  try {
    const [result] = database.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, logPages: result.log, checkpointedPages: result.checkpointed });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error && error.message || error) });
  }
});
`;

/**
 * What a checkpoint on the worker thread did. A failed one (the disk full, a reader holding the
 * log) is tried again after a later commit; meanwhile the log grows, up to the safety net.
 */
type CheckpointResult = { ok: true; logPages: number; checkpointedPages: number } | { ok: false; message: string };

export class WalCheckpointer {
  readonly #path: string;
  #worker: Worker | undefined;
  #exited: Promise<void> = Promise.resolve();
  #inFlight: Promise<CheckpointResult> | undefined;
  #lastStartedAtMs = Number.NEGATIVE_INFINITY;
  #failed = false;
  #closed = false;

  constructor(databasePath: string) {
    this.#path = databasePath;
  }

  /** Called after a write has committed: starts a checkpoint unless one runs or one started lately. */
  noteCommit(nowMs = performance.now()): void {
    if (this.#closed || this.#failed || this.#inFlight || nowMs - this.#lastStartedAtMs < checkpointIntervalMs) return;
    this.#lastStartedAtMs = nowMs;
    this.#inFlight = this.#checkpoint().finally(() => {
      this.#inFlight = undefined;
    });
  }

  /** Stops the thread after its checkpoint in flight; its connection is closed before the engine's. */
  async close(): Promise<void> {
    this.#closed = true;
    // Referenced again while it closes: a process with nothing else to do must not end before
    // the checkpoint in flight has answered and the thread's connection is closed.
    this.#worker?.ref();
    await this.#inFlight;
    this.#worker?.postMessage('close');
    await this.#exited;
  }

  #checkpoint(): Promise<CheckpointResult> {
    const worker = this.#startedWorker();
    return new Promise((resolve) => {
      const onMessage = (result: CheckpointResult) => {
        worker.off('exit', onExit);
        resolve(result);
      };
      const onExit = () => {
        worker.off('message', onMessage);
        resolve({ ok: false, message: 'the checkpoint thread exited' });
      };
      worker.once('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage('checkpoint');
    });
  }

  #startedWorker(): Worker {
    if (this.#worker) return this.#worker;
    const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(workerSource, { eval: true, workerData: { path: this.#path, driverPath } });
    // The thread never keeps the process alive. An error on it (its driver failed to load) is not
    // the engine's: the thread exits and the safety net checkpoints from then on.
    worker.unref();
    worker.on('error', () => {
      this.#failed = true;
    });
    this.#exited = new Promise((resolve) => worker.once('exit', () => {
      this.#worker = undefined;
      if (!this.#closed) this.#failed = true;
      resolve();
    }));
    this.#worker = worker;
    return worker;
  }
}
