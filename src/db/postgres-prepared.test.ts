import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { openDatabase, type Queryable } from './index.ts';
import { preparedNameFor, readPreparedStatementsOption } from './postgres-prepared.ts';

describe('named prepared statements on PostgreSQL', () => {
  test('a text is named from its second run, the same name every time; transaction control never', () => {
    const text = `select "id" from "merchants" where "merchant_id" = $1 -- ${Math.random()}`;
    const connection = new Set<string>();
    assert.equal(preparedNameFor(text, connection), undefined, 'a first run stays unnamed: a one-off query prepares nothing');
    const name = preparedNameFor(text, connection);
    assert.match(name ?? '', /^c_[\w-]{24}$/);
    assert.equal(preparedNameFor(text, connection), name);
    for (let run = 0; run < 3; run += 1) {
      assert.equal(preparedNameFor('begin', connection), undefined);
      assert.equal(preparedNameFor('savepoint "inbox_event"', connection), undefined);
    }
  });

  test('a connection holding its limit of named statements runs new texts unnamed, and keeps using the ones it has', () => {
    const full = new Set(Array.from({ length: 500 }, (_, index) => `c_${index}`));
    const text = `select 1 where $1::int > 0 -- ${Math.random()}`;
    preparedNameFor(text, full);
    assert.equal(preparedNameFor(text, full), undefined);
    const held = preparedNameFor(text, new Set());
    assert.ok(held);
    full.add(held);
    assert.equal(preparedNameFor(text, full), held);
  });

  test('DATABASE_URL takes prepared_statements=on|off, removed before the driver sees it; anything else is refused by name', () => {
    assert.deepEqual(readPreparedStatementsOption('postgres://app@db.example:5432/continuum'), { url: 'postgres://app@db.example:5432/continuum', prepared: true });
    const off = readPreparedStatementsOption('postgres://app@db.example:5432/continuum?sslmode=require&prepared_statements=off');
    assert.equal(off.prepared, false);
    assert.equal(new URL(off.url).searchParams.get('prepared_statements'), null);
    assert.equal(new URL(off.url).searchParams.get('sslmode'), 'require');
    assert.throws(() => readPreparedStatementsOption('postgres://app@db.example/continuum?prepared_statements=yes'), /prepared_statements must be on or off \(got "yes"\)/);
    assert.equal(readPreparedStatementsOption('postgres://app@db.example/continuum?options=-c%20search_path%3Dt_1&prepared_statements=off').url, 'postgres://app@db.example/continuum?options=-c%20search_path%3Dt_1', 'the other options are left exactly as written');
    assert.equal(readPreparedStatementsOption('postgres://app@db.example/continuum?prepared_statements=off').url, 'postgres://app@db.example/continuum');
  });

  if (DIALECTS.includes('postgres')) {
    test('a query the engine runs twice is parsed once on its connection; answers are the same; off prepares nothing', async (t) => {
      const database = await openTestDatabase('postgres');
      t.after(() => database.dispose());
      const readMerchantName = (tx: Queryable, merchantId: string) => tx.selectFrom('merchants').select('name').where('merchant_id', '=', merchantId);
      await database.handle.db.insertInto('merchants').values({ id: 'mer_a', merchant_id: 'mer_a', name: 'A', currency: 'EUR', default_country: 'FR', settings_json: '{}', created_at: '2025-01-01T00:00:00.000Z' }).execute();

      const prepared = await database.handle.db.transaction().execute(async (tx) => {
        const answers = [await readMerchantName(tx, 'mer_a').execute(), await readMerchantName(tx, 'mer_b').execute(), await readMerchantName(tx, 'mer_a').execute()];
        const statements = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(tx);
        return { answers, statements: statements.rows.map((row) => row.statement) };
      });
      assert.deepEqual(prepared.answers, [[{ name: 'A' }], [], [{ name: 'A' }]]);
      assert.equal(prepared.statements.filter((statement) => statement.includes('from "merchants"')).length, 1);

      const unprepared = openDatabase(`${database.url}${database.url.includes('?') ? '&' : '?'}prepared_statements=off`, { postgresSchema: database.postgresSchema! });
      t.after(() => unprepared.close());
      const statements = await unprepared.db.transaction().execute(async (tx) => {
        for (let run = 0; run < 3; run += 1) await readMerchantName(tx, 'mer_a').execute();
        return (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(tx)).rows;
      });
      assert.deepEqual(statements, []);
    });
  }
});
