import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { classifyStorageError, openDatabase, type DatabaseHandle } from './index.ts';
import { createReaderThread, readerDatabase } from './reader-thread.ts';

// The register's lookups read on a SQLite connection of their own, on a thread (reader-thread.ts).
// What the engine relies on: such a read sees what was committed, by the engine's connection or
// another, never the engine's transaction in progress and never waits for it; nothing can be
// written through it; and a thread that cannot run hands its reads to the engine's connection
// after refusing the ones in flight as the storage being unavailable (503).

function openFile(t: TestContext): { handle: DatabaseHandle; directory: string } {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-reader-thread-'));
  const handle = openDatabase(`sqlite:${join(directory, 'engine.sqlite')}`);
  t.after(async () => {
    await handle.close();
    rmSync(directory, { recursive: true, force: true });
  });
  return { handle, directory };
}

async function openNotes(t: TestContext): Promise<DatabaseHandle> {
  const { handle } = openFile(t);
  assert.notEqual(handle.readDb, handle.db, 'a database file reads on a thread of its own');
  await sql`create table notes (id integer primary key, body text not null)`.execute(handle.db);
  await sql`insert into notes (body) values ('first'), ('second')`.execute(handle.db);
  return handle;
}

const bodies = async (db: DatabaseHandle['db']) => (await sql<{ body: string }>`select body from notes order by id`.execute(db)).rows.map((row) => row.body);

/** Fails instead of hanging when `promise` does not settle in time (a read waiting for the engine's transaction). */
function within<T>(promise: Promise<T>, milliseconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${milliseconds} ms`)), milliseconds);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test('a read on the reader thread answers what the engine committed, with the values and types it stored', async (t) => {
  const handle = await openNotes(t);
  await sql`insert into notes (body) values ('third')`.execute(handle.db);
  assert.deepEqual(await bodies(handle.readDb), ['first', 'second', 'third']);
  const [row] = (await sql<{ id: number; n: number; missing: null }>`select id, length(body) as n, null as missing from notes where body = ${'third'}`.execute(handle.readDb)).rows;
  assert.deepEqual(row, { id: 3, n: 5, missing: null });
});

test('a read on the reader thread does not wait for the engine\'s open transaction, and does not see it', async (t) => {
  const handle = await openNotes(t);
  // The engine's one connection is held by this transaction (as by the sync worker's batch); a read
  // on that connection would wait for it to end, so one answered inside it ran elsewhere.
  const seenInside = await handle.db.transaction().execute(async (tx) => {
    await sql`insert into notes (body) values ('uncommitted')`.execute(tx);
    return within(bodies(handle.readDb), 5_000, 'a read during the engine\'s transaction');
  });
  assert.deepEqual(seenInside, ['first', 'second']);
  assert.deepEqual(await bodies(handle.readDb), ['first', 'second', 'uncommitted'], 'committed, it is read');
});

test('nothing can be written through the reader thread: the write is refused and changes nothing', async (t) => {
  const handle = await openNotes(t);
  await assert.rejects(sql`insert into notes (body) values ('sneaked')`.execute(handle.readDb), (error: Error & { code?: string }) => error.code === 'SQLITE_READONLY');
  await assert.rejects(handle.readDb.transaction().execute(async () => undefined), /outside transactions/);
  assert.deepEqual(await bodies(handle.db), ['first', 'second']);
  assert.deepEqual(await bodies(handle.readDb), ['first', 'second'], 'the thread reads on after a refusal');
});

test('reads sent together are each answered with their own rows', async (t) => {
  const handle = await openNotes(t);
  const reads = Array.from({ length: 50 }, (_, index) => sql<{ value: number }>`select ${index} * 2 as value`.execute(handle.readDb));
  assert.deepEqual((await Promise.all(reads)).map((result) => result.rows[0]!.value), Array.from({ length: 50 }, (_, index) => index * 2));
});

test('a reader thread that cannot run refuses its reads as the storage being unavailable, then reads go to the engine\'s connection', async (t) => {
  const handle = await openNotes(t);
  const { directory } = openFile(t);
  const broken = createReaderThread(join(directory, 'no-such.sqlite'), { busyTimeoutMs: 100 });
  t.after(() => broken.close());
  const reads = readerDatabase(broken, handle.db);
  await assert.rejects(bodies(reads), (error: Error) => classifyStorageError(error) !== undefined);
  assert.equal(broken.available, false);
  assert.deepEqual(await bodies(reads), ['first', 'second'], 'answered by the engine\'s own connection');
});

test('closing the database answers the reads sent to the thread first', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-reader-thread-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const handle = openDatabase(`sqlite:${join(directory, 'engine.sqlite')}`);
  await sql`create table notes (id integer primary key, body text not null)`.execute(handle.db);
  await sql`insert into notes (body) values ('kept')`.execute(handle.db);
  const inFlight = Array.from({ length: 20 }, () => bodies(handle.readDb));
  // Sent to the thread once the query layer has handed them to the connection (a few microtask turns).
  await new Promise((resolve) => setImmediate(resolve));
  await handle.close();
  for (const answer of await Promise.all(inFlight)) assert.deepEqual(answer, ['kept']);
});

test('an in-memory database has no reader thread: its reads are the engine\'s connection', async (t) => {
  const handle = openDatabase('sqlite::memory:');
  t.after(() => handle.close());
  assert.equal(handle.readDb, handle.db);
});
