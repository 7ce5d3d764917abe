import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { openTestDatabase } from '../../test/support/databases.ts';
import { classifyStorageError, type Db } from './index.ts';

// On SQLite a commit is acknowledged only once the write-ahead log is on disk, but the sync runs off
// the event loop (src/db/wal-sync.ts). What a caller relies on: a write's promise resolves after
// the log was synced, whether it ran in a transaction or on its own; reads never wait for the disk;
// a sync that fails is a storage error (503), never a success.

type FdatasyncCallback = (error: NodeJS.ErrnoException | null) => void;

/** Replaces fs.fdatasync (as the engine's module sees it) for one test, recording each call. */
function watchFdatasync(t: TestContext, failWith?: string) {
  const original = fs.fdatasync;
  const calls: number[] = [];
  (fs as { fdatasync: unknown }).fdatasync = (fd: number, callback: FdatasyncCallback) => {
    calls.push(fd);
    if (failWith) return callback(Object.assign(new Error(`${failWith}: injected`), { code: failWith }));
    return original(fd, callback);
  };
  syncBuiltinESMExports();
  t.after(() => {
    (fs as { fdatasync: unknown }).fdatasync = original;
    syncBuiltinESMExports();
  });
  return calls;
}

async function openSqlite(t: TestContext): Promise<Db> {
  const database = await openTestDatabase('sqlite');
  t.after(() => database.dispose());
  await sql`create table notes (id integer primary key, body text not null)`.execute(database.handle.db);
  return database.handle.db;
}

test('[sqlite] the log is synced before a commit, or a write on its own, is answered; reads and writes inside a transaction wait for nothing', async (t) => {
  const db = await openSqlite(t);
  const syncs = watchFdatasync(t);

  await db.selectFrom('merchants').selectAll().execute();
  assert.equal(syncs.length, 0, 'a read does not sync');

  await sql`insert into notes (body) values ('on its own')`.execute(db);
  assert.equal(syncs.length, 1, 'a write outside a transaction is synced before it resolves');

  await db.transaction().execute(async (tx) => {
    await sql`insert into notes (body) values ('first')`.execute(tx);
    await sql`insert into notes (body) values ('second')`.execute(tx);
    assert.equal(syncs.length, 1, 'nothing is synced inside the transaction');
  });
  assert.equal(syncs.length, 2, 'the commit is synced once, before the transaction resolves');

  await db.transaction().execute(async (tx) => {
    await sql`select count(*) from notes`.execute(tx);
  });
  assert.equal(syncs.length, 2, 'a transaction that only read is not synced');

  const written = await sql<{ id: number }>`insert into notes (body) values ('returning') returning id`.execute(db);
  assert.equal(written.rows.length, 1);
  assert.equal(syncs.length, 3, 'a write that returns rows is synced too');
});

test('[sqlite] a failed sync of the log is a storage error (503), not a success', async (t) => {
  const db = await openSqlite(t);
  watchFdatasync(t, 'EIO');
  const refused = await db.transaction().execute(async (tx) => {
    await sql`insert into notes (body) values ('not known to be on disk')`.execute(tx);
  }).then(() => undefined, (error: unknown) => error);
  assert.ok(refused instanceof Error, 'the commit is not reported as done');
  assert.equal(classifyStorageError(refused), 'io_error', 'answered 503 storage.unavailable, reason io_error');
});
