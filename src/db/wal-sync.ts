import { closeSync, fdatasync, openSync } from 'node:fs';
import type { DatabaseConnection, QueryResult } from 'kysely';

/**
 * Makes SQLite's commits durable without holding the event loop for the disk.
 *
 * better-sqlite3 runs every statement on the calling thread, so with `synchronous=FULL` each COMMIT
 * waited for the write-ahead log's fsync on the event loop: 1.5 ms per commit here, during which no
 * request was read, verified or answered (11 % of the loop under register sales at 1,000/s, found
 * by bench/stock.ts, issue #9; in alternating runs sales acknowledged went from 759–778 to 837–899
 * a second with the sync moved off the loop, webhooks were unchanged within noise). Instead the
 * connection runs with `synchronous=NORMAL`, with which SQLite writes the log at COMMIT without
 * syncing it (and still syncs it around every checkpoint, so the file is never corrupted), and
 * after every write that leaves the connection outside a transaction the log is synced here, on
 * libuv's thread pool, before the statement's promise resolves. Nothing is acknowledged before its
 * commit is on disk, exactly as before; other requests are served while the disk works.
 *
 * A write that committed but whose sync failed is reported as a storage error (503): it may or may
 * not survive a power loss, and the caller's retry is idempotent (delivery ids, sale ids, keys).
 */
export class WalSync {
  readonly #walPath: string;
  #fd: number | undefined;

  constructor(databasePath: string) {
    this.#walPath = `${databasePath}-wal`;
  }

  /** Waits until everything SQLite has written to the log is on disk. */
  sync(): Promise<void> {
    // SQLite creates the log when the database is opened in WAL mode and removes it only when the
    // last connection closes, so the file opened here is the one written while this one is open.
    this.#fd ??= openSync(this.#walPath, 'r');
    const fd = this.#fd;
    return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(toSqliteIoError(error)) : resolve())));
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/** A failed sync reads as SQLite's own I/O error, so callers answer it as one (503 storage.unavailable). */
function toSqliteIoError(error: NodeJS.ErrnoException): Error {
  const wrapped = new Error(`syncing the write-ahead log failed: ${error.message}`) as Error & { code: string; cause: unknown };
  wrapped.code = error.code === 'ENOSPC' ? 'SQLITE_FULL' : 'SQLITE_IOERR_FSYNC';
  wrapped.cause = error;
  return wrapped;
}

const transactionControl = /^\s*(begin|commit|end|rollback|savepoint|release)\b/i;

/** What the syncing connection asks of the database it runs on. */
export interface SyncingConnectionSource {
  /** Whether SQLite says the statement of this SQL text changes nothing (SELECT, BEGIN, COMMIT…). */
  isReadonly(sql: string): boolean;
  inTransaction(): boolean;
}

/**
 * The connection Kysely uses, syncing the log once the connection is outside a transaction after a
 * statement that wrote: at the COMMIT of a transaction that wrote, or after a write run on its own
 * (autocommit, RETURNING included). Reads wait for nothing. `afterDurableCommit` is called once the
 * log is synced (the checkpointer starts its work then, wal-checkpoint.ts).
 */
export function syncingConnection(connection: DatabaseConnection, walSync: WalSync, source: SyncingConnectionSource, afterDurableCommit: () => void = () => {}): DatabaseConnection {
  let wroteSinceSync = false;
  // SQLite counts BEGIN IMMEDIATE as a write (it takes the lock); it writes nothing to the log.
  return {
    async executeQuery<R>(compiledQuery: Parameters<DatabaseConnection['executeQuery']>[0]): Promise<QueryResult<R>> {
      const result = await connection.executeQuery<R>(compiledQuery);
      if (!source.isReadonly(compiledQuery.sql) && !transactionControl.test(compiledQuery.sql)) wroteSinceSync = true;
      if (wroteSinceSync && !source.inTransaction()) {
        wroteSinceSync = false;
        await walSync.sync();
        afterDurableCommit();
      }
      return result;
    },
    streamQuery: connection.streamQuery.bind(connection),
  };
}
