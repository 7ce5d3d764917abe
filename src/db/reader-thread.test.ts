import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { classifyStorageError, openDatabase, type DatabaseHandle } from './index.ts';
import { backlogBound, createReaderThread, readerDatabase, threadWhenBusy } from './reader-thread.ts';

// The register's lookups read on a SQLite connection of their own, on a thread (reader-thread.ts),
// when the event loop is busy or the engine's connection is in a transaction. What the engine
// relies on: such a read sees what was committed, by the engine's connection or another, never the
// engine's transaction in progress and never waits for it; nothing can be written through it; and a
// thread that cannot run hands its reads to the engine's connection after refusing the ones in
// flight as the storage being unavailable (503).

const sqlitePathOf = new WeakMap<DatabaseHandle, string>();

function openFile(t: TestContext): { handle: DatabaseHandle; directory: string } {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-reader-thread-'));
  const handle = openDatabase(`sqlite:${join(directory, 'engine.sqlite')}`);
  sqlitePathOf.set(handle, join(directory, 'engine.sqlite'));
  t.after(async () => {
    await handle.close();
    rmSync(directory, { recursive: true, force: true });
  });
  return { handle, directory };
}

async function openNotes(t: TestContext): Promise<DatabaseHandle> {
  const { handle } = openFile(t);
  assert.notEqual(handle.readDb, handle.db, 'a database file has a reader thread');
  await sql`create table notes (id integer primary key, body text not null)`.execute(handle.db);
  await sql`insert into notes (body) values ('first'), ('second')`.execute(handle.db);
  return handle;
}

/** Reads on a reader thread of the handle's file, every one of them on the thread. */
function threadReads(t: TestContext, handle: DatabaseHandle): DatabaseHandle['db'] {
  const path = (sqlitePathOf.get(handle))!;
  const thread = createReaderThread(path, { busyTimeoutMs: 1_000 });
  t.after(() => thread.close());
  return readerDatabase(thread, handle.db, { useThread: () => true });
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
  const reads = threadReads(t, handle);
  await sql`insert into notes (body) values ('third')`.execute(handle.db);
  assert.deepEqual(await bodies(reads), ['first', 'second', 'third']);
  const [row] = (await sql<{ id: number; n: number; missing: null }>`select id, length(body) as n, null as missing from notes where body = ${'third'}`.execute(reads)).rows;
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
  const reads = threadReads(t, handle);
  await assert.rejects(sql`insert into notes (body) values ('sneaked')`.execute(reads), (error: Error & { code?: string }) => error.code === 'SQLITE_READONLY');
  await assert.rejects(handle.readDb.transaction().execute(async () => undefined), /outside transactions/);
  assert.deepEqual(await bodies(handle.db), ['first', 'second']);
  assert.deepEqual(await bodies(reads), ['first', 'second'], 'the thread reads on after a refusal');
});

test('reads sent together are each answered with their own rows', async (t) => {
  const handle = await openNotes(t);
  const onThread = threadReads(t, handle);
  const reads = Array.from({ length: 50 }, (_, index) => sql<{ value: number }>`select ${index} * 2 as value`.execute(onThread));
  assert.deepEqual((await Promise.all(reads)).map((result) => result.rows[0]!.value), Array.from({ length: 50 }, (_, index) => index * 2));
});

test('the thread\'s backlog counts the reads it has not finished, down to none once all are answered; its finished work counts them and their time', async (t) => {
  const handle = await openNotes(t);
  const thread = createReaderThread((sqlitePathOf.get(handle))!, { busyTimeoutMs: 1_000 });
  t.after(() => thread.close());
  const onThread = readerDatabase(thread, handle.db, { useThread: () => true });
  assert.deepEqual(thread.finishedWork, { reads: 0, micros: 0 });
  const startedAt = performance.now();
  // A read that takes the thread a while (counting to two million), then ten behind it.
  const slow = sql<{ n: number }>`with recursive c(n) as (select 1 union all select n + 1 from c where n < 2000000) select count(*) as n from c`.execute(onThread);
  const quick = Array.from({ length: 10 }, () => bodies(onThread));
  await new Promise((resolve) => setImmediate(resolve)); // the reads are compiled and sent
  assert.ok(thread.backlog >= 10, `the ten behind the slow read wait (${thread.backlog})`);
  assert.equal((await slow).rows[0]!.n, 2_000_000);
  await Promise.all(quick);
  const elapsedMicros = (performance.now() - startedAt) * 1000;
  assert.equal(thread.backlog, 0);
  const { reads, micros } = thread.finishedWork;
  assert.equal(reads, 11);
  // Counting to two million takes the thread tens of milliseconds at least; the time counted is
  // the thread's, within the time the reads took to answer.
  assert.ok(micros >= 10_000 && micros <= elapsedMicros, `${micros} µs counted, ${Math.round(elapsedMicros)} µs elapsed`);
});

