import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle, type WriterThread } from './index.ts';
import { createWriterThread } from './writer-thread.ts';

// SQLite's writes of the webhook inbox run on a second connection on a thread (writer-thread.ts).
// What the engine relies on: a unit is all or nothing (checks that fail write nothing, an error
// writes nothing and the thread goes on), what it wrote is there for the engine's own connection,
// which waits for it instead of contending for the write lock, and a thread that cannot run says
// so instead of taking writes.

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

async function createNotes(handle: DatabaseHandle): Promise<void> {
  await sql`create table notes (id integer primary key, position integer not null, body text not null unique)`.execute(handle.db);
}

async function readNotes(handle: DatabaseHandle): Promise<{ position: number; body: string }[]> {
  return (await sql<{ position: number; body: string }>`select position, body from notes order by id`.execute(handle.db)).rows;
}

const insertTwo = 'insert into notes (position, body) values (?, ?), (?, ?) returning id, body';

test('[sqlite] a unit writes on the thread with the number it read, in one transaction, and answers the rows it returned', async (t) => {
  const { handle, thread } = openFile(t);
  await createNotes(handle);
  await sql`insert into notes (position, body) values (41, 'before')`.execute(handle.db);

  const outcome = await thread.run({
    checks: [{ key: 'the first note is there', sql: 'select id from notes where body = ?', parameters: ['before'] }],
    read: { sql: 'select max(position) from notes', parameters: [] },
    write: { sql: insertTwo, parameters: [{ readPlus: 1 }, 'first', { readPlus: 2 }, 'second'] },
  });

  assert.ok(outcome.written);
  assert.deepEqual(outcome.rows.map((row) => row['body']), ['first', 'second']);
  assert.deepEqual(await readNotes(handle), [{ position: 41, body: 'before' }, { position: 42, body: 'first' }, { position: 43, body: 'second' }], 'the engine\'s connection reads what the thread committed');
});

test('[sqlite] checks that find no row write nothing and are named; a write that fails writes nothing, rejects with SQLite\'s code, and the thread goes on', async (t) => {
  const { handle, thread } = openFile(t);
  await createNotes(handle);
  await sql`insert into notes (position, body) values (1, 'taken')`.execute(handle.db);

  const refused = await thread.run({
    checks: [
      { key: 'held', sql: 'select id from notes where body = ?', parameters: ['taken'] },
      { key: 'gone', sql: 'select id from notes where body = ?', parameters: ['erased'] },
    ],
    write: { sql: insertTwo, parameters: [2, 'a', 3, 'b'] },
  });
  assert.deepEqual(refused, { written: false, failedChecks: ['gone'] });

  // The second row repeats a unique body: the statement fails after the first row was inserted.
  await assert.rejects(thread.run({ checks: [], write: { sql: insertTwo, parameters: [2, 'c', 3, 'taken'] } }), (error: Error & { code?: string }) => error.code === 'SQLITE_CONSTRAINT_UNIQUE');
  assert.deepEqual(await readNotes(handle), [{ position: 1, body: 'taken' }], 'neither unit wrote anything');

  const after = await thread.run({ checks: [], write: { sql: insertTwo, parameters: [2, 'c', 3, 'd'] } });
  assert.ok(after.written, 'the thread takes the next unit');
  assert.equal((await readNotes(handle)).length, 3);
});

test('[sqlite] the engine\'s connection waits while a unit runs: a read asked meanwhile sees what the unit committed', async (t) => {
  const { handle, thread } = openFile(t);
  await createNotes(handle);
  // Enough rows that the unit is still running when the read is asked.
  const manyRows = `insert into notes (position, body) select value, 'note ' || value from (with recursive counter(value) as (select 1 union all select value + 1 from counter where value < ?) select value from counter)`;

  const unit = thread.run({ checks: [], write: { sql: manyRows, parameters: [20_000] } });
  const counted = sql<{ count: number }>`select count(*) as count from notes`.execute(handle.db);

  assert.deepEqual(await unit, { written: true, rows: [] });
  assert.equal(Number((await counted).rows[0]!.count), 20_000, 'the read ran after the unit\'s commit, not beside it');
});

test('[sqlite] closing the thread while a unit runs answers the unit first: what it wrote is there', async (t) => {
  const { handle, thread } = openFile(t);
  await createNotes(handle);

  const unit = thread.run({ checks: [], write: { sql: insertTwo, parameters: [1, 'late', 2, 'later'] } });
  await thread.close();

  assert.equal((await unit).written, true);
  assert.deepEqual((await readNotes(handle)).map((note) => note.body), ['late', 'later']);
});

test('[sqlite] a thread that cannot open its database refuses the unit and says it is not available; a closed one refuses too', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-writer-thread-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const missing = createWriterThread(join(directory, 'no-such.sqlite'), { busyTimeoutMs: 100 });
  assert.equal(missing.available, true, 'not started before its first unit');

  await assert.rejects(missing.run({ checks: [], write: { sql: 'select 1', parameters: [] } }), (error: Error & { code?: string }) => error.code === 'SQLITE_CANTOPEN');
  assert.equal(missing.available, false, 'callers write on the engine\'s connection instead');
  await missing.close();

  const { thread } = openFile(t);
  await thread.close();
  assert.equal(thread.available, false);
  await assert.rejects(thread.run({ checks: [], write: { sql: 'select 1', parameters: [] } }), /not running/);
});
