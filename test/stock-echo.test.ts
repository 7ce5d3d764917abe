import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, type TestEngine } from './support/engine-harness.ts';

const aviatorItem = 'gid://shopify/InventoryItem/271878346596884015';
const warehouse = 'gid://shopify/Location/24826418';

function levelUpdate(available: number, updatedAt: string): Buffer {
  const fixture = JSON.parse(readFixture('shopify/inventory_levels-update.json').toString('utf8').replace(/: (\d{16,})/g, ': "$1"')) as Record<string, unknown>;
  return Buffer.from(JSON.stringify({ ...fixture, available, updated_at: updatedAt }));
}

async function warehouseLevel(harness: TestEngine) {
  const rows = (await harness.request('GET', '/v1/inventory?sku=SKU2006-001')).body.data;
  return rows.find((row: { location_id: string }) => row.location_id === harness.demo.warehouse.id);
}

let deliveries = 0;
async function deliver(harness: TestEngine, body: Buffer) {
  deliveries += 1;
  const response = await harness.deliverShopifyFixture('shopify/inventory_levels-update.json', { 'X-Shopify-Webhook-Id': `lvl-${deliveries}`, 'X-Shopify-Event-Id': `lvl-${deliveries}` }, body);
  assert.equal(response.status, 200);
  await harness.engine.worker.drain();
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] our own push echoing back as inventory_levels/update leaves stock unchanged`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity(aviatorItem, warehouse), 10, 'the opening figure was pushed');
    const requests = harness.fake.requests.length;
    await deliver(harness, readFixture('shopify/inventory_levels-update.json'));
    assert.equal((await warehouseLevel(harness)).on_hand, 10);
    assert.equal(harness.fake.requests.length, requests, 'nothing pushed back');
    const movements = (await harness.request('GET', `/v1/inventory/movements?sku=SKU2006-001&location_id=${harness.demo.warehouse.id}`)).body.data;
    assert.deepEqual(movements.map((movement: { kind: string }) => movement.kind), ['receive'], 'no adjustment was recorded');
  });

  test(`[${dialect}] a count made in Shopify admin becomes an adjustment, and an older report is recorded but not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    await deliver(harness, levelUpdate(7, '2030-01-01T10:00:00-05:00'));
    const level = await warehouseLevel(harness);
    assert.equal(level.on_hand, 7);
    const movements = (await harness.request('GET', `/v1/inventory/movements?sku=SKU2006-001&location_id=${harness.demo.warehouse.id}`)).body.data;
    assert.deepEqual(movements.map((movement: { kind: string; on_hand_delta: number; actor: string }) => [movement.kind, movement.on_hand_delta, movement.actor]), [['receive', 10, 'demo'], ['adjust', -3, 'shopify']]);
    await deliver(harness, levelUpdate(2, '2029-12-31T10:00:00-05:00'));
    assert.equal((await warehouseLevel(harness)).on_hand, 7, 'a late, older report does not overwrite a newer one');
  });
}
