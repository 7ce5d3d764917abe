import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, openTestDatabase, type TestDatabase } from '../../test/support/databases.ts';
import { reuseQuery, type ParameterPlaceholders } from './index.ts';

const createdAt = '2025-01-01T00:00:00.000Z';

async function openForTest(t: TestContext, dialect: (typeof DIALECTS)[number]): Promise<TestDatabase> {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  for (const id of ['mer_a', 'mer_b']) {
    await database.handle.db.insertInto('merchants').values({ id, merchant_id: id, name: `Merchant ${id}`, currency: 'EUR', default_country: 'FR', settings_json: '{}', created_at: createdAt }).execute();
  }
  return database;
}

const merchantsNamed = reuseQuery((db, param: ParameterPlaceholders<{ currency: string; ids: string[] }>) => db
  .selectFrom('merchants')
  .select(['id', 'name'])
  .where('currency', '=', param('currency'))
  .where('id', 'in', param.list('ids', 2))
  .where('name', 'like', 'Merchant %')
  .orderBy('id'));

for (const dialect of DIALECTS) {
  describe(`reuseQuery [${dialect}]`, () => {
    test('runs a query built once with new parameters each time, constants kept, the same answers as the builder', async (t) => {
      const { handle } = await openForTest(t, dialect);
      assert.deepEqual(await merchantsNamed.execute(handle.db, { currency: 'EUR', ids: ['mer_a', 'mer_b'] }), [{ id: 'mer_a', name: 'Merchant mer_a' }, { id: 'mer_b', name: 'Merchant mer_b' }]);
      assert.deepEqual(await merchantsNamed.execute(handle.db, { currency: 'EUR', ids: ['mer_b', 'mer_x'] }), [{ id: 'mer_b', name: 'Merchant mer_b' }]);
      assert.deepEqual(await merchantsNamed.execute(handle.db, { currency: 'USD', ids: ['mer_a', 'mer_b'] }), []);
    });

    test('runs inside a transaction, and sees what the transaction wrote', async (t) => {
      const { handle } = await openForTest(t, dialect);
      const rows = await handle.db.transaction().execute(async (tx) => {
        await tx.updateTable('merchants').set({ currency: 'CAD' }).where('id', '=', 'mer_a').execute();
        return merchantsNamed.execute(tx, { currency: 'CAD', ids: ['mer_a', 'mer_b'] });
      });
      assert.deepEqual(rows, [{ id: 'mer_a', name: 'Merchant mer_a' }]);
    });

    test('writes: an INSERT built once stores each row given (nulls too), an UPDATE returns the rows it changed, none when its condition fails', async (t) => {
      const { handle } = await openForTest(t, dialect);
      const insertMerchant = reuseQuery((db, param: ParameterPlaceholders<{ id: string; name: string; settings: string | null }>) => db
        .insertInto('merchants').values({ id: param('id'), merchant_id: param('id'), name: param('name'), currency: 'EUR', default_country: 'FR', settings_json: sql<string>`coalesce(${param('settings')}, '{}')`, created_at: createdAt }));
      const renameIfNamed = reuseQuery((db, param: ParameterPlaceholders<{ id: string; from: string; to: string }>) => db
        .updateTable('merchants').set({ name: param('to') }).where('id', '=', param('id')).where('name', '=', param('from')).returning(['id', 'name']));
      assert.deepEqual(await insertMerchant.execute(handle.db, { id: 'mer_c', name: 'Merchant mer_c', settings: null }), []);
      await insertMerchant.execute(handle.db, { id: 'mer_d', name: 'Merchant mer_d', settings: '{"x":1}' });
      const stored = await handle.db.selectFrom('merchants').select(['id', 'settings_json']).where('id', 'in', ['mer_c', 'mer_d']).orderBy('id').execute();
      assert.deepEqual(stored, [{ id: 'mer_c', settings_json: '{}' }, { id: 'mer_d', settings_json: '{"x":1}' }]);
      assert.deepEqual(await renameIfNamed.execute(handle.db, { id: 'mer_c', from: 'Merchant mer_c', to: 'Renamed' }), [{ id: 'mer_c', name: 'Renamed' }]);
      // The same statement again: its condition no longer holds, so it changes and returns nothing.
      assert.deepEqual(await renameIfNamed.execute(handle.db, { id: 'mer_c', from: 'Merchant mer_c', to: 'Twice' }), []);
      assert.equal((await handle.db.selectFrom('merchants').select('name').where('id', '=', 'mer_c').executeTakeFirstOrThrow()).name, 'Renamed');
    });

    test('refuses a list of another length than the query was built for, instead of silently dropping items', async (t) => {
      const { handle } = await openForTest(t, dialect);
      await assert.rejects(merchantsNamed.execute(handle.db, { currency: 'EUR', ids: ['mer_a', 'mer_b', 'mer_c'] }), /has the 2 items the query was built for/);
    });

    test('refuses a placeholder written into the SQL text instead of bound, which would run the wrong query', async (t) => {
      const { handle } = await openForTest(t, dialect);
      const inlined = reuseQuery((db, param: ParameterPlaceholders<{ name: string }>) => db.selectFrom('merchants').select('id').where('name', '=', sql.lit(param('name'))));
      await assert.rejects(inlined.execute(handle.db, { name: 'Merchant mer_a' }), /placeholder name is a bound parameter|invalid immediate value/);
    });
  });
}
