import { createRequire } from 'node:module';
import { createUnitThread, sqliteUnitThreadSource, type UnitThread } from './unit-thread.ts';

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
 * `createUnitThread` (unit-thread.ts) hosts it, as it hosts PostgreSQL's writer thread
 * (postgres-writer-thread.ts) and SQLite's reader thread (reader-thread.ts).
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

/**
 * Runs a unit in one transaction (on SQLite an IMMEDIATE one) and commits it durably; when it could
 * not be written, nothing of it is. `available` is false once the thread failed: callers then write
 * on the engine's connection.
 */
export type WriterThread = UnitThread<ThreadWriteUnit, ThreadWriteOutcome>;

// Prepared statements kept by SQL text on the thread: the inbox's insert has one text per batch size.
const threadStatementsMax = 300;

const workerSource = sqliteUnitThreadSource(['synchronous = FULL', 'foreign_keys = ON'], `
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
`);

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
  return createUnitThread<ThreadWriteUnit, ThreadWriteOutcome>({
    name: 'the writer thread',
    source: workerSource,
    workerData: { path, driverPath, busyTimeoutMs: options.busyTimeoutMs, mmapSizeBytes: options.mmapSizeBytes ?? 0, statementsMax: threadStatementsMax },
    codes: { cannotStart: 'SQLITE_CANTOPEN', exited: 'SQLITE_IOERR', notRunning: 'SQLITE_CANTOPEN' },
    afterUnit: (outcome) => {
      if (outcome.written) options.afterCommit?.();
    },
  });
}
