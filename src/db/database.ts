import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryCompiler, type SqliteDialectConfig, type Transaction } from 'kysely';
import pg from 'pg';
import { assert } from '../shared/app-error.ts';
import { closeRequestGroupCommit } from './group-commit.ts';
import { LiteralLimitSqliteCompiler } from './literal-limits.ts';
import { prepareRepeatedStatements, readPreparedStatementsOption } from './postgres-prepared.ts';
import { createPostgresWriterThread, type PostgresThreadConnection } from './postgres-writer-thread.ts';
import { safetyNetPages, WalCheckpointer } from './wal-checkpoint.ts';
import { syncingConnection, WalSync, type SyncingConnectionSource } from './wal-sync.ts';
import { sqliteChangeStamp } from './change-stamp.ts';
import { createReaderThread, readerDatabase, threadWhenBusy } from './reader-thread.ts';
import { createWriterThread, type WriterThread } from './writer-thread.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** A handle usable for queries: the database itself or an open transaction. */
export type Queryable = Db | Tx;
export type DialectName = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Db;
  dialect: DialectName;
  /**
   * Where the webhook inbox's write units run, on a connection of their own on a thread: on SQLite
   * on a file (writer-thread.ts), the engine's connection held meanwhile so that the two never
   * contend for the write lock on the event loop; on PostgreSQL (postgres-writer-thread.ts), so
   * that a batch's round trips are not each answered behind the requests the event loop is
   * reading. Absent for an in-memory database (one connection only).
   */
  writerThread?: WriterThread;
  /**
   * Where reads of what is committed go (the register's lookup, profile and loyalty page): on SQLite
   * on a file, while the event loop is busy or the engine's connection is in a transaction, a
   * connection of its own on a thread (reader-thread.ts), so that their statements run beside the
   * event loop and do not wait behind this process's transaction; otherwise, and elsewhere, `db`
   * itself. Never for a read that must see a transaction in progress, nor for writes (refused on
   * the thread).
   */
  readDb: Db;
  /**
   * On SQLite, a text that is the same at two calls only if nothing was written to the database in
   * between, by this process or another (change-stamp.ts): what was read may be kept until it
   * changes. Absent on PostgreSQL, where other processes' commits leave no such cheap trace.
   */
  changeStamp?: () => string;
  close(): Promise<void>;
}

// PostgreSQL returns BIGINT (and COUNT) as strings. Every integer we store is money in minor units,
// points or a quantity, all far below 2^53, so parse to number and fail loudly if one ever is not.
pg.types.setTypeParser(pg.types.builtins.INT8, (text: string) => {
  const value = Number(text);
  assert(Number.isSafeInteger(value), `BIGINT ${text} fits a safe integer`);
  return value;
});

const postgresPoolMax = 10;
// A server that accepts no connection within this is reported as unavailable (503) instead of
// holding the request forever.
const postgresConnectTimeoutMs = 5_000;
const preparedStatementsMax = 1_000;
const sqliteBusyTimeoutMs = 5_000;

/**
 * How much of a SQLite database file a connection reads through a memory map rather than read():
 * all of it up to 2 GiB (0x7fff0000, the most better-sqlite3's SQLite maps; pages past it are read
 * as before). A page read from the map is not copied into SQLite's own cache nor through a system
 * call: at 1,000,000 customers a lookup's SELECTs took 41 µs of CPU against 55 (tight loop,
 * alternating) and the engine answered lookups by phone with 179 µs of CPU each against 203 (means
 * of alternating runs; issue #9, bench/README.md). Writes still go through write(), so a full disk
 * is still SQLITE_FULL. What it costs: the mapped pages a process touched count in its resident
 * memory (they are the system's file cache, shared and reclaimable, which read() fills too), and an
 * I/O error on a mapped page, or the file shrinking under the map, stops the process with SIGBUS
 * instead of returning an error (https://www.sqlite.org/mmap.html). Continuum never shrinks the
 * file (no VACUUM; auto_vacuum is off), and a process stopped anywhere loses nothing acknowledged
 * (test/faults/kill-9.test.ts). docs/configuration.md, "Memory".
 */
export const sqliteMmapSizeBytes = 0x7fff0000;

/**
 * Keeps prepared statements by SQL text, bounded, so a query the engine runs again is not compiled
 * again by SQLite (Kysely prepares every query anew: about a fifth of a lookup's CPU). Safe because
 * the one connection runs one query at a time.
 */