test('a reader thread that cannot run refuses its reads as the storage being unavailable, then reads go to the engine\'s connection', async (t) => {
  const handle = await openNotes(t);
  const { directory } = openFile(t);
  const broken = createReaderThread(join(directory, 'no-such.sqlite'), { busyTimeoutMs: 100 });
  t.after(() => broken.close());
  const reads = readerDatabase(broken, handle.db, { useThread: () => true });
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
  // Sent to the thread: the engine's connection is in a transaction, which the close then waits for.
  let inFlight: Promise<string[]>[] = [];
  await handle.db.transaction().execute(async () => {
    inFlight = Array.from({ length: 20 }, () => bodies(handle.readDb));
    // Handed to the thread once the query layer has passed them to the connection (a few microtask turns).
    await new Promise((resolve) => setImmediate(resolve));
  });
  await handle.close();
  for (const answer of await Promise.all(inFlight)) assert.deepEqual(answer, ['kept']);
});

test('an in-memory database has no reader thread: its reads are the engine\'s connection', async (t) => {
  const handle = openDatabase('sqlite::memory:');
  t.after(() => handle.close());
  assert.equal(handle.readDb, handle.db);
});

/** Keeps the event loop busy for `milliseconds`: the rule then finds it busy, and measures again. */
function holdEventLoop(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  while (performance.now() < until);
}

test('the reads that may wait on the thread are those it runs in ~600 µs at its time a read, from 2 to 64', () => {
  assert.equal(backlogBound(28), 21, 'lookups by email');
  assert.equal(backlogBound(200), 3, 'name searches');
  assert.equal(backlogBound(100), 6);
  assert.equal(backlogBound(5_000), 2, 'a slow read still lets one wait behind it and one more');
  assert.equal(backlogBound(1), 64);
  assert.equal(backlogBound(0), 64, 'reads too quick to time');
});

test('reads go to the thread while the engine\'s connection is in a transaction or the event loop is busy (unless enough work waits there already), else run on the event loop', async () => {
  let inTransaction = false;
  let backlog = 0;
  const finishedWork = { reads: 0, micros: 0 };
  const useThread = threadWhenBusy(() => inTransaction, {
    get backlog() {
      return backlog;
    },
    get finishedWork() {
      return { ...finishedWork };
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(useThread(), false, 'an idle engine reads on its own connection');
  inTransaction = true;
  assert.equal(useThread(), true, 'a read would wait for the transaction');
  inTransaction = false;
  // The event loop held for 30 ms: busy all of the time since it was last measured.
  holdEventLoop(30);
  assert.equal(useThread(), true, 'a busy event loop hands its reads to the thread');
  backlog = 8;
  assert.equal(useThread(), false, 'with eight reads waiting on a thread not measured yet, the busy event loop runs the next itself');
  inTransaction = true;
  assert.equal(useThread(), true, 'but never one that would wait for the engine\'s transaction');
  inTransaction = false;
  backlog = 7;
  assert.equal(useThread(), true);

  // The thread ran 100 reads of 100 µs each: six may wait (600 µs), measured at the next window.
  finishedWork.reads += 100;
  finishedWork.micros += 100 * 100;
  holdEventLoop(25);
  backlog = 5;
  assert.equal(useThread(), true);
  backlog = 6;
  assert.equal(useThread(), false, 'six reads of 100 µs wait on the thread');
  // Then 40 reads of 20 µs: thirty may wait. (Too few reads since the last window change nothing.)
  finishedWork.reads += 40;
  finishedWork.micros += 40 * 20;
  holdEventLoop(25);
  backlog = 29;
  assert.equal(useThread(), true, 'quick reads: more of them wait on the thread');
  finishedWork.reads += 5;
  finishedWork.micros += 5 * 10_000;
  holdEventLoop(25);
  assert.equal(useThread(), true, 'five slow reads are too few to measure the thread by');
  backlog = 0;
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(useThread(), false, 'once the loop is idle again, reads come back to it');
});
