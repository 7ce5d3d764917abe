import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { classifyStorageError, type DatabaseHandle, type WriterThread } from './index.ts';
import { postgresWriterThreadName } from './postgres-writer-thread.ts';

// On PostgreSQL the webhook inbox's write units run on a connection of their own on a thread
// (postgres-writer-thread.ts). What the engine relies on: a unit is all or nothing, its checks and
// its read are in its transaction, PostgreSQL's errors come back with their codes, and a connection
// the server closed is replaced at the next unit, without a restart.

async function openThread(t: TestContext): Promise<{ handle: DatabaseHandle; thread: WriterThread }> {
  const database = await openTestDatabase('postgres');
  t.after(() => database.dispose());
  const thread = database.handle.writerThread;
  assert.ok(thread, 'PostgreSQL offers a writer thread');
  await sql`create table notes (id serial primary key, position integer not null, body text not null unique)`.execute(database.handle.db);
  return { handle: database.handle, thread };
}

async function readNotes(handle: DatabaseHandle): Promise<{ position: number; body: string }[]> {
  return (await sql<{ position: number; body: string }>`select position, body from notes order by id`.execute(handle.db)).rows;
}

const insertTwo = 'insert into notes (position, body) values ($1, $2), ($3, $4) returning id, body';

if (DIALECTS.includes('postgres')) {
  test('[postgres] a unit writes on the thread with the number it read, answers the rows it returned, and the engine\'s connections read it', async (t) => {
    const { handle, thread } = await openThread(t);
    await sql`insert into notes (position, body) values (41, 'before')`.execute(handle.db);

    const outcome = await thread.run({
      checks: [{ key: 'the first note is there', sql: 'select id from notes where body = $1', parameters: ['before'] }],
      read: { sql: 'select max(position) from notes', parameters: [] },
      write: { sql: insertTwo, parameters: [{ readPlus: 1 }, 'first', { readPlus: 2 }, 'second'] },
    });

    assert.ok(outcome.written);
    assert.deepEqual(outcome.rows.map((row) => row['body']), ['first', 'second']);
    assert.deepEqual(await readNotes(handle), [{ position: 41, body: 'before' }, { position: 42, body: 'first' }, { position: 43, body: 'second' }]);
  });

  test('[postgres] checks that find no row write nothing and are named; a write that fails writes nothing, rejects with PostgreSQL\'s code, and the thread goes on', async (t) => {
    const { handle, thread } = await openThread(t);
    await sql`insert into notes (position, body) values (1, 'taken')`.execute(handle.db);

    const refused = await thread.run({
      checks: [
        { key: 'held', sql: 'select id from notes where body = $1', parameters: ['taken'] },
        { key: 'gone', sql: 'select id from notes where body = $1', parameters: ['erased'] },
      ],
      write: { sql: insertTwo, parameters: [2, 'a', 3, 'b'] },
    });
    assert.deepEqual(refused, { written: false, failedChecks: ['gone'] });

    // The second row repeats a unique body: the statement fails after the first row was inserted.
    await assert.rejects(thread.run({ checks: [], write: { sql: insertTwo, parameters: [2, 'c', 3, 'taken'] } }), (error: Error & { code?: string }) => error.code === '23505');
    assert.deepEqual(await readNotes(handle), [{ position: 1, body: 'taken' }], 'neither unit wrote anything');

    const after = await thread.run({ checks: [], write: { sql: insertTwo, parameters: [2, 'c', 3, 'd'] } });
    assert.ok(after.written, 'the thread takes the next unit');
    assert.equal((await readNotes(handle)).length, 3);
  });

  test('[postgres] the server closes the thread\'s connection: the unit it was running is refused as the storage being unavailable, the next one opens a new connection and is written', async (t) => {
    const { handle, thread } = await openThread(t);
    assert.ok((await thread.run({ checks: [], write: { sql: insertTwo, parameters: [1, 'a', 2, 'b'] } })).written);
    const terminate = sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${postgresWriterThreadName} and datname = current_database() and pid <> pg_backend_pid()`;

    // A unit running when its connection is closed (it waits on a lock the test holds meanwhile).
    await handle.db.transaction().execute(async (tx) => {
      await sql`lock table notes in exclusive mode`.execute(tx);
      const blocked = thread.run({ checks: [], write: { sql: insertTwo, parameters: [3, 'c', 4, 'd'] } });
      const settled = blocked.then(() => 'written', (error: unknown) => error);
      await waitForLockWait(handle);
      await terminate.execute(handle.db);
      const outcome = await settled;
      assert.ok(outcome instanceof Error, `the unit is refused (got ${String(outcome)})`);
      assert.ok(classifyStorageError(outcome), `answered 503 as the storage being unavailable: ${outcome.message}`);
    });

    const next = await thread.run({ checks: [], write: { sql: insertTwo, parameters: [3, 'e', 4, 'f'] } });
    assert.ok(next.written, 'the thread recovered without a restart');
    assert.deepEqual((await readNotes(handle)).map((note) => note.body), ['a', 'b', 'e', 'f'], 'the refused unit wrote nothing');
    assert.equal(thread.available, true);
  });

  test('[postgres] closing the thread while a unit runs answers the unit first: what it wrote is there', async (t) => {
    const { handle, thread } = await openThread(t);

    const unit = thread.run({ checks: [], write: { sql: insertTwo, parameters: [1, 'late', 2, 'later'] } });
    await thread.close();

    assert.equal((await unit).written, true);
    assert.deepEqual((await readNotes(handle)).map((note) => note.body), ['late', 'later']);
    assert.equal(thread.available, false);
    await assert.rejects(thread.run({ checks: [], write: { sql: insertTwo, parameters: [3, 'x', 4, 'y'] } }), (error: Error) => classifyStorageError(error) !== undefined);
  });
}

/** Until the thread's connection waits for a lock. */
async function waitForLockWait(handle: DatabaseHandle): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const waiting = await sql<{ count: string }>`select count(*) as count from pg_stat_activity where application_name = ${postgresWriterThreadName} and wait_event_type = 'Lock'`.execute(handle.db);
    if (Number(waiting.rows[0]!.count) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('the thread\'s unit never waited for the lock');
}
