import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, openTestDatabase, type TestDatabase } from '../../test/support/databases.ts';
import { migrateToLatest } from './index.ts';

const merchant = {
  id: 'mer_test',
  merchant_id: 'mer_test',
  name: 'Test Merchant',
  currency: 'EUR',
  default_country: 'FR',
  settings_json: '{}',
  created_at: '2025-01-01T00:00:00.000Z',
};

async function openForTest(t: TestContext, dialect: (typeof DIALECTS)[number]): Promise<TestDatabase> {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  return database;
}

for (const dialect of DIALECTS) {
  describe(`database [${dialect}]`, () => {
    test('migrations create the tables: a merchant row is written and read back unchanged', async (t) => {
      const { handle } = await openForTest(t, dialect);
      assert.equal(handle.dialect, dialect);

      await handle.db.insertInto('merchants').values(merchant).execute();
      const rows = await handle.db.selectFrom('merchants').selectAll().execute();

      assert.deepEqual(rows, [merchant]);
    });

    test('the schema rejects a merchant whose merchant_id differs from its id (CHECK constraint)', async (t) => {
      const { handle } = await openForTest(t, dialect);

      await assert.rejects(
        handle.db.insertInto('merchants').values({ ...merchant, merchant_id: 'mer_other' }).execute(),
        /merchants_id_is_merchant_id|CHECK constraint/i,
      );
      const rows = await handle.db.selectFrom('merchants').selectAll().execute();
      assert.deepEqual(rows, [], 'nothing is written');
    });

    test('migrateToLatest a second time applies nothing and keeps the data', async (t) => {
      const { handle } = await openForTest(t, dialect);
      await handle.db.insertInto('merchants').values(merchant).execute();

      const applied = await migrateToLatest(handle.db, handle.dialect);

      assert.deepEqual(applied, []);
      const rows = await handle.db.selectFrom('merchants').select('id').execute();
      assert.deepEqual(rows, [{ id: merchant.id }]);
    });

    test('a BIGINT above 2^31 reads back as a JS number, not a string or bigint', async (t) => {
      const { handle } = await openForTest(t, dialect);
      const onHand = 5_000_000_000;

      await handle.db
        .insertInto('stock_levels')
        .values({
          merchant_id: merchant.id,
          location_id: 'loc_test',
          variant_id: 'var_test',
          on_hand: onHand,
          reserved: 0,
          safety: 0,
          updated_at: merchant.created_at,
        })
        .execute();
      const row = await handle.db.selectFrom('stock_levels').select(['on_hand', 'reserved']).executeTakeFirstOrThrow();

      assert.equal(typeof row.on_hand, 'number');
      assert.equal(row.on_hand, onHand);
      assert.equal(row.reserved, 0);
    });

    if (dialect === 'sqlite') {
      test('sqlite runs in WAL mode, writing the log at COMMIT (synchronous=NORMAL) for the driver to sync before a commit resolves', async (t) => {
        const { handle } = await openForTest(t, dialect);

        const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(handle.db);
        const synchronous = await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db);

        assert.deepEqual(journal.rows, [{ journal_mode: 'wal' }]);
        // The sync itself is proved by src/db/wal-sync.test.ts.
        assert.deepEqual(synchronous.rows, [{ synchronous: 1 }]);
      });
    }
  });
}
