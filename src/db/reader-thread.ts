import { createRequire } from 'node:module';
import { Kysely, SqliteAdapter, SqliteIntrospector, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import { LiteralLimitSqliteCompiler } from './literal-limits.ts';
import type { Database } from './schema.ts';
import { createUnitThread, type UnitThread } from './unit-thread.ts';
import type { ThreadStatement } from './writer-thread.ts';

/**
 * Runs SQLite reads on a connection of its own, on a thread of its own, for the register's hot
 * read path (the checkout lookup).
 *
 * better-sqlite3 runs every statement on the calling thread, so a lookup's SELECTs held the event
 * loop: under a stream of lookups at 1,000,000 customers the engine's one thread was busy all the
 * time (~155 µs of CPU a lookup, about 60 of them its statements) while a third of the machine's
 * two cores sat idle (measured: engine 100 % of a core, load generator 35 %, idle 66 % of 200;
 * issue #9, bench/customer-lookup.ts). Here the statements are compiled on the event loop, as
 * before, and run on the thread; a round trip to it costs ~10 µs of CPU (both threads together).
 * Measured at 1,000,000 customers, 32 connections asking as fast as answered, three alternating
 * pairs of 5 s runs: by email 5,456–7,293 lookups a second (mean 6,575) against 5,428–6,000 (5,638)
 * on the engine's connection, by phone 6,682–8,132 (7,222) against 5,391–6,020 (5,758); the
 * engine's CPU per lookup rose (~190–270 µs against ~165–190: the round trips), on the core that
 * was idle. The request's key check stays on the engine's connection: moved here too it lowered
 * the throughput (5 alternating pairs: 6,200–6,900/s against 6,800–8,100/s), one more round trip
 * a request.
 *
 * What a read on the thread sees: every transaction committed, by this process or another, when
 * its statement starts (SQLite's WAL: a reader never waits for the writer). Never the engine's own
 * open transaction, and it does not wait for it: such reads are for what was committed before (a
 * request reads what earlier requests committed, each answered after its commit). Writes are
 * refused (`query_only`).
 */
export type ReaderThread = UnitThread<ThreadStatement, Record<string, unknown>[]>;

// Prepared statements kept by SQL text: a lookup has one text per count of customers found.
const threadStatementsMax = 300;

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const SqliteDatabase = require(workerData.driverPath);
const database = new SqliteDatabase(workerData.path, { fileMustExist: true });
database.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
database.pragma('mmap_size = ' + workerData.mmapSizeBytes);
database.pragma('query_only = ON');
const statements = new Map();
function prepare(sql) {
  let statement = statements.get(sql);
  if (statement) return statement;
  if (statements.size >= workerData.statementsMax) statements.delete(statements.keys().next().value);
  statement = database.prepare(sql);
  statements.set(sql, statement);
  return statement;
}
parentPort.on('message', (message) => {
  if (message.type === 'close') {
    database.close();
    parentPort.close();
    return;
  }
  try {
    const statement = prepare(message.unit.sql);
    // A statement that returns no rows would write: query_only refuses it (SQLITE_READONLY).
    const rows = statement.reader ? statement.all(...message.unit.parameters) : (statement.run(...message.unit.parameters), []);
    parentPort.postMessage({ id: message.id, ok: true, outcome: rows });
  } catch (error) {
    parentPort.postMessage({ id: message.id, ok: false, code: error && error.code, message: String(error && error.message || error) });
  }
});
`;

export interface ReaderThreadOptions {
  busyTimeoutMs: number;
  /** How much of the file the thread's connection reads through a memory map (database.ts); none by default. */
  mmapSizeBytes?: number;
}

/** The reader thread for the database file at `path` (which must exist, in WAL mode), started at its first read. */
export function createReaderThread(path: string, options: ReaderThreadOptions): ReaderThread {
  const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
  return createUnitThread<ThreadStatement, Record<string, unknown>[]>({
    name: 'the reader thread',
    source: workerSource,
    workerData: { path, driverPath, busyTimeoutMs: options.busyTimeoutMs, mmapSizeBytes: options.mmapSizeBytes ?? 0, statementsMax: threadStatementsMax },
    codes: { cannotStart: 'SQLITE_CANTOPEN', exited: 'SQLITE_IOERR', notRunning: 'SQLITE_CANTOPEN' },
  });
}

/**
 * The one connection of `readerDatabase`: each query is a unit of the thread while it runs, and
 * goes to `fallback` (the engine's own database) once the thread failed or closed, as the writer
 * thread's units do. Queries from concurrent requests are sent as they come: the thread answers
 * them in order.
 */
function readerConnection(thread: ReaderThread, fallback: Kysely<Database>): DatabaseConnection {
  return {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      if (!thread.available) return fallback.executeQuery<R>(query);
      const rows = await thread.run({ sql: query.sql, parameters: query.parameters });
      return { rows: rows as R[] };
    },
    // No query on this connection is streamed.
    async *streamQuery() {
      throw new Error('the reader thread does not stream');
    },
  };
}

class ReaderThreadDriver implements Driver {
  readonly #connection: DatabaseConnection;
  constructor(thread: ReaderThread, fallback: Kysely<Database>) {
    this.#connection = readerConnection(thread, fallback);
  }
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    return this.#connection;
  }
  async beginTransaction(): Promise<void> {
    throw new Error('reads on the reader thread run outside transactions: write through the engine\'s database');
  }
  async commitTransaction(): Promise<void> {}
  async rollbackTransaction(): Promise<void> {}
  async releaseConnection(): Promise<void> {}
  // The thread is the database handle's to close (database.ts), after the reads in flight.
  async destroy(): Promise<void> {}
}

/**
 * A Kysely database whose queries run on `thread`, compiled as the engine's own SQLite queries are
 * (the same compiler, so the same plans), and on `fallback` once the thread is not available.
 */
export function readerDatabase(thread: ReaderThread, fallback: Kysely<Database>): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new ReaderThreadDriver(thread, fallback),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new LiteralLimitSqliteCompiler(),
    },
  });
}
