import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from './index.ts';
import { safetyNetPages } from './wal-checkpoint.ts';

// On SQLite the write-ahead log is copied into the database file by a thread of its own
// (src/db/wal-checkpoint.ts), not by the COMMIT that crosses SQLite's threshold on the event loop.
// What an operator relies on: the database file keeps up with what was committed while the engine
// runs (the log does not only grow), and closing the engine leaves one file, the log folded in.

const pageBytes = 4096;
const commits = 12;
const bodyBytes = 256 * 1024;
const waitMsMax = 10_000;

function openFile(t: TestContext): { handle: DatabaseHandle; path: string } {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-checkpoint-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const path = join(directory, 'engine.sqlite');
  return { handle: openDatabase(`sqlite:${path}`), path };
}

async function waitFor(condition: () => boolean): Promise<boolean> {
  for (const startedAt = Date.now(); Date.now() - startedAt < waitMsMax; await sleep(20)) {
    if (condition()) return true;
  }
  return condition();
}

test('[sqlite] what is committed reaches the database file while the engine runs, far below the safety net', async (t) => {
  const { handle, path } = openFile(t);
  t.after(() => handle.close());
  await sql`create table notes (id integer primary key, body text not null)`.execute(handle.db);
  const fileBytesAtStart = statSync(path).size;
  for (let commit = 0; commit < commits; commit += 1) {
    await handle.db.transaction().execute(async (tx) => {
      await sql`insert into notes (body) values (${'n'.repeat(bodyBytes)})`.execute(tx);
    });
    // Commits further apart than the checkpoints' interval, so each may start one.
    await sleep(40);
  }
  const committedBytes = commits * bodyBytes;
  assert.ok(committedBytes < safetyNetPages * pageBytes / 10, 'the writes stay far below the connection\'s own checkpoint');
  const caughtUp = await waitFor(() => statSync(path).size - fileBytesAtStart >= committedBytes * 0.9);
  assert.ok(caughtUp, `the database file grew by ${statSync(path).size - fileBytesAtStart} bytes for ${committedBytes} committed`);
  const [{ count }] = (await sql<{ count: number }>`select count(*) as count from notes`.execute(handle.db)).rows as [{ count: number }];
  assert.equal(count, commits);
});

test('[sqlite] closing the engine stops the checkpoint thread: the log is folded in and removed, nothing lost', async (t) => {
  const { handle, path } = openFile(t);
  await sql`create table notes (id integer primary key, body text not null)`.execute(handle.db);
  for (let commit = 0; commit < 5; commit += 1) {
    await sql`insert into notes (body) values (${`note ${commit}`})`.execute(handle.db);
  }
  assert.ok(existsSync(`${path}-wal`), 'the log exists while the engine runs');
  await handle.close();
  assert.equal(existsSync(`${path}-wal`), false, 'no log is left beside the database file');
  const reopened = openDatabase(`sqlite:${path}`);
  t.after(() => reopened.close());
  const rows = (await sql<{ body: string }>`select body from notes order by id`.execute(reopened.db)).rows;
  assert.deepEqual(rows.map((row) => row.body), ['note 0', 'note 1', 'note 2', 'note 3', 'note 4']);
});

test('[sqlite] a process with nothing else to do waits for the close: the thread never lets it end halfway', async (t) => {
  // The thread does not keep a running process alive, but its close must: a process whose last
  // step is closing the engine (a CLI command, a benchmark) once ended there, its output unwritten.
  const { path } = openFile(t);
  const script = `
    import { sql } from 'kysely';
    import { openDatabase } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
    const handle = openDatabase(${JSON.stringify(`sqlite:${path}`)});
    await sql\`create table notes (body text)\`.execute(handle.db);
    await sql\`insert into notes values ('kept')\`.execute(handle.db);
    await handle.close();
    console.log('closed');`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: waitMsMax });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'closed');
  assert.equal(existsSync(`${path}-wal`), false);
});
