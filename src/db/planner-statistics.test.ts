import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { openTestDatabase } from '../../test/support/databases.ts';
import type { Db } from './index.ts';
import { describeSchemaToSqlitePlanner, describedIndexStat } from './planner-statistics.ts';

// SQLite plans its queries from sqlite_stat1 (src/db/planner-statistics.ts). Without figures it took
// a merchant-wide index for the register's lookup by phone or email: every identifier of the
// merchant read for each search, 2 ms at 10k customers, growing with them. These tests keep every
// index described and the hot lookups on the index that finds one shopper.

async function openSqlite(t: TestContext): Promise<Db> {
  const database = await openTestDatabase('sqlite');
  t.after(() => database.dispose());
  return database.handle.db;
}

async function planOf(db: Db, query: string): Promise<string> {
  const rows = await sql.raw<{ detail: string }>(`explain query plan ${query}`).execute(db);
  return rows.rows.map((row) => row.detail).join(' | ');
}

test('[sqlite] after the migrations every index of every table has figures for the planner', async (t) => {
  const db = await openSqlite(t);
  const missing = await sql<{ tbl: string; name: string }>`
    select m.tbl_name as tbl, m.name from sqlite_schema m
    where m.type = 'index' and m.tbl_name not like 'kysely_%'
      and not exists (select 1 from sqlite_stat1 s where s.tbl = m.tbl_name and s.idx = m.name)`.execute(db);
  assert.deepEqual(missing.rows, [], 'indexes the planner would guess about');
});

test('[sqlite] a lookup by email or phone reads the identifier index, not every identifier of the merchant', async (t) => {
  const db = await openSqlite(t);
  // Written with literal values, as a planner without figures misplanned it.
  const plan = await planOf(db, `select customer_id from customer_identifiers where merchant_id = 'mer_1' and kind = 'email' and value_normalized = 'jane@example.com'`);
  assert.match(plan, /customer_identifiers_lookup \(merchant_id=\? AND kind=\? AND value_normalized=\?\)/);
  const orders = await planOf(db, `select id from orders where merchant_id = 'mer_1' and customer_id = 'cus_1' order by placed_at desc limit 5`);
  assert.match(orders, /orders_by_customer \(merchant_id=\? AND customer_id=\?\)/);
});

test('[sqlite] figures someone measured with ANALYZE are kept when the schema is described again', async (t) => {
  const db = await openSqlite(t);
  await sql`update sqlite_stat1 set stat = '42 42 7 1' where idx = 'customer_identifiers_lookup'`.execute(db);
  assert.equal(await describeSchemaToSqlitePlanner(db), 0, 'nothing new to describe');
  const kept = await sql<{ stat: string }>`select stat from sqlite_stat1 where idx = 'customer_identifiers_lookup'`.execute(db);
  assert.equal(kept.rows[0]?.stat, '42 42 7 1');
});

test('described figures: the merchant is shared by every row, a status by many, an id by few, a unique index ends in one', () => {
  assert.equal(describedIndexStat(['merchant_id', 'kind', 'value_normalized'], false), '1000000 1000000 100000 10');
  assert.equal(describedIndexStat(['merchant_id', 'customer_id', 'kind', 'value_normalized'], true), '1000000 1000000 10 1 1');
  assert.equal(describedIndexStat(['id'], true), '1000000 1');
});
