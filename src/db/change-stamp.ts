import type SqliteDatabase from 'better-sqlite3';
import type { DatabaseConnection } from 'kysely';

/**
 * Tells whether anything may have been written to a SQLite database since an earlier moment, so a
 * process can keep what it read (the API key of every request, src/merchants/merchant-service.ts)
 * for exactly as long as it is still what the database holds.
 *
 * `stamp()` answers the same text at two calls only if, in between, no statement that writes ran
 * on the engine's connection (committed or not: counted before and after each, so a read between
 * a write and its commit is refused the old stamp too) and no other connection committed (SQLite's
 * `PRAGMA data_version`, which counts every other connection's commits, this process's webhook and
 * checkpoint threads and other processes alike, and never the connection's own). A statement this
 * connection has not prepared yet counts as a write. Costs one PRAGMA on the engine's connection,
 * ~2 µs (8 with the caches cold) against ~5 (17) for the API key's own query.
 */
export interface ChangeStamp {
  stamp(): string;
  /** Wraps the engine's connection so that its writes are counted. */
  counting(connection: DatabaseConnection): DatabaseConnection;
}

export function sqliteChangeStamp(sqlite: SqliteDatabase.Database, isReadonly: (sql: string) => boolean): ChangeStamp {
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  let ownWrites = 0;
  return {
    stamp: () => `${ownWrites}:${String(dataVersion.get())}`,
    counting: (connection) => ({
      async executeQuery(query) {
        const writes = !isReadonly(query.sql);
        if (writes) ownWrites += 1;
        try {
          return await connection.executeQuery(query);
        } finally {
          if (writes || !isReadonly(query.sql)) ownWrites += 1;
        }
      },
      streamQuery: connection.streamQuery.bind(connection),
    }),
  };
}