function withStatementCache(database: SqliteDatabase.Database): { database: SqliteDatabase.Database; isReadonly(sql: string): boolean } {
  const statements = new Map<string, SqliteDatabase.Statement>();
  const prepare = database.prepare.bind(database);
  // A statement not in the cache (never the case: Kysely has just prepared it) counts as a write.
  const isReadonly = (sql: string) => statements.get(sql)?.readonly === true;
  const proxy = new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver) as unknown;
        // Native methods must run on the real database object, not on the proxy.
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return (source: string) => {
        const cached = statements.get(source);
        if (cached) return cached;
        const statement = prepare(source);
        if (statements.size >= preparedStatementsMax) statements.delete(statements.keys().next().value as string);
        statements.set(source, statement);
        return statement;
      };
    },
  });
  return { database: proxy, isReadonly };
}

/**
 * SQLite transactions begin IMMEDIATE: they take the write lock up front, so a second process
 * writing the same file (a CLI import beside `serve`) waits for it (up to busy_timeout) instead of
 * failing with SQLITE_BUSY when a transaction that read first tries to write. Within one process
 * Kysely already runs one transaction at a time on the single connection.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #wrapConnection: ConnectionWrapper;
  #connection: DatabaseConnection | undefined;

  constructor(config: SqliteDialectConfig, wrapConnection: ConnectionWrapper) {
    super(config);
    this.#wrapConnection = wrapConnection;
  }

  /** The one connection, as `wrapConnection` made it (one that syncs the log after commits, src/db/wal-sync.ts). */
  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    this.#connection ??= this.#wrapConnection(connection);
    return this.#connection;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /**
   * SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, SQLITE_IOERR, a
   * SQLITE_BUSY at commit), and the ROLLBACK that follows then finds none. The transaction is gone
   * either way; swallowing that second error lets the first, the one that says why (a full disk:
   * 503), reach the caller instead of an "internal error" (found by test/faults, issue #9).
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch (error) {
      if (error instanceof Error && /no transaction is active/.test(error.message)) return;
      throw error;
    }
  }
}

type ConnectionWrapper = (connection: DatabaseConnection) => DatabaseConnection;

/**
 * SQLite with IMMEDIATE transactions (above), its connection wrapped (the log synced after
 * commits) and integer limits written into the SQL (src/db/literal-limits.ts).
 */
class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #wrapConnection: ConnectionWrapper;
  constructor(config: SqliteDialectConfig, wrapConnection: ConnectionWrapper) {
    super(config);
    this.#config = config;
    this.#wrapConnection = wrapConnection;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#wrapConnection);
  }
  override createQueryCompiler(): QueryCompiler {
    return new LiteralLimitSqliteCompiler();
  }
}

/**
 * Whether claims of queued rows may lock them with `FOR UPDATE SKIP LOCKED` (PostgreSQL): each of
 * several workers then takes rows nobody else holds. SQLite has no row locks; its transactions
 * begin IMMEDIATE and so already take turns, one claim at a time.
 */
export function canSkipLockedRows(db: Queryable): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Commits the commands the shared group committer holds (src/db/group-commit.ts), then closes the connections. */
async function closeThen(db: Db): Promise<void> {
  await closeRequestGroupCommit(db);
  await db.destroy();
}

/**
 * Opens the database named by a URL: `sqlite:PATH` (or `sqlite::memory:`) for the embedded default,
 * `postgres://...` for PostgreSQL. Only this folder knows which dialect is in use.
 */
