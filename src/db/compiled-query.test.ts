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
