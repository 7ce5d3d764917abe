import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { classifyStorageError, openDatabase, type DatabaseHandle, type DialectName, type WriterThread } from './index.ts';
import { postgresWriterThreadName } from './postgres-writer-thread.ts';
import { createWriterThread } from './writer-thread.ts';

// The webhook inbox's writes run on a connection of their own on a thread: SQLite's
// (writer-thread.ts) and PostgreSQL's (postgres-writer-thread.ts). What the engine relies on: a
// unit is all or nothing (checks that fail write nothing, an error writes nothing and the thread
// goes on), what it wrote is there for the engine's own connections, units in flight are answered
// before the thread closes, and a thread that cannot run says so instead of taking writes. On
// SQLite the engine's connection also waits for a unit instead of contending for the write lock.

function openFile(t: TestContext): { handle: DatabaseHandle; thread: WriterThread; path: string } {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-writer-thread-'));
  const path = join(directory, 'engine.sqlite');
  const handle = openDatabase(`sqlite:${path}`);
  t.after(async () => {
    await handle.close();
    rmSync(directory, { recursive: true, force: true });
  });
  assert.ok(handle.writerThread, 'a database file has a writer thread');
  return { handle, thread: handle.writerThread, path };
}

/** A database of `dialect` with its writer thread and a `notes` table; SQL texts in its placeholders. */
async function openNotes(t: TestContext, dialect: DialectName) {
  let handle: DatabaseHandle;
  if (dialect === 'sqlite') {
    handle = openFile(t).handle;
  } else {
    const database = await openTestDatabase('postgres');
    t.after(() => database.dispose());
    handle = database.handle;
  }
  const thread = handle.writerThread;
  assert.ok(thread, 'SQLite on a file and PostgreSQL have a writer thread');
  const key = dialect === 'sqlite' ? 'integer primary key' : 'serial primary key';
  await sql.raw(`create table notes (id ${key}, position integer not null, body text not null unique)`).execute(handle.db);
  const slot = (index: number) => (dialect === 'sqlite' ? '?' : `$${index}`);
  return {
    handle, thread,
    insertTwo: `insert into notes (position, body) values (${slot(1)}, ${slot(2)}), (${slot(3)}, ${slot(4)}) returning id, body`,
    selectByBody: `select id from notes where body = ${slot(1)}`,
    uniqueViolation: dialect === 'sqlite' ? 'SQLITE_CONSTRAINT_UNIQUE' : '23505',
  };
}

async function readNotes(handle: DatabaseHandle): Promise<{ position: number; body: string }[]> {
  return (await sql<{ position: number; body: string }>`select position, body from notes order by id`.execute(handle.db)).rows;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a unit writes on the thread with the number it read, in one transaction, and answers the rows it returned`, async (t) => {
    const { handle, thread, insertTwo, selectByBody } = await openNotes(t, dialect);
    await sql`insert into notes (position, body) values (41, 'before')`.execute(handle.db);

    const outcome = await thread.run({
      checks: [{ key: 'the first note is there', sql: selectByBody, parameters: ['before'] }],
      read: { sql: 'select max(position) from notes', parameters: [] },
      write: { sql: insertTwo, parameters: [{ readPlus: 1 }, 'first', { readPlus: 2 }, 'second'] },
    });

    assert.ok(outcome.written);
    assert.deepEqual(outcome.rows.map((row) => row['body']), ['first', 'second']);
    assert.deepEqual(await readNotes(handle), [{ position: 41, body: 'before' }, { position: 42, body: 'first' }, { position: 43, body: 'second' }], 'the engine\'s connection reads what the thread committed');
  });

  test(`[${dialect}] checks that find no row write nothing and are named; a write that fails writes nothing, rejects with the database's code, and the thread goes on`, async (t) => {
    const { handle, thread, insertTwo, selectByBody, uniqueViolation } = await openNotes(t, dialect);
    await sql`insert into notes (position, body) values (1, 'taken')`.execute(handle.db);

    const refused = await thread.run({
      checks: [
        { key: 'held', sql: selectByBody, parameters: ['taken'] },
        { key: 'gone', sql: selectByBody, parameters: ['erased'] },
      ],
      write: { sql: insertTwo, parameters: [2, 'a', 3, 'b'] },
    });
    assert.deepEqual(refused, { written: false, failedChecks: ['gone'] });

    // The second row repeats a unique body: the statement fails after the first row was inserted.
    await assert.rejects(thread.run({ checks: [], write: { sql: insertTwo, parameters: [2, 'c', 3, 'taken'] } }), (error: Error & { code?: string }) => error.code === uniqueViolation);
    assert.deepEqual(await readNotes(handle), [{ position: 1, body: 'taken' }], 'neither unit wrote anything');

    const after = await thread.run({ checks: [], write: { sql: insertTwo, parameters: [2, 'c', 3, 'd'] } });
    assert.ok(after.written, 'the thread takes the next unit');
    assert.equal((await readNotes(handle)).length, 3);
  });

  test(`[${dialect}] closing the thread while a unit runs answers the unit first: what it wrote is there; later units are refused as the storage being unavailable`, async (t) => {
    const { handle, thread, insertTwo } = await openNotes(t, dialect);

    const unit = thread.run({ checks: [], write: { sql: insertTwo, parameters: [1, 'late', 2, 'later'] } });
    await thread.close();

    assert.equal((await unit).written, true);
    assert.deepEqual((await readNotes(handle)).map((note) => note.body), ['late', 'later']);
    assert.equal(thread.available, false);
    await assert.rejects(thread.run({ checks: [], write: { sql: insertTwo, parameters: [3, 'x', 4, 'y'] } }), (error: Error) => /not running/.test(error.message) && classifyStorageError(error) !== undefined);
  });
}

test('[sqlite] the engine\'s connection waits while a unit runs: a read asked meanwhile sees what the unit committed', async (t) => {
  const { handle, thread } = await openNotes(t, 'sqlite');
  // Enough rows that the unit is still running when the read is asked.
  const manyRows = `insert into notes (position, body) select value, 'note ' || value from (with recursive counter(value) as (select 1 union all select value + 1 from counter where value < ?) select value from counter)`;

  const unit = thread.run({ checks: [], write: { sql: manyRows, parameters: [20_000] } });
  const counted = sql<{ count: number }>`select count(*) as count from notes`.execute(handle.db);

  assert.deepEqual(await unit, { written: true, rows: [] });
  assert.equal(Number((await counted).rows[0]!.count), 20_000, 'the read ran after the unit\'s commit, not beside it');
});

test('[sqlite] a thread that cannot open its database refuses the unit and says it is not available', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-writer-thread-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const missing = createWriterThread(join(directory, 'no-such.sqlite'), { busyTimeoutMs: 100 });
  assert.equal(missing.available, true, 'not started before its first unit');

  await assert.rejects(missing.run({ checks: [], write: { sql: 'select 1', parameters: [] } }), (error: Error & { code?: string }) => error.code === 'SQLITE_CANTOPEN');
  assert.equal(missing.available, false, 'callers write on the engine\'s connection instead');
  await missing.close();
});

if (DIALECTS.includes('postgres')) {
  test('[postgres] the server closes the thread\'s connection: the unit it was running is refused as the storage being unavailable, the next one opens a new connection and is written', async (t) => {
    const { handle, thread, insertTwo } = await openNotes(t, 'postgres');
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
