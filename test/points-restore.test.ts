import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restoreRedeemedPoints } from '../src/commands/index.ts';
import { getMerchant } from '../src/merchants/index.ts';
import { getOrder, markLineReturned } from '../src/orders/index.ts';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine } from './support/engine-harness.ts';

for (const dialect of DIALECTS) {
  test(`[${dialect}] refunding part of an order paid in part with points gives back the points in proportion, and all of them once everything is returned`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await engine.worker.drain();
    const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'RST-1', location_id: demo.store.id, customer: { email: 'jane.doe@example.com' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 2 }, { sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['5-OFF'] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const customerId: string = sale.body.data.order.customer_id;
    const before = sale.body.data.loyalty.available;
    const db = engine.database.db;
    const merchant = await getMerchant(db, demo.merchant.id);
    const order = await getOrder(db, demo.merchant.id, sale.body.data.order.id);
    const beanie = order.lines.find((line) => line.sku === 'SKU-BEANIE-01')!;
    const wallet = order.lines.find((line) => line.sku === 'SKU-WALLET-01')!;
    const refund = async (lineId: string, quantity: number, returnId: string) => db.transaction().execute(async (tx) => {
      await markLineReturned(tx, demo.merchant.id, lineId, quantity);
      return restoreRedeemedPoints(tx, merchant, await getOrder(tx, demo.merchant.id, order.id), returnId);
    });
    // 2 × 24.99 + 50.00 = 99.98 bought; one beanie is 24.99 of it: 100 × 2499 / 9998 = 24.99… → 24.
    assert.equal(await refund(beanie.id, 1, 'ret_a'), 24);
    assert.equal(await refund(beanie.id, 1, 'ret_b'), 49 - 24, 'cumulative: floor(100 × 4998 / 9998) = 49 in all');
    assert.equal(await refund(wallet.id, 1, 'ret_c'), 100 - 49, 'everything returned: exactly the 100 redeemed');
    const after = (await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data;
    assert.equal(after.available, before + 100);
    assert.equal((await sumLoyaltyEntries(db, demo.merchant.id, customerId)).available, after.available);
    assert.equal(await db.transaction().execute(async (tx) => restoreRedeemedPoints(tx, merchant, await getOrder(tx, demo.merchant.id, order.id), 'ret_c')), 0, 'replaying a return gives nothing more');
  });
}
