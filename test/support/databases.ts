import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest, openDatabase, type DatabaseHandle, type DialectName } from '../../src/db/index.ts';

// The dual-dialect test harness. Every database test runs once per entry of DIALECTS:
//
//   for (const dialect of DIALECTS) {
//     test(`[${dialect}] reserves stock`, async (t) => {
//       const database = await openTestDatabase(dialect);
//       t.after(() => database.dispose());
//       ...
//     });
//   }
//
// Each call gets a database of its own, already migrated, so tests never see each other's rows and
// may run concurrently.

const knownDialects: readonly DialectName[] = ['sqlite', 'postgres'];
const defaultPostgresUrl = 'postgres://continuum@127.0.0.1:55432/continuum';
const postgresConnectTimeoutMs = 5_000;

export interface TestDatabase {
  /** The open, migrated database. */
  handle: DatabaseHandle;
  /** The URL to give a second opener (an engine under test), together with postgresSchema. */
  url: string;
  /** PostgreSQL only: the schema holding this test's tables, for `openDatabase(url, { postgresSchema })`. */
  postgresSchema?: string;
  /** Closes the handle and deletes the database (temp file, or schema). Safe to call twice. */
  dispose(): Promise<void>;
}

function readDialects(value: string | undefined): DialectName[] {
  const names = (value ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) return ['sqlite'];
  const unknown = names.filter((name) => !knownDialects.includes(name as DialectName));
  if (unknown.length > 0) {
    throw new Error(`TEST_DIALECTS has unknown dialect(s) ${unknown.join(', ')}; expected a comma list of ${knownDialects.join(', ')}`);
  }
  return [...new Set(names as DialectName[])];
}

/** The dialects to run database tests on: env TEST_DIALECTS (comma list), default `sqlite`. */
export const DIALECTS: DialectName[] = readDialects(process.env['TEST_DIALECTS']);

/** Brings a fresh database's schema up; a migration test gives one that stops at an older migration. */
export type TestMigrate = (db: DatabaseHandle['db'], dialect: DialectName) => Promise<unknown>;

/** Opens a fresh, migrated database of the given dialect; call `dispose()` when the test ends. */
export async function openTestDatabase(dialect: DialectName, migrate: TestMigrate = migrateToLatest): Promise<TestDatabase> {
  if (dialect === 'sqlite') return openSqliteTestDatabase(migrate);
  if (dialect === 'postgres') return openPostgresTestDatabase(migrate);
  throw new Error(`unknown dialect ${String(dialect)}`);
}

// A temp file rather than `sqlite::memory:`: an in-memory database belongs to one connection, and
// tests often need the engine under test and the test itself to open the same database.
async function openSqliteTestDatabase(migrate: TestMigrate): Promise<TestDatabase> {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-test-'));
  const url = `sqlite:${join(directory, 'test.sqlite')}`;
  const handle = openDatabase(url);
  // Removing the directory also removes the -wal and -shm files that WAL mode creates beside it.
  const removeFiles = () => rmSync(directory, { recursive: true, force: true });
  try {
    await migrate(handle.db, handle.dialect);
  } catch (error) {
    await handle.close();
    removeFiles();
    throw error;
  }
  return {
    handle,
    url,
    dispose: once(async () => {
      await handle.close();
      removeFiles();
    }),
  };
}

// Kysely's migrator introspects every schema of the database; a schema dropped by another test
// file meanwhile makes it fail. Creating-and-migrating and dropping are therefore done under one
// PostgreSQL advisory lock, shared by every test process (any fixed 64-bit number names it).
const schemaLockKey = 4_242_001_2026;

async function withSchemaLock<T>(url: string, action: () => Promise<T>): Promise<T> {
  return withAdminClient(url, async (client) => {
    await client.query('select pg_advisory_lock($1)', [schemaLockKey]);
    // Ending the session (withAdminClient does) releases the lock, whatever happens in between.
    return action();
  });
}

async function openPostgresTestDatabase(migrate: TestMigrate): Promise<TestDatabase> {
  const url = process.env['TEST_POSTGRES_URL'] || defaultPostgresUrl;
  const schema = `t_${randomBytes(8).toString('hex')}`;
  const dropSchema = () => withSchemaLock(url, () => withAdminClient(url, (client) => client.query(`drop schema if exists ${schema} cascade`)));
  const handle = openDatabase(url, { postgresSchema: schema });
  try {
    await withSchemaLock(url, async () => {
      await withAdminClient(url, (client) => client.query(`create schema ${schema}`));
      await migrate(handle.db, handle.dialect);
    });
  } catch (error) {
    await handle.close();
    await dropSchema();
    throw error;
  }
  return {
    handle,
    url,
    postgresSchema: schema,
    dispose: once(async () => {
      await handle.close();
      await dropSchema();
    }),
  };
}

// A short-lived plain client for creating and dropping schemas, separate from the pool under test.
async function withAdminClient<T>(url: string, action: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: postgresConnectTimeoutMs });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `PostgreSQL is not reachable at ${redactPassword(url)} (${reason}). ` +
        'Start the test server with `scripts/postgres.sh start`, or set TEST_POSTGRES_URL, ' +
        'or leave postgres out of TEST_DIALECTS.',
      { cause: error },
    );
  }
  try {
    return await action(client);
  } finally {
    await client.end();
  }
}

function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable TEST_POSTGRES_URL)';
  }
}

function once(action: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= action());
}
