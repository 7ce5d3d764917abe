import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestDatabase } from '../../test/support/databases.ts';
import { reuseQuery, type ParameterPlaceholders } from './index.ts';

// SQLite plans a bound LIMIT anew on every run (src/db/literal-limits.ts), so integer limits are
// written into the SQL text; what a query answers must not change.

test('[sqlite] an integer LIMIT and OFFSET are written into the SQL and still limit the rows', async (t) => {
  const database = await openTestDatabase('sqlite');
  t.after(() => database.dispose());
  const { db } = database.handle;
  await db.insertInto('merchants').values(['a', 'b', 'c'].map((name) => ({ id: `mer_${name}`, merchant_id: `mer_${name}`, name, currency: 'CAD', default_country: 'CA', settings_json: '{}', created_at: '2026-11-27T00:00:00.000Z' }))).execute();

  const query = db.selectFrom('merchants').select('name').orderBy('name').limit(2).offset(1);
  const compiled = query.compile();
  assert.match(compiled.sql, /limit 2 offset 1$/);
  assert.deepEqual(compiled.parameters, []);
  assert.deepEqual((await query.execute()).map((row) => row.name), ['b', 'c']);

  // A limit given at run time stays a bound parameter: nothing but an integer reaches the text.
  const byLimit = reuseQuery((qb, param: ParameterPlaceholders<{ limit: number }>) => qb.selectFrom('merchants').select('name').orderBy('name').limit(param('limit')));
  assert.deepEqual((await byLimit.execute(db, { limit: 1 })).map((row) => row.name), ['a']);
});
