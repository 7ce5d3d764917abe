import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Kysely, SqliteAdapter, SqliteIntrospector, type CompiledQuery, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import { LiteralLimitSqliteCompiler } from './literal-limits.ts';
import type { Database } from './schema.ts';
import { createUnitThread, sqliteUnitThreadSource, type UnitThread } from './unit-thread.ts';
import type { ThreadStatement } from './writer-thread.ts';

/**
 * Runs SQLite reads on a connection of its own, on a thread of its own, for the register's hot
 * read paths (the checkout lookup, the profile and the loyalty page it opens next).
 *
 * better-sqlite3 runs every statement on the calling thread, so a lookup's SELECTs held the event
 * loop: under a stream of lookups at 1,000,000 customers the engine's one thread was busy all the
 * time (~155 µs of CPU a lookup, about 60 of them its statements) while a third of the machine's
 * two cores sat idle (measured: engine 100 % of a core, load generator 35 %, idle 66 % of 200;
 * issue #9, bench/customer-lookup.ts). Here the statements are compiled on the event loop, as
 * before, and run on the thread; a round trip to it costs ~10 µs of CPU (both threads together).
 * Reads go there only when that helps (`threadWhenBusy`, below). Measured at 1,000,000 customers,
 * 32 connections asking as fast as answered, three alternating pairs of 5 s runs: by email
 * 7,945–8,050 lookups a second against 5,786–6,363 with every read on the engine's connection, by
 * phone 7,351–8,558 against 5,668–5,975; the engine's CPU a lookup rose (~180–210 µs against
 * ~155–180: the round trips), on the core that was idle. At a steady 1,000 lookups a second by
 * phone (two pairs of 2 × 5 s) nothing changed: 340–374 µs of CPU a lookup against 319–390, the
 * server's p99 0.69–0.88 ms against 0.65–0.82. The request's key check stays on the engine's
 * connection: moved here too it lowered the throughput (5 alternating pairs: 6,200–6,900/s against
 * 6,800–8,100/s), one more round trip a request.
 *
 * What a read on the thread sees: every transaction committed, by this process or another, when
 * its statement starts (SQLite's WAL: a reader never waits for the writer). Never the engine's own
 * open transaction, and it does not wait for it: such reads are for what was committed before (a
 * request reads what earlier requests committed, each answered after its commit). Writes are
 * refused (`query_only`).
 */
export interface ReaderThread extends UnitThread<ThreadStatement, Record<string, unknown>[]> {
  /**
   * Reads sent that the thread has not finished running: what a read sent now would wait behind.
   * (Counted on the thread as it finishes each: its answer may wait longer, for the event loop.)
   */
  readonly backlog: number;
  /** The reads the thread has finished and the time it spent running them, since it started. */
  readonly finishedWork: ThreadWork;
}

/** Both counted modulo 2^32: the difference of two readings is right as long as it fits in 31 bits (35 minutes of reads). */
export interface ThreadWork {
  reads: number;
  micros: number;
}

// Prepared statements kept by SQL text: a lookup has one text per count of customers found.
const threadStatementsMax = 300;

const workerSource = sqliteUnitThreadSource(['query_only = ON'], `
function run(unit) {
  const startedAt = performance.now();
  try {
    const statement = prepare(unit.sql);
    // A statement that returns no rows would write: query_only refuses it (SQLITE_READONLY).
    return statement.reader ? statement.all(...unit.parameters) : (statement.run(...unit.parameters), []);
  } finally {
    Atomics.add(workerData.finished, 1, Math.round((performance.now() - startedAt) * 1000));
    Atomics.add(workerData.finished, 0, 1);
  }
}
`);

export interface ReaderThreadOptions {
  busyTimeoutMs: number;
  /** How much of the file the thread's connection reads through a memory map (database.ts); none by default. */
  mmapSizeBytes?: number;
}

/** The reader thread for the database file at `path` (which must exist, in WAL mode), started at its first read. */
export function createReaderThread(path: string, options: ReaderThreadOptions): ReaderThread {
  const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
  // Reads sent and reads the thread finished, both counted modulo 2^32 (their difference stays
  // right across the wrap, a few days of reads at 10,000 a second); then the microseconds the
  // thread spent running them.
  const finished = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  let sent = 0;
  const thread = createUnitThread<ThreadStatement, Record<string, unknown>[]>({
    name: 'the reader thread',
    source: workerSource,
    workerData: { path, driverPath, busyTimeoutMs: options.busyTimeoutMs, mmapSizeBytes: options.mmapSizeBytes ?? 0, statementsMax: threadStatementsMax, finished },
    codes: { cannotStart: 'SQLITE_CANTOPEN', exited: 'SQLITE_IOERR', notRunning: 'SQLITE_CANTOPEN' },
  });
  return {
    get available() {
      return thread.available;
    },
    get backlog() {
      return (sent - Atomics.load(finished, 0)) | 0;
    },
    get finishedWork() {
      return { reads: Atomics.load(finished, 0), micros: Atomics.load(finished, 1) };
    },
    run(unit) {
      if (thread.available) sent = (sent + 1) | 0;
      return thread.run(unit);
    },
    close: () => thread.close(),
  };
}

export interface ReaderOptions {
  /** Whether a read goes to the thread now; otherwise it runs on the engine's connection. */
  useThread(): boolean;
}

