import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { createLocation, createMerchant, findOnlineFulfilmentLocation, getMerchant } from '../merchants/index.ts';
import { inSavepoint } from './savepoint.ts';
import { keepReadsForTransaction } from './transaction-memo.ts';

// The worker's batches read how a merchant is set up once, not once per event (issue #9). What a
// user must not notice: an event of the batch that changes the setup is seen by the events after it.

for (const dialect of DIALECTS) {
  test(`[${dialect}] a transaction that keeps reads reads the merchant's setup once, and a change to it in the same transaction is seen at once`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Kept Reads Outfitters', currency: 'CAD', defaultCountry: 'CA' });

    await db.transaction().execute(async (tx) => {
      keepReadsForTransaction(tx);
      assert.equal(await getMerchant(tx, merchant.id), await getMerchant(tx, merchant.id), 'the merchant is read once and kept');
      assert.equal(await findOnlineFulfilmentLocation(tx, merchant.id), undefined, 'no location ships online orders yet');

      const warehouse = await createLocation(tx, merchant.id, { name: 'Warehouse', kind: 'warehouse', shopifyLocationId: null, squareLocationId: null, fulfilsOnline: true, taxRateBps: 0 });

      assert.equal((await findOnlineFulfilmentLocation(tx, merchant.id))?.id, warehouse.id, 'the location created in this transaction is found by the next read');
    });

    const other = await createMerchant(db, { name: 'Undone Writes Outfitters', currency: 'CAD', defaultCountry: 'CA' });
    await db.transaction().execute(async (tx) => {
      keepReadsForTransaction(tx);
      const failed = await inSavepoint(tx, 'kept_reads_test', async (savepoint) => {
        await createLocation(savepoint, other.id, { name: 'Short-lived warehouse', kind: 'warehouse', shopifyLocationId: null, squareLocationId: null, fulfilsOnline: true, taxRateBps: 0 });
        assert.equal((await findOnlineFulfilmentLocation(savepoint, other.id))?.name, 'Short-lived warehouse');
        throw new Error('the command fails after reading what it wrote');
      });
      assert.equal(failed.ok, false);
      assert.equal(await findOnlineFulfilmentLocation(tx, other.id), undefined, 'the savepoint took its location back, and nothing read from it is kept');
    });

    await db.transaction().execute(async (tx) => {
      assert.notEqual(await getMerchant(tx, merchant.id), await getMerchant(tx, merchant.id), 'a transaction that does not ask keeps nothing');
    });
  });
}
