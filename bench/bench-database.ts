import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { sqliteMmapSizeBytes } from '../src/db/index.ts';

/** A database of a benchmark's own: a SQLite file in the temp folder, or a fresh PostgreSQL schema. */
export interface BenchDatabase {
  url: string;
  postgresSchema?: string;
  sqlitePath?: string;
  dispose(): Promise<void>;
}

export async function createBenchDatabase(options: { postgresUrl?: string | undefined; keep: boolean }, name: string): Promise<BenchDatabase> {
  if (options.postgresUrl) {
    const postgresUrl = options.postgresUrl;
    const schema = `bench_${name}_${process.pid}`;
    const run = async (statement: string) => {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try { await client.query(statement); } finally { await client.end(); }
    };
    await run(`create schema ${schema}`);
    return { url: postgresUrl, postgresSchema: schema, dispose: () => (options.keep ? Promise.resolve() : run(`drop schema ${schema} cascade`)) };
  }
  const sqlitePath = join(tmpdir(), `continuum-bench-${name}-${process.pid}.sqlite`);
  const remove = () => ['', '-wal', '-shm'].forEach((suffix) => rmSync(`${sqlitePath}${suffix}`, { force: true }));
  remove();
  return { url: `sqlite:${sqlitePath}`, sqlitePath, dispose: async () => { if (!options.keep) remove(); } };
}

/**
 * A plain better-sqlite3 connection to a benchmark's SQLite file for a raw limit: the durability of
 * the engine's webhook and checkpoint connections (WAL, every commit synced) and its memory map, so
 * that the raw limit reads and writes the file as the engine does, with none of its code.
 */
export function openRawSqlite(path: string): SqliteDatabase.Database {
  const database = new SqliteDatabase(path, { fileMustExist: true });
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.pragma('busy_timeout = 5000');
  database.pragma(`mmap_size = ${sqliteMmapSizeBytes}`);
  return database;
}