/**
 * Share of the event loop's time busy past which reads go to the thread. Lookups by name at a steady
 * 1,000/s at 1,000,000 customers, alternating 5 s runs: p99 9.0–10.3 ms with 0.75 against
 * 12.4–29.1 ms with 0.5 (more reads sent to the thread, more CPU a lookup); minutes later, in a
 * slower stretch, 27.9–30.9 ms with 0.75 against 62.6 ms with no read ever sent to the thread, then
 * an event loop that fell behind (p50 215 ms).
 */
const busyShareForThread = 0.75;
/**
 * The work waiting on the thread past which a busy event loop runs the next read itself: both
 * threads then work, instead of the event loop idling while every read queues on the thread. Counted
 * in reads, as many as the thread runs in about 600 µs at its recent time a read, from 2 to 64 (8
 * until measured). A fixed count suited one kind of lookup only: saturated at 1,000,000 customers
 * (5 s runs), name searches (~200 µs a read) answered 2,692–2,788/s with 8 against 2,072–2,123
 * without a bound (event loop 68 %, thread 58 % busy: each waited for the other), 2,628–2,701 with 16
 * and 2,778–2,860 with 4, while lookups by email (~28 µs a read) answered most with 16 (4 let the
 * thread run dry). With the budget, three rounds of the three kinds: by email 9,072–9,213/s against
 * 8,646–8,805 with 8, by phone 8,889–9,300 against 8,451–8,702, by name 2,833–2,981 against
 * 2,893–2,951 (400 µs: email and phone a little lower, name 2,790–2,825); two more alternating
 * pairs: email 9,079–9,284 against 8,861–9,069, phone 8,733–8,807 against 8,645–8,676, name
 * 2,823–2,899 against 2,864–2,963 (name searches pay ~2 % for the others' 1–5 %).
 */
const backlogBudgetMicros = 600;
const backlogBeforeMeasured = 8;
const backlogMin = 2;
const backlogMax = 64;
// Reads finished in a window below which the thread's time a read is not measured again.
const readsToMeasure = 20;
/** How often the event loop's busy share is measured again (at a read, never by a timer). */
const busyWindowMs = 20;

/** How many reads may wait on a thread that spends `microsPerRead` on each. */
export function backlogBound(microsPerRead: number): number {
  return Math.min(backlogMax, Math.max(backlogMin, Math.round(backlogBudgetMicros / Math.max(1, microsPerRead))));
}

/**
 * The engine's rule for where a read runs: on the thread while the engine's connection is in a
 * transaction (it would wait for it) or the event loop has been busy more than three quarters of
 * the time (measured again at a read at most every 20 ms: requests queue behind each other, and
 * the thread takes the statements off the loop) and fewer reads wait on the thread than it runs in
 * ~600 µs (`backlogBound`, its time a read measured at the same moments); otherwise on the
 * engine's connection, on the event loop. A round trip to the
 * thread wakes two threads: at a steady 1,000 lookups a second by phone at 1,000,000 customers,
 * with every read on the thread, a lookup cost 520–600 µs of CPU against 350–385 and the server's
 * p99 was 2.0–9.4 ms against 0.74–0.79 (two alternating pairs of 2 × 5 s), while saturated the
 * thread answered about a third more lookups a second.
 */
export function threadWhenBusy(engineInTransaction: () => boolean, thread: Pick<ReaderThread, 'backlog' | 'finishedWork'>): () => boolean {
  let sample = performance.eventLoopUtilization();
  let sampledAt = performance.now();
  let busy = false;
  let measuredWork = thread.finishedWork;
  let backlogAllowed = backlogBeforeMeasured;
  const measureThread = () => {
    const work = thread.finishedWork;
    const reads = (work.reads - measuredWork.reads) | 0;
    if (reads < readsToMeasure) return;
    backlogAllowed = backlogBound(((work.micros - measuredWork.micros) | 0) / reads);
    measuredWork = work;
  };
  return () => {
    if (engineInTransaction()) return true;
    const now = performance.now();
    if (now - sampledAt >= busyWindowMs) {
      const current = performance.eventLoopUtilization();
      busy = performance.eventLoopUtilization(current, sample).utilization > busyShareForThread;
      sample = current;
      sampledAt = now;
      measureThread();
    }
    return busy && thread.backlog < backlogAllowed;
  };
}

/**
 * The one connection of `readerDatabase`: each read runs where `useThread` says, and on the
 * engine's connection once the thread failed or closed. Reads from concurrent requests are sent as
 * they come: the thread answers them in order.
 */
function readerConnection(thread: ReaderThread, fallback: Kysely<Database>, options: ReaderOptions): DatabaseConnection {
  return {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      if (!thread.available || !options.useThread()) return fallback.executeQuery<R>(query);
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
  constructor(thread: ReaderThread, fallback: Kysely<Database>, options: ReaderOptions) {
    this.#connection = readerConnection(thread, fallback, options);
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
 * A Kysely database for reads of what is committed: its queries run on `thread` (compiled as the
 * engine's own SQLite queries are: the same compiler, so the same plans) or on `fallback`, the
 * engine's database, as `readerConnection` decides.
 */
export function readerDatabase(thread: ReaderThread, fallback: Kysely<Database>, options: ReaderOptions): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new ReaderThreadDriver(thread, fallback, options),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new LiteralLimitSqliteCompiler(),
    },
  });
}
