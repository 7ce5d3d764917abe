import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { assert } from '../shared/app-error.ts';

/**
 * Runs short write transactions on a second SQLite connection, on a thread of its own, so that
 * their statements, their commit and its sync never hold the event loop.
 *
 * better-sqlite3 runs every statement on the calling thread. Storing a batch of webhooks (the
 * inbox's one INSERT and its commit) took about a quarter of the event loop under a stream of
 * webhooks, time during which no request was read, verified or answered (issue #9,
 * bench/webhook-ingest.ts). Here the statements are compiled on the event loop, as before (by
 * Kysely, for the dialect), and only run on the thread. The caller holds the engine's own
 * connection meanwhile (`DatabaseHandle.writerThread`), so the two connections of one process
 * never contend for SQLite's write lock on the event loop; another process writing the same file
 * is waited for on the thread (busy_timeout), never on the event loop.
 *
 * A unit is: checks (queries that must each return a row, else nothing is written and the keys
 * of those that did not are answered), an optional read of one number, and one write whose
 * parameters may be that number plus a constant (`{ readPlus: n }`: the inbox's queue positions,
 * read and used in the same transaction). The connection syncs its own commits (synchronous=FULL),
 * so a unit answered written is durable.
 *
 * The thread's code is evaluated as CommonJS, as the checkpointer's (wal-checkpoint.ts): a file
 * would need the TypeScript loader on the thread (0.6 s and 1 s of CPU to start, measured).
 * `createUnitThread` below hosts such a thread for any database: PostgreSQL's is in
 * postgres-writer-thread.ts.
 */

export interface ThreadStatement {
  sql: string;
  parameters: readonly unknown[];
}

/** A parameter of a unit's write: the number its read found (0 when it found no row) plus `readPlus`. */
export interface ReadPlus {
  readPlus: number;
}

export interface ThreadWriteUnit {
  /** Each must return a row for anything to be written; run first, inside the transaction. */
  checks: (ThreadStatement & { key: string })[];
  /** A number read after the checks: the first column of the first row. */
  read?: ThreadStatement;
  /** The write; its rows when it returns some (RETURNING). */
  write: ThreadStatement;
}

export type ThreadWriteOutcome = { written: true; rows: Record<string, unknown>[] } | { written: false; failedChecks: string[] };

export interface WriterThread {
  /** Whether units can be run: false once the thread failed (callers then write on the engine's connection). */
  readonly available: boolean;
  /**
   * Runs the unit in one transaction (on SQLite an IMMEDIATE one) and commits it durably. Rejects
   * with the database's error (its `code`: SQLITE_FULL, PostgreSQL's SQLSTATE, a socket's) when it
   * could not be written; nothing of it is then written.
   */
  run(unit: ThreadWriteUnit): Promise<ThreadWriteOutcome>;
  close(): Promise<void>;
}

// Prepared statements kept by SQL text on the thread: the inbox's insert has one text per batch size.
const threadStatementsMax = 300;

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const SqliteDatabase = require(workerData.driverPath);
const database = new SqliteDatabase(workerData.path, { fileMustExist: true });
database.pragma('synchronous = FULL');
database.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
database.pragma('mmap_size = ' + workerData.mmapSizeBytes);
database.pragma('foreign_keys = ON');
const statements = new Map();
function prepare(sql) {
  let statement = statements.get(sql);
  if (statement) return statement;
  if (statements.size >= workerData.statementsMax) statements.delete(statements.keys().next().value);
  statement = database.prepare(sql);
  statements.set(sql, statement);
  return statement;
}
const isReadPlus = (value) => value !== null && typeof value === 'object' && typeof value.readPlus === 'number';
function run(unit) {
  database.exec('begin immediate');
  try {
    const failedChecks = unit.checks.filter((check) => prepare(check.sql).get(...check.parameters) === undefined).map((check) => check.key);
    if (failedChecks.length > 0) {
      database.exec('rollback');
      return { written: false, failedChecks };
    }
    let base = 0;
    if (unit.read) {
      const row = prepare(unit.read.sql).get(...unit.read.parameters);
      base = row === undefined ? 0 : Number(Object.values(row)[0]);
    }
    const parameters = unit.write.parameters.map((value) => (isReadPlus(value) ? base + value.readPlus : value));
    const statement = prepare(unit.write.sql);
    const rows = statement.reader ? statement.all(...parameters) : (statement.run(...parameters), []);
    database.exec('commit');
    return { written: true, rows };
  } catch (error) {
    // SQLite rolls back by itself after some errors (a full disk); a ROLLBACK then finds none.
    if (database.inTransaction) database.exec('rollback');
    throw error;
  }
}
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

type Reply = { id: number; ok: true; outcome: ThreadWriteOutcome } | { id: number; ok: false; code: unknown; message: string };

interface Pending {
  resolve(outcome: ThreadWriteOutcome): void;
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

/**
 * How a thread of one database runs units: its CommonJS source (which answers `{ id, unit }`
 * messages in order and closes its connection on `{ type: 'close' }`), what it is given, and the
 * error codes its failures are reported with, codes that database's callers already classify as
 * the storage being unavailable (src/db/storage-errors.ts).
 */
export interface UnitThreadSpec {
  source: string;
  workerData: Record<string, unknown>;
  codes: { cannotStart: string; exited: string; notRunning: string };
  /** Called after each unit written. */
  afterCommit?: () => void;
}

/** Starts the thread at its first unit; answers each unit with its reply, in the order sent. */
export function createUnitThread(spec: UnitThreadSpec): WriterThread {
  const pending = new Map<number, Pending>();
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
    started.on('message', (reply: Reply) => {
      const waiting = pending.get(reply.id);
      assert(waiting !== undefined, 'a reply answers a unit in flight');
      pending.delete(reply.id);
      if (pending.size === 0) started.unref();
      if (reply.ok) {
        if (reply.outcome.written) spec.afterCommit?.();
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
      settleAll(toDatabaseError(spec.codes.cannotStart, `the writer thread failed: ${error.message}`));
    });
    exited = new Promise<void>((resolve) => started.once('exit', () => {
      failed = true;
      settleAll(toDatabaseError(spec.codes.exited, 'the writer thread exited'));
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
      if (failed || closed) return Promise.reject(toDatabaseError(spec.codes.notRunning, 'the writer thread is not running'));
      const thread = startedWorker();
      const id = nextId++;
      let settle: Omit<Pending, 'answered'> | undefined;
      const answered = new Promise<ThreadWriteOutcome>((resolve, reject) => {
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

export interface WriterThreadOptions {
  busyTimeoutMs: number;
  /** How much of the file the thread's connection reads through a memory map (database.ts); none by default. */
  mmapSizeBytes?: number;
  afterCommit?: () => void;
}

/**
 * The writer thread for the database file at `path` (which must exist, in WAL mode), started at
 * its first unit. `afterCommit` is called after each unit written (the checkpointer starts then).
 */
export function createWriterThread(path: string, options: WriterThreadOptions): WriterThread {
  const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
  return createUnitThread({
    source: workerSource,
    workerData: { path, driverPath, busyTimeoutMs: options.busyTimeoutMs, mmapSizeBytes: options.mmapSizeBytes ?? 0, statementsMax: threadStatementsMax },
    codes: { cannotStart: 'SQLITE_CANTOPEN', exited: 'SQLITE_IOERR', notRunning: 'SQLITE_CANTOPEN' },
    ...(options.afterCommit ? { afterCommit: options.afterCommit } : {}),
  });
}
