import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { AppError } from '../shared/app-error.ts';
import type { Db, DialectName, Tx } from './index.ts';
import { createGroupCommit } from './group-commit.ts';

// Group commit for request transactions (issue #9): concurrent commands share one transaction and
// one commit, each in its own savepoint. What a caller notices: every command gets its own answer;
// a refused command changes nothing while the rest of its batch is kept; no command is answered
// before its batch is committed; a batch whose commit fails is refused as a whole (503) and stores
// nothing.

async function openDatabase(t: TestContext, dialect: DialectName): Promise<Db> {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  const db = database.handle.db;
  // A child whose parent must exist when the transaction commits (checked at COMMIT, not at the insert).
  await sql`create table gc_parents (id text primary key)`.execute(db);
  await sql`create table gc_children (id text primary key, parent_id text not null references gc_parents (id) deferrable initially deferred)`.execute(db);
  return db;
}

async function names(db: Db, table: 'gc_parents' | 'gc_children'): Promise<string[]> {
  const result = await sql<{ id: string }>`select id from ${sql.table(table)} order by id`.execute(db);
  return result.rows.map((row) => row.id);
}

const insertParent = (id: string) => async (tx: Tx) => {
  await sql`insert into gc_parents (id) values (${id})`.execute(tx);
  return id;
};

for (const dialect of DIALECTS) {
  test(`[${dialect}] 100 concurrent commands share a few commits; each gets its own result`, async (t) => {
    const db = await openDatabase(t, dialect);
    const batches: number[] = [];
    const committer = createGroupCommit({ db, batchSizeMax: 32, onCommit: (commands) => batches.push(commands) });
    const ids = Array.from({ length: 100 }, (_, index) => `p${String(index).padStart(3, '0')}`);
    const results = await Promise.all(ids.map((id) => committer.run(insertParent(id))));
    assert.deepEqual(results, ids);
    assert.deepEqual(await names(db, 'gc_parents'), ids);
    assert.equal(batches.reduce((sum, size) => sum + size, 0), 100);
    assert.ok(batches.length <= 5, `100 commands in ${batches.length} commits (${batches.join(', ')})`);
    assert.ok(Math.max(...batches) <= 32, 'no batch is larger than batchSizeMax');
    await committer.close();
  });

  test(`[${dialect}] a refused command in a batch rolls back only its own writes and gets its own error; the others are stored`, async (t) => {
    const db = await openDatabase(t, dialect);
    const batches: number[] = [];
    const committer = createGroupCommit({ db, onCommit: (commands) => batches.push(commands) });
    const refused = new AppError('inventory.insufficient_stock', 'Only 0 available at this location');
    const outcomes = await Promise.allSettled([
      committer.run(insertParent('a')),
      committer.run(async (tx) => {
        await sql`insert into gc_parents (id) values ('refused-but-written-first')`.execute(tx);
        throw refused;
      }),
      // A statement the database refuses (a duplicate key) fails only its own command, on PostgreSQL too.
      committer.run(insertParent('a')),
      committer.run(insertParent('b')),
    ]);
    assert.deepEqual(batches, [4], 'the four commands shared one commit');
    assert.deepEqual(outcomes[0], { status: 'fulfilled', value: 'a' });
    assert.equal(outcomes[1]!.status, 'rejected');
    assert.equal((outcomes[1] as PromiseRejectedResult).reason, refused, 'the refused command gets its own error');
    assert.equal(outcomes[2]!.status, 'rejected', 'the duplicate is refused');
    assert.notEqual(((outcomes[2] as PromiseRejectedResult).reason as { code?: string }).code, 'storage.unavailable');
    assert.deepEqual(outcomes[3], { status: 'fulfilled', value: 'b' });
    assert.deepEqual(await names(db, 'gc_parents'), ['a', 'b'], "the refused command's own write was rolled back");
    await committer.close();
  });

  test(`[${dialect}] a batch whose COMMIT fails stores nothing and every command of it is refused with storage.unavailable`, async (t) => {
    const db = await openDatabase(t, dialect);
    const committer = createGroupCommit({ db });
    const outcomes = await Promise.allSettled([
      committer.run(insertParent('kept-only-if-committed')),
      // Accepted by its own statement; the deferred foreign key fails the COMMIT of the whole batch.
      committer.run(async (tx) => {
        await sql`insert into gc_children (id, parent_id) values ('orphan', 'missing')`.execute(tx);
        return 'orphan';
      }),
      committer.run(insertParent('also-kept-only-if-committed')),
    ]);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      const reason = (outcome as PromiseRejectedResult).reason as AppError;
      assert.equal(reason.code, 'storage.unavailable');
      assert.equal(reason.details['reason'], 'commit_failed');
    }
    assert.deepEqual(await names(db, 'gc_parents'), []);
    assert.deepEqual(await names(db, 'gc_children'), []);
    // The committer goes on: the next batch commits.
    assert.equal(await committer.run(insertParent('after')), 'after');
    assert.deepEqual(await names(db, 'gc_parents'), ['after']);
    await committer.close();
  });

  test(`[${dialect}] a command alone runs as its own transaction: its error is its answer and nothing of it is stored`, async (t) => {
    const db = await openDatabase(t, dialect);
    const committer = createGroupCommit({ db });
    await assert.rejects(committer.run(async (tx) => {
      await insertParent('alone')(tx);
      throw new AppError('catalog.unknown_sku', 'No variant with SKU X');
    }), (error: unknown) => error instanceof AppError && error.code === 'catalog.unknown_sku');
    assert.deepEqual(await names(db, 'gc_parents'), []);
    await committer.close();
    await assert.rejects(committer.run(insertParent('late')), (error: unknown) => error instanceof AppError && error.code === 'storage.unavailable' && error.details['reason'] === 'stopping');
  });
}