export function openDatabase(url: string, options: { postgresSchema?: string } = {}): DatabaseHandle {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { url: connectionString, prepared } = readPreparedStatementsOption(url);
    const connection: PostgresThreadConnection = {
      connectionString,
      connectionTimeoutMillis: postgresConnectTimeoutMs,
      ...(options.postgresSchema ? { options: `-c search_path=${options.postgresSchema}` } : {}),
    };
    const pool = new pg.Pool({ ...connection, max: postgresPoolMax });
    // A connection the server closes (a restart, an administrator's terminate, the network) makes
    // its client emit 'error': the pool listens only while the client is idle, so one closed under
    // a running query had no listener and ended the process (found by test/faults, issue #9). The
    // query itself is rejected with the error (a storage error, answered 503), the pool drops the
    // broken client when it is released, and the next query opens a new connection.
    pool.on('connect', (client) => client.on('error', () => undefined));
    pool.on('error', () => undefined);
    if (prepared) prepareRepeatedStatements(pool);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const writerThread = createPostgresWriterThread(connection, { prepared });
    return {
      db, dialect: 'postgres', writerThread, readDb: db,
      async close() {
        await writerThread.close();
        await closeThen(db);
      },
    };
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SqliteDatabase(path);
    // WAL lets readers run beside the one writer. Every commit is durable before we acknowledge it
    // (the "nothing accepted is lost" invariant): SQLite writes the log at COMMIT (NORMAL, which
    // alone may lose the last commits on power loss) and the driver then syncs the log off the
    // event loop before the commit resolves (src/db/wal-sync.ts). An in-memory database has no
    // log to sync and keeps FULL.
    sqlite.pragma('journal_mode = WAL');
    const walSync = path === ':memory:' ? undefined : new WalSync(path);
    sqlite.pragma(walSync ? 'synchronous = NORMAL' : 'synchronous = FULL');
    sqlite.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
    sqlite.pragma('foreign_keys = ON');
    // 64 MiB of page cache per connection instead of SQLite's 2 MB: holds on random SKUs of a
    // 1,000,000-SKU catalog cost 1.6 times the CPU of holds over 10,000 SKUs (775 against 478 µs,
    // bench/stock.ts, issue #9), the index pages of a large catalog not fitting the small cache.
    // Two runs side by side on a loaded machine measured 413 against 449 µs per hold at 1M SKUs
    // with and without it: to be confirmed on a quiet machine. The cache fills only as pages are
    // read (docs/configuration.md, "Memory"); durability is unchanged.
    sqlite.pragma('cache_size = -65536');
    // Temporary files in memory. Each command of a shared transaction runs in a SAVEPOINT (group
    // commit, worker batches), and SQLite copies every page a savepoint first changes into a
    // sub-journal; past 64 KiB in a transaction that journal becomes a temporary file, and every
    // later copy a write() to it. Six inserts per command cost 251 µs in savepoints against 166
    // without, 205 with the journal in memory (medians of alternating runs on an orders
    // database); register sales at 1,000/s offered: 842-887 acknowledged/s with the file, 876-935
    // in memory (bench/stock.ts --phases=push, alternating). The cost: a sort or temporary index
    // larger than the page cache (a report over a large history) stays in memory instead of
    // spilling to disk (docs/configuration.md, "Memory").
    sqlite.pragma('temp_store = MEMORY');
    sqlite.pragma(`mmap_size = ${sqliteMmapSizeBytes}`);
    // The log is checkpointed on a thread of its own; the connection's own checkpoint is the safety
    // net (wal-checkpoint.ts).
    const checkpointer = walSync ? new WalCheckpointer(path) : undefined;
    if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${safetyNetPages}`);
    const cached = withStatementCache(sqlite);
    const source: SyncingConnectionSource = { isReadonly: cached.isReadonly, inTransaction: () => sqlite.inTransaction };
    const changes = sqliteChangeStamp(sqlite, cached.isReadonly);
    const wrapConnection: ConnectionWrapper = (connection) => changes.counting(walSync ? syncingConnection(connection, walSync, source, () => checkpointer?.noteCommit()) : connection);
    const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: cached.database }, wrapConnection) });
    const thread = walSync ? createWriterThread(path, { busyTimeoutMs: sqliteBusyTimeoutMs, mmapSizeBytes: sqliteMmapSizeBytes, afterCommit: () => checkpointer?.noteCommit() }) : undefined;
    const writerThread: WriterThread | undefined = thread && {
      get available() {
        return thread.available;
      },
      // The engine's one connection is held while the thread writes: this process's own statements
      // wait for it without blocking the event loop, as they wait for each other.
      run: (unit) => db.connection().execute(() => thread.run(unit)),
      // After the units already waiting for the connection: they are run, not refused.
      close: () => db.connection().execute(() => thread.close()),
    };
    const readerThread = walSync ? createReaderThread(path, { busyTimeoutMs: sqliteBusyTimeoutMs, mmapSizeBytes: sqliteMmapSizeBytes }) : undefined;
    return {
      db, dialect: 'sqlite', ...(writerThread ? { writerThread } : {}),
      changeStamp: changes.stamp,
      readDb: readerThread ? readerDatabase(readerThread, db, { useThread: threadWhenBusy(() => sqlite.inTransaction, readerThread) }) : db,
      async close() {
        // The threads' connections close first: the engine's, the last, then checkpoints the whole
        // log and removes it.
        await readerThread?.close();
        await writerThread?.close();
        await checkpointer?.close();
        await closeThen(db);
        walSync?.close();
      },
    };
  }
  throw new Error(`DATABASE_URL must start with sqlite: or postgres:// (got "${url}")`);
}
