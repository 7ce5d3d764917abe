import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expireDueReservations } from '../src/commands/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, type TestEngine } from './support/engine-harness.ts';

async function storeLevel(harness: TestEngine, sku: string, locationId = harness.demo.store.id) {
  const rows = (await harness.request('GET', `/v1/inventory?sku=${sku}`)).body.data;
  return rows.find((row: { location_id: string }) => row.location_id === locationId);
}

async function placePickup(harness: TestEngine, orderRef: string, quantity: number, sku = 'SKU-WALLET-01', customer: Record<string, string> = { email: 'pat@example.com', first_name: 'Pat' }) {
  return harness.request('POST', '/v1/pickups', { body: { sale_id: orderRef, location_id: harness.demo.store.id, customer, lines: [{ sku, quantity }] } });
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] an online order for pickup reserves at the store, is prepared, and leaves the shelf when handed over`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const placed = await placePickup(harness, 'WEB-1', 2);
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    assert.equal(placed.body.data.order.channel, 'online');
    const pickupId = placed.body.data.pickup_id;
    assert.deepEqual(await storeLevel(harness, 'SKU-WALLET-01'), { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', on_hand: 8, reserved: 2, safety: 0, available: 6 });
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity('gid://shopify/InventoryItem/271878346596884017', 'gid://shopify/Location/24826419'), 6, 'the website no longer offers the reserved units');

    const queue = (await harness.request('GET', `/v1/pickups?location_id=${harness.demo.store.id}&state=placed`)).body.data;
    assert.deepEqual(queue.map((row: { id: string }) => row.id), [pickupId]);
    const ready = await harness.request('POST', `/v1/pickups/${pickupId}/ready`);
    assert.equal(ready.body.data.state, 'ready');
    assert.ok(ready.body.data.expires_at > new Date().toISOString());
    const handed = await harness.request('POST', `/v1/pickups/${pickupId}/picked-up`);
    assert.equal(handed.body.data.state, 'picked_up');
    assert.deepEqual(await storeLevel(harness, 'SKU-WALLET-01'), { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', on_hand: 6, reserved: 0, safety: 0, available: 6 });
    const again = await harness.request('POST', `/v1/pickups/${pickupId}/cancel`);
    assert.equal(again.status, 409, 'a handed-over pickup cannot be cancelled');
    assert.equal(again.body.error.code, 'pickups.state_conflict');
    const order = (await harness.request('GET', `/v1/orders/${placed.body.data.order.id}`)).body.data;
    assert.equal(order.status, 'completed');
  });

  test(`[${dialect}] a cancelled pickup gives the units back and takes back its points; an uncollected one expires on its own`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const first = await placePickup(harness, 'WEB-2', 1);
    const cancelled = await harness.request('POST', `/v1/pickups/${first.body.data.pickup_id}/cancel`);
    assert.equal(cancelled.body.data.state, 'cancelled');
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).available, 8);
    const pat = (await harness.request('GET', '/v1/customers/lookup?q=pat@example.com')).body.data[0];
    assert.equal(pat.loyalty.available, 0, 'the 50 points it earned are reversed');

    const second = await placePickup(harness, 'WEB-3', 3);
    await harness.request('POST', `/v1/pickups/${second.body.data.pickup_id}/ready`);
    await harness.engine.database.db.updateTable('pickups').set({ expires_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', second.body.data.pickup_id).execute();
    assert.equal(await expireDueReservations(harness.engine.database.db), 1);
    assert.equal((await harness.request('GET', `/v1/pickups/${second.body.data.pickup_id}`)).body.data.state, 'expired');
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).available, 8);
  });

  test(`[${dialect}] a cart hold takes units away until it is released or runs out`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const hold = await harness.request('POST', '/v1/holds', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', quantity: 5, ttl_seconds: 60 } });
    assert.equal(hold.status, 201);
    assert.equal((await storeLevel(harness, 'SKU-BEANIE-01')).available, 7);
    const tooMuch = await harness.request('POST', '/v1/holds', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', quantity: 8 } });
    assert.equal(tooMuch.status, 409);
    await harness.engine.database.db.updateTable('reservations').set({ expires_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', hold.body.data.id).execute();
    assert.equal(await expireDueReservations(harness.engine.database.db), 1);
    assert.equal((await storeLevel(harness, 'SKU-BEANIE-01')).available, 12);
    const second = await harness.request('POST', '/v1/holds', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', quantity: 2 } });
    await harness.request('POST', `/v1/holds/${second.body.data.id}/release`);
    assert.equal((await storeLevel(harness, 'SKU-BEANIE-01')).available, 12);
  });

  test(`[${dialect}] when a pickup takes the last unit, the store sale gets 409 insufficient_stock naming the locations that still have it`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    assert.equal((await placePickup(harness, 'WEB-4', 1, 'SKU2006-020')).status, 201);
    const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'S-LAST', location_id: harness.demo.store.id, lines: [{ sku: 'SKU2006-020', quantity: 1 }] } });
    assert.equal(sale.status, 409);
    assert.equal(sale.body.error.code, 'inventory.insufficient_stock');
    assert.deepEqual(sale.body.error.details.other_locations, [{ location_id: harness.demo.warehouse.id, available: 5 }]);
    assert.equal((await harness.request('GET', '/v1/orders?q=S-LAST')).body.data.length, 0, 'the refused sale left no order');
  });

  test(`[${dialect}] 200 buyers at once across the register and online for 10 units: exactly 10 sold, none oversold`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.request('POST', '/v1/inventory/count', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', on_hand: 10 } });
    const attempts = Array.from({ length: 200 }, (_, index) => index % 2 === 0
      ? harness.request('POST', '/v1/pos/sales', { body: { sale_id: `RACE-${index}`, location_id: harness.demo.store.id, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } })
      : harness.request('POST', '/v1/pickups', { body: { sale_id: `RACE-${index}`, location_id: harness.demo.store.id, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } }));
    const results = await Promise.all(attempts);
    const statuses = results.map((result) => result.status);
    assert.equal(statuses.filter((status) => status === 201).length, 10, JSON.stringify(results.find((result) => result.status !== 201 && result.status !== 409)?.body));
    assert.equal(statuses.filter((status) => status === 409).length, 190);
    const level = await storeLevel(harness, 'SKU-BEANIE-01');
    assert.equal(level.available, 0);
    assert.equal(level.on_hand - level.reserved, 0);
  });

  test(`[${dialect}] a count, a transfer and safety stock change the figures the way an operator expects`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const count = await harness.request('POST', '/v1/inventory/count', { body: { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', on_hand: 11, reference: 'count-1' } });
    assert.equal(count.body.data.on_hand, 11);
    const transfer = await harness.request('POST', '/v1/inventory/transfer', { body: { from_location_id: harness.demo.warehouse.id, to_location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', quantity: 5 } });
    assert.deepEqual([transfer.body.data.from.on_hand, transfer.body.data.to.on_hand], [15, 16]);
    const tooMany = await harness.request('POST', '/v1/inventory/transfer', { body: { from_location_id: harness.demo.warehouse.id, to_location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', quantity: 16 } });
    assert.equal(tooMany.status, 409);
    const safety = await harness.request('POST', '/v1/inventory/safety', { body: { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', safety: 4 } });
    assert.equal(safety.body.data.available, 12);
    await harness.request('POST', '/v1/inventory/buffers', { body: { channel: 'shopify', location_id: harness.demo.store.id, units: 2 } });
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity('gid://shopify/InventoryItem/271878346596884017', 'gid://shopify/Location/24826419'), 10, 'the website is offered available less its buffer');
    const movements = (await harness.request('GET', `/v1/inventory/movements?sku=SKU-WALLET-01&location_id=${harness.demo.store.id}`)).body.data;
    assert.deepEqual(movements.map((movement: { kind: string; on_hand_delta: number }) => [movement.kind, movement.on_hand_delta]), [['receive', 8], ['count', 3], ['transfer_in', 5]]);
  });

  test(`[${dialect}] a web order cancelled in Shopify puts unshipped units back and reverses its points; an older update is not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await harness.engine.worker.drain();
    const order = JSON.parse(readFixture('shopify/orders-create.json').toString('utf8').replace(/: (\d{16,})/g, ': "$1"')) as Record<string, unknown>;
    const stale = { ...order, updated_at: '2025-06-14T09:00:00-04:00', financial_status: 'voided' };
    await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Topic': 'orders/updated', 'X-Shopify-Webhook-Id': 'u-1', 'X-Shopify-Event-Id': 'u-1' }, Buffer.from(JSON.stringify(stale)));
    await harness.engine.worker.drain();
    const found = (await harness.request('GET', '/v1/orders?q=%231042')).body.data;
    assert.equal(found.length, 1);
    assert.equal((await harness.request('GET', `/v1/orders/${found[0].id}`)).body.data.status, 'paid', 'the older version was not applied');

    const cancelled = { ...order, updated_at: '2025-06-15T09:00:00-04:00', cancelled_at: '2025-06-15T09:00:00-04:00', cancel_reason: 'customer' };
    await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Topic': 'orders/cancelled', 'X-Shopify-Webhook-Id': 'c-1', 'X-Shopify-Event-Id': 'c-1' }, Buffer.from(JSON.stringify(cancelled)));
    await harness.engine.worker.drain();
    assert.equal((await harness.request('GET', `/v1/orders/${found[0].id}`)).body.data.status, 'cancelled');
    assert.equal((await storeLevel(harness, 'SKU2006-001', harness.demo.warehouse.id)).on_hand, 10);
    assert.equal((await storeLevel(harness, 'SKU2006-020', harness.demo.warehouse.id)).on_hand, 5);
    const jane = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data[0];
    assert.equal(jane.loyalty.available, 0);
    assert.equal((await harness.request('GET', '/v1/orders?q=1042')).body.data.length, 1, 'updated, never duplicated');
    assert.equal((await harness.request('GET', '/v1/orders?q=%2B1%20613%20555%200142')).body.data.length, 1, 'found by her phone too');
  });
}
