import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demoProducts } from '../src/demo/demo-merchant.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Issue #9: stock changes of several items waiting together are pushed to Shopify with ONE
// inventorySetQuantities call (a mutation costs the same 10 points whatever its list's length, so
// a store selling many items at once stays within a standard plan's rate), each item still set
// by compare-and-swap to the figure read at delivery, and a stale compare re-read and sent again.

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;
const storeLocation = gid('Location', '24826419');
const items = demoProducts.map((product) => ({ sku: product.sku, item: gid('InventoryItem', product.shopifyInventoryItemId) }));

function setQuantitiesCalls(harness: TestEngine, from: number) {
  return harness.fake.requests.slice(from).filter((request) => request.operation === 'inventorySetQuantities' && request.outcome === 'executed');
}

async function availableAtStore(harness: TestEngine, sku: string): Promise<number> {
  const response = await harness.request('GET', `/v1/inventory?sku=${encodeURIComponent(sku)}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const level = response.body.data.find((row: { location_id: string }) => row.location_id === harness.demo.store.id);
  return level.available;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a sale of three items is pushed to Shopify in one call with every item's figure; a stale compare is read again and the figure still lands`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    // The aviator, the wallet and the beanie: 4, 8 and 12 at the store (the lounger has one).
    const [aviator, , wallet, beanie] = items as [typeof items[0], typeof items[0], typeof items[0], typeof items[0]];
    const sell = async (saleId: string) => {
      const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: saleId, register_id: 'till-1', location_id: harness.demo.store.id, lines: [aviator, beanie, wallet].map((line) => ({ sku: line.sku, quantity: 1 })) } });
      assert.equal(sale.status, 201, JSON.stringify(sale.body));
    };

    const before = harness.fake.requests.length;
    await sell('batch-push-1');
    await harness.engine.worker.drain();
    const calls = setQuantitiesCalls(harness, before);
    assert.equal(calls.length, 1, 'the three items went in one call');
    const quantities = (calls[0]!.variables.input as { quantities: { inventoryItemId: string }[] }).quantities;
    assert.deepEqual(quantities.map((entry) => entry.inventoryItemId).sort(), [aviator.item, beanie.item, wallet.item].sort());
    for (const line of [aviator, beanie, wallet]) assert.equal(harness.fake.quantity(line.item, storeLocation), await availableAtStore(harness, line.sku), `${line.sku} shows the store's figure`);

    // Someone changed the wallet in the Shopify admin: its compare is stale; it is read and set again.
    harness.fake.setQuantity(wallet.item, storeLocation, 99);
    await sell('batch-push-2');
    await harness.engine.worker.drain();
    for (const line of [aviator, beanie, wallet]) assert.equal(harness.fake.quantity(line.item, storeLocation), await availableAtStore(harness, line.sku), `${line.sku} shows the store's figure after a stale compare`);
    const outbox = await harness.engine.database.db.selectFrom('outbox_events').select(['status']).where('destination', '=', 'shopify').where('kind', '=', 'inventory.push').execute();
    assert.ok(outbox.every((message) => message.status === 'delivered'), `every push delivered: ${JSON.stringify(outbox)}`);
  });

  test(`[${dialect}] when Shopify fails a batch call, every message of it is retried and none is lost`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const [aviator, lounger] = items as [typeof items[0], typeof items[0]];
    const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'batch-fail-1', register_id: 'till-1', location_id: harness.demo.store.id, lines: [aviator, lounger].map((line) => ({ sku: line.sku, quantity: 1 })) } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    harness.fake.failNext(1, 503, 'inventorySetQuantities');
    await harness.engine.worker.drain();
    const waiting = await harness.engine.database.db.selectFrom('outbox_events').select(['status', 'attempts']).where('destination', '=', 'shopify').where('kind', '=', 'inventory.push').where('status', '!=', 'delivered').execute();
    assert.equal(waiting.length, 2, 'both messages wait for a retry');
    assert.ok(waiting.every((message) => message.status === 'pending' && message.attempts === 1), JSON.stringify(waiting));
    // The retry falls due: both land.
    await harness.engine.database.db.updateTable('outbox_events').set({ next_attempt_at: new Date(0).toISOString() }).where('status', '=', 'pending').execute();
    await harness.engine.worker.drain();
    for (const line of [aviator, lounger]) assert.equal(harness.fake.quantity(line.item, storeLocation), await availableAtStore(harness, line.sku));
  });
}
