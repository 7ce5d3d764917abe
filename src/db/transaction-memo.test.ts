import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { createProduct, findVariantForChannelLine, linkExternalRef } from '../catalog/index.ts';
import { getChannelStockMirror, recordChannelReport, recordPushedAvailable } from '../inventory/index.ts';
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

  test(`[${dialect}] a batch keeps the variant a channel id names, and a variant linked in the same transaction is found by the next line`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Kept Variants Outfitters', currency: 'CAD', defaultCountry: 'CA' });
    const product = await createProduct(db, merchant.id, 'CAD', { title: 'Toque', variants: [{ sku: 'TOQUE-RED', title: 'Red', priceMinor: 2500, shopifyVariantId: '111' }] });
    const line = (externalVariantId: string) => ({ externalVariantId, sku: null });

    await db.transaction().execute(async (tx) => {
      keepReadsForTransaction(tx);
      const first = await findVariantForChannelLine(tx, merchant.id, 'shopify', line('111'));
      assert.equal(first?.sku, 'TOQUE-RED');
      assert.equal(await findVariantForChannelLine(tx, merchant.id, 'shopify', line('111')), first, 'read once and kept for the batch');
      assert.throws(() => Object.assign(first!, { sku: 'CHANGED' }), TypeError, 'a kept variant cannot be changed by one of its readers');
      assert.equal(await findVariantForChannelLine(tx, merchant.id, 'shopify', line('222')), undefined, 'Shopify\'s variant 222 is not linked yet');

      await linkExternalRef(tx, merchant.id, 'variant', product.variants[0]!.id, 'shopify', '222');

      assert.equal((await findVariantForChannelLine(tx, merchant.id, 'shopify', line('222')))?.sku, 'TOQUE-RED', 'the link made in this transaction is found by the next line');
    });
  });

  test(`[${dialect}] a batch keeps what a channel was told of a place's stock, and a push or a report recorded in the same transaction is seen by the next read`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Kept Mirror Outfitters', currency: 'CAD', defaultCountry: 'CA' });
    const warehouse = await createLocation(db, merchant.id, { name: 'Warehouse', kind: 'warehouse', shopifyLocationId: '71', squareLocationId: null, fulfilsOnline: true, taxRateBps: 0 });
    const product = await createProduct(db, merchant.id, 'CAD', { title: 'Mitts', variants: [{ sku: 'MITTS-1', title: 'One size', priceMinor: 1800 }] });
    const variantId = product.variants[0]!.id;
    const read = (tx: typeof db) => getChannelStockMirror(tx, merchant.id, 'shopify', warehouse.id, variantId);

    await db.transaction().execute(async (tx) => {
      keepReadsForTransaction(tx);
      const before = await read(tx);
      assert.deepEqual(before, { lastPushedAvailable: null, lastSeenAt: null });
      assert.equal(await read(tx), before, 'read once and kept for the batch');

      await recordPushedAvailable(tx, merchant.id, 'shopify', warehouse.id, variantId, 12);
      assert.equal((await read(tx)).lastPushedAvailable, 12, 'the push recorded in this transaction is read next');

      await recordChannelReport(tx, merchant.id, 'shopify', warehouse.id, variantId, 9, '2026-11-28T10:00:00.000Z');
      assert.deepEqual(await read(tx), { lastPushedAvailable: 9, lastSeenAt: '2026-11-28T10:00:00.000Z' }, 'and so is the channel\'s report');
    });
  });
}
