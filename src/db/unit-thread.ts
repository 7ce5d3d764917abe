import { Worker } from 'node:worker_threads';
import { assert } from '../shared/app-error.ts';

/**
 * A thread with a database connection of its own that runs units of work sent to it, one at a
 * time, in the order sent: the writer threads' (writer-thread.ts, postgres-writer-thread.ts) and
 * the reader thread's (reader-thread.ts). Its code is a CommonJS source evaluated on the thread, so
 * the thread starts without the TypeScript loader (0.6 s and 1 s of CPU to start one, measured).
 */
export interface UnitThread<Unit, Outcome> {
  /** Whether units can be run: false once the thread failed or closed (callers then use the engine's connection). */
  readonly available: boolean;
  /**
   * Runs the unit; rejects with the database's error (its `code`: SQLITE_FULL, PostgreSQL's
   * SQLSTATE, a socket's) when it failed.
   */
  run(unit: Unit): Promise<Outcome>;
  /** Answers the units in flight, then closes the thread's connection and ends the thread. */
  close(): Promise<void>;
}

/**
 * How a thread of one database runs units: its CommonJS source (which answers `{ id, unit }`
 * messages in order with `{ id, ok: true, outcome }` or `{ id, ok: false, code, message }`, and
 * closes its connection on `{ type: 'close' }`), what it is given, and the error codes its failures
 * are reported with, codes that database's callers already classify as the storage being
 * unavailable (src/db/storage-errors.ts).
 */
export interface UnitThreadSpec<Outcome> {
  /** What the thread is called in its errors ("the writer thread"). */
  name: string;
  source: string;
  workerData: Record<string, unknown>;
  codes: { cannotStart: string; exited: string; notRunning: string };
  /** Called with each outcome before its caller is answered. */
  afterUnit?: (outcome: Outcome) => void;
}

type Reply<Outcome> = { id: number; ok: true; outcome: Outcome } | { id: number; ok: false; code: unknown; message: string };

interface Pending<Outcome> {
  resolve(outcome: Outcome): void;
  reject(error: Error): void;
  /** Settles once the thread has answered (or failed). */
  answered: Promise<unknown>;
}

/** The database's error as the thread reported it, with its code, so callers classify it as they do the engine's own. */
function toDatabaseError(code: unknown, message: string): Error {
  const error = new Error(message) as Error & { code?: string };
  if (typeof code === 'string') error.code = code;
  return error;
}

/** Starts the thread at its first unit; answers each unit with its reply, in the order sent. */
export function createUnitThread<Unit, Outcome>(spec: UnitThreadSpec<Outcome>): UnitThread<Unit, Outcome> {
  const pending = new Map<number, Pending<Outcome>>();
  let nextId = 1;
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  let failed = false;
  let closed = false;

  const settleAll = (error: Error) => {
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };

  function startedWorker(): Worker {
    if (worker) return worker;
    const started = new Worker(spec.source, { eval: true, workerData: spec.workerData });
    // Only units in flight keep the process alive (referenced while one is pending).
    started.unref();
    started.on('message', (reply: Reply<Outcome>) => {
      const waiting = pending.get(reply.id);
      assert(waiting !== undefined, 'a reply answers a unit in flight');
      pending.delete(reply.id);
      if (pending.size === 0) started.unref();
      if (reply.ok) {
        spec.afterUnit?.(reply.outcome);
        waiting.resolve(reply.outcome);
      } else {
        waiting.reject(toDatabaseError(reply.code, reply.message));
      }
    });
    // A thread that failed (its driver did not load, the file could not be opened) is not the
    // engine's failure: its units in flight are refused (503 to their callers) and later ones go
    // to the engine's own connection (`available`).
    started.on('error', (error) => {
      failed = true;
      settleAll(toDatabaseError(spec.codes.cannotStart, `${spec.name} failed: ${error.message}`));
    });
    exited = new Promise<void>((resolve) => started.once('exit', () => {
      failed = true;
      settleAll(toDatabaseError(spec.codes.exited, `${spec.name} exited`));
      resolve();
    }));
    worker = started;
    return started;
  }

  return {
    get available() {
      return !failed && !closed;
    },
    run(unit) {
      if (failed || closed) return Promise.reject(toDatabaseError(spec.codes.notRunning, `${spec.name} is not running`));
      const thread = startedWorker();
      const id = nextId++;
      let settle: Omit<Pending<Outcome>, 'answered'> | undefined;
      const answered = new Promise<Outcome>((resolve, reject) => {
        settle = { resolve, reject };
      });
      pending.set(id, { ...settle!, answered: answered.catch(() => undefined) });
      thread.ref();
      thread.postMessage({ id, unit });
      return answered;
    },
    async close() {
      closed = true;
      // Units in flight are answered first (the thread runs them in order, the close message after).
      await Promise.all([...pending.values()].map((waiting) => waiting.answered));
      if (!worker || failed) return exited;
      worker.ref();
      worker.postMessage({ type: 'close' });
      await exited;
    },
  };
}

/**
 * The CommonJS source of a unit thread with one SQLite connection: it opens the file
 * `workerData.path` with the pragmas given (and `workerData`'s busy timeout and memory map), keeps
 * prepared statements by SQL text (`prepare(sql)`, at most `workerData.statementsMax`), and answers
 * each unit with `run(unit)`, which `runSource` defines.
 */
export function sqliteUnitThreadSource(pragmas: readonly string[], runSource: string): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const SqliteDatabase = require(workerData.driverPath);
const database = new SqliteDatabase(workerData.path, { fileMustExist: true });
${pragmas.map((pragma) => `database.pragma(${JSON.stringify(pragma)});`).join('\n')}
database.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
database.pragma('mmap_size = ' + workerData.mmapSizeBytes);
const statements = new Map();
function prepare(sql) {
  let statement = statements.get(sql);
  if (statement) return statement;
  if (statements.size >= workerData.statementsMax) statements.delete(statements.keys().next().value);
  statement = database.prepare(sql);
  statements.set(sql, statement);
  return statement;
}
${runSource}
parentPort.on('message', (message) => {
  if (message.type === 'close') {
    database.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ id: message.id, ok: true, outcome: run(message.unit) });
  } catch (error) {
    parentPort.postMessage({ id: message.id, ok: false, code: error && error.code, message: String(error && error.message || error) });
  }
});
`;
}
