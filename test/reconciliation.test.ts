import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine } from './support/engine-harness.ts';

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;

for (const dialect of DIALECTS) {
  test(`[${dialect}] reconciliation reports where Shopify's stock drifted, with a reason, and repair pushes the truth again`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const wallet = gid('InventoryItem', '271878346596884017');
    harness.fake.setQuantity(wallet, gid('Location', '24826419'), 3);
    const clean = await harness.request('POST', '/v1/reconciliation/stock', { body: {} });
    assert.equal(clean.status, 200, JSON.stringify(clean.body));
    assert.equal(clean.body.data.checked, 8, 'four mapped variants at two mapped locations');
    assert.deepEqual(clean.body.data.drifts, [{ location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', continuum_available: 8, shopify_available: 3, reason: 'shopify_shows_less' }]);
    assert.equal(clean.body.data.repaired, 0);
    assert.equal(harness.fake.quantity(wallet, gid('Location', '24826419')), 3, 'a report changes nothing');

    const repaired = await harness.request('POST', '/v1/reconciliation/stock', { body: { repair: true } });
    assert.equal(repaired.body.data.repaired, 1);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity(wallet, gid('Location', '24826419')), 8);
    const after = await harness.request('POST', '/v1/reconciliation/stock', { body: {} });
    assert.deepEqual(after.body.data.drifts, []);
  });
}
