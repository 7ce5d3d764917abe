import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';

// The journey that motivates Continuum, end to end through HTTP: Jane orders online, is recognised
// at the register, spends points and the same promotion code in the store, the channels hear about
// it, part of her web order is refunded, and every webhook delivered twice changes nothing.

const janeShopifyGid = 'gid://shopify/Customer/115310627314723954';
const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;

async function level(harness: TestEngine, sku: string, locationId: string) {
  const response = await harness.request('GET', `/v1/inventory?sku=${sku}`);
  assert.equal(response.status, 200);
  return response.body.data.find((row: { location_id: string }) => row.location_id === locationId);
}

async function lookup(harness: TestEngine, q: string) {
  const response = await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent(q)}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data;
}

/** Everything a replay could disturb, read through the API. */
async function snapshot(harness: TestEngine, customerId: string) {
  const skus = ['SKU2006-001', 'SKU2006-020', 'SKU-WALLET-01'];
  return {
    customer: (await harness.request('GET', `/v1/customers/${customerId}`)).body,
    loyalty: (await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body,
    inventory: await Promise.all(skus.map(async (sku) => (await harness.request('GET', `/v1/inventory?sku=${sku}`)).body)),
    exceptions: (await harness.request('GET', '/v1/exceptions')).body,
    outbox: (await harness.request('GET', '/v1/outbox')).body.data.length,
    promotions: (await harness.request('GET', '/v1/promotions/SUMMER10')).body,
  };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] the first cross-channel journey`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, fake, demo } = harness;
    const { store, warehouse } = demo;
    await engine.worker.drain(); // opening stock pushed to Shopify, as on a first connection
    assert.equal(fake.quantity(gid('InventoryItem', '271878346596884015'), gid('Location', '24826418')), 10);

    // 1. Jane's paid web order arrives as orders/create.
    const orderDelivery = await harness.deliverShopifyFixture('shopify/orders-create.json');
    assert.deepEqual(orderDelivery, { status: 200, body: { received: true, duplicate: false } });
    await engine.worker.drain();

    const [jane, ...others] = await lookup(harness, '(613) 555-0142');
    assert.equal(others.length, 0, 'one profile, not two');
    assert.equal(jane.name, 'Jane Doe');
    assert.deepEqual(jane.emails, ['jane.doe@example.com']);
    assert.deepEqual(jane.phones, ['+16135550142']);
    assert.deepEqual(jane.loyalty, { available: 224, pending: 0, tier: 'Member' }, '224.98 of merchandise after discounts earns 224 points');
    assert.equal(jane.orders.length, 1);
    assert.equal(jane.orders[0].channel, 'online');
    assert.deepEqual(jane.orders[0].total, { amount_minor: 25298, currency: 'USD' });

    const webOrder = (await harness.request('GET', `/v1/orders/${jane.orders[0].id}`)).body.data;
    assert.equal(webOrder.source_ref, '820982911946154508', 'Shopify ids above 2^53 keep every digit');
    assert.deepEqual(webOrder.lines.map((line: { points_earned: number }) => line.points_earned), [81, 143], 'points allocated to lines by largest remainder');
    assert.deepEqual(webOrder.lines.map((line: { fulfilment_location_id: string }) => line.fulfilment_location_id), [warehouse.id, warehouse.id]);
    assert.equal((await level(harness, 'SKU2006-001', warehouse.id)).on_hand, 9);
    assert.equal((await level(harness, 'SKU2006-020', warehouse.id)).on_hand, 4);

    // 2. The associate finds the same single profile by email in any case.
    const byEmail = await lookup(harness, 'JANE.DOE@example.com');
    assert.deepEqual(byEmail.map((profile: { id: string }) => profile.id), [jane.id]);

    // 3. She buys in the store: 100 points for 5.00 off, and SUMMER10 from her email.
    const sale = await harness.request('POST', '/v1/pos/sales', {
      key: 'ck_pos_test_key_for_the_journey',
      headers: { 'idempotency-key': 'register-1-sale-0001' },
      body: { sale_id: 'R1-0001', register_id: 'register-1', location_id: store.id, customer: { phone: '613.555.0142' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['summer10'], rewards: ['5-OFF'] },
    });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const storeOrder = sale.body.data.order;
    assert.equal(storeOrder.customer_id, jane.id, 'the register found her by the phone she gave online');
    assert.deepEqual(storeOrder.discounts.map((discount: { kind: string; code: string; amount: { amount_minor: number } }) => [discount.kind, discount.code, discount.amount.amount_minor]), [['promotion', 'SUMMER10', 500], ['reward', '5-OFF', 500]]);
    assert.equal(storeOrder.subtotal.amount_minor, 5000);
    assert.equal(storeOrder.tax.amount_minor, 520, '13 % tax on the 40.00 paid');
    assert.equal(storeOrder.total.amount_minor, 4520);
    assert.equal(sale.body.data.points_redeemed, 100);
    assert.equal(sale.body.data.points_earned, 40);
    assert.deepEqual(sale.body.data.loyalty, { available: 164, pending: 0, tier: 'Member' });
    assert.equal((await level(harness, 'SKU-WALLET-01', store.id)).on_hand, 7);

    const afterSale = (await lookup(harness, 'jane.doe@example.com'))[0];
    assert.deepEqual(afterSale.orders.map((order: { channel: string }) => order.channel).sort(), ['online', 'store'], 'her history now spans two channels');
    const summer = (await harness.request('GET', '/v1/promotions/SUMMER10')).body.data;
    assert.deepEqual(summer.usage, { total: 2, by_channel: { online: 1, store: 1 } }, 'one promotion, counted across channels');

    // 4. The outbox tells Shopify: the store's new available quantity, and her points and tier.
    const requestsBefore = fake.requests.length;
    await engine.worker.drain();
    const pushes = fake.requests.slice(requestsBefore).filter((request) => request.operation === 'inventorySetQuantities' && request.outcome === 'executed');
    const walletPush = pushes.find((request) => JSON.stringify(request.variables).includes(gid('InventoryItem', '271878346596884017')));
    assert.ok(walletPush, 'the store sale pushed the wallet');
    const quantity = (walletPush.variables as any).input.quantities[0];
    assert.deepEqual({ location: quantity.locationId, quantity: quantity.quantity, changeFromQuantity: quantity.changeFromQuantity }, { location: gid('Location', '24826419'), quantity: 7, changeFromQuantity: 8 });
    assert.match(walletPush.idempotencyKey ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(fake.quantity(gid('InventoryItem', '271878346596884017'), gid('Location', '24826419')), 7);
    assert.equal(fake.quantity(gid('InventoryItem', '271878346596884015'), gid('Location', '24826418')), 9, 'the web order moved the warehouse');
    const mirrored = Object.fromEntries(fake.metafields(janeShopifyGid).map((field) => [field.key, field.value]));
    assert.deepEqual(mirrored, { points: '164', tier: 'Member' });

    // 5. One line of the web order is refunded: its 81 points go back and the unit is restocked.
    const refundDelivery = await harness.deliverShopifyFixture('shopify/refunds-create.json');
    assert.equal(refundDelivery.status, 200);
    await engine.worker.drain();
    const afterRefund = (await lookup(harness, '+1 613 555 0142'))[0];
    assert.equal(afterRefund.loyalty.available, 83, '164 − the 81 points the refunded line earned');
    assert.equal((await harness.request('GET', `/v1/orders/${webOrder.id}`)).body.data.refunded.amount_minor, 8747);
    assert.equal((await level(harness, 'SKU2006-001', warehouse.id)).on_hand, 10, 'restock_type cancel puts the unit back at location 24826418');
    assert.equal(fake.quantity(gid('InventoryItem', '271878346596884015'), gid('Location', '24826418')), 10);
    assert.deepEqual(Object.fromEntries(fake.metafields(janeShopifyGid).map((field) => [field.key, field.value])), { points: '83', tier: 'Member' });

    const ledger = await sumLoyaltyEntries(engine.database.db, demo.merchant.id, jane.id);
    assert.equal(ledger.available, 83, 'the balance is the sum of its ledger entries');

    // 6. Every webhook and request delivered a second time changes nothing anywhere.
    const before = await snapshot(harness, jane.id);
    const fakeRequestsBefore = fake.requests.length;
    for (const fixture of ['shopify/orders-create.json', 'shopify/refunds-create.json']) {
      assert.deepEqual(await harness.deliverShopifyFixture(fixture), { status: 200, body: { received: true, duplicate: true } }, `${fixture}: same webhook id`);
      assert.deepEqual(await harness.deliverShopifyFixture(fixture, { 'X-Shopify-Webhook-Id': `${fixture}-redelivered` }), { status: 200, body: { received: true, duplicate: true } }, `${fixture}: same event id, new webhook id`);
      const brandNew = await harness.deliverShopifyFixture(fixture, { 'X-Shopify-Webhook-Id': `${fixture}-new`, 'X-Shopify-Event-Id': `${fixture}-new-event` });
      assert.deepEqual(brandNew, { status: 200, body: { received: true, duplicate: false } }, `${fixture}: both ids new reaches the worker, which applies nothing twice`);
    }
    const replayedSale = await harness.request('POST', '/v1/pos/sales', {
      key: 'ck_pos_test_key_for_the_journey',
      headers: { 'idempotency-key': 'register-1-sale-0001' },
      body: { sale_id: 'R1-0001', register_id: 'register-1', location_id: store.id, customer: { phone: '613.555.0142' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['summer10'], rewards: ['5-OFF'] },
    });
    assert.equal(replayedSale.status, 201);
    assert.equal(replayedSale.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replayedSale.body, sale.body);
    await engine.worker.drain();
    assert.deepEqual(await snapshot(harness, jane.id), before);
    assert.equal(fake.requests.length, fakeRequestsBefore, 'nothing new was pushed to Shopify');
  });
}
