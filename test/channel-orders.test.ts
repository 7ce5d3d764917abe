import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey } from './support/engine-harness.ts';

/** The web-order fixture with some text swapped, re-signed by the harness like any delivery. */
function editedOrder(replacements: [string, string][]): Buffer {
  let text = readFixture('shopify/orders-create.json').toString('utf8');
  for (const [from, to] of replacements) text = text.split(from).join(to);
  return Buffer.from(text);
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] an order line whose SKU Continuum does not know is recorded and raised as an exception, never a crash`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const body = editedOrder([['SKU2006-020', 'SKU-NOT-MAPPED'], ['757650484644203962', '757650484644200000']]);
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', {}, body)).status, 200);
    await harness.engine.worker.drain();

    const [jane] = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data;
    assert.equal(jane.loyalty.available, 224, 'the unmapped line still earns its points');
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=unmapped_sku')).body.data;
    assert.equal(exceptions.length, 1);
    assert.equal(exceptions[0].subject, 'SKU-NOT-MAPPED');
    assert.equal((await harness.request('GET', '/v1/sync/status')).body.data.inbox.processed, 1);
    const mapped = (await harness.request('GET', '/v1/inventory?sku=SKU2006-001')).body.data.find((row: { location_id: string }) => row.location_id === harness.demo.warehouse.id);
    assert.equal(mapped.on_hand, 9, 'the mapped line still moved stock');
  });

  test(`[${dialect}] a guest checkout that carries only an email creates a profile found by that email`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const text = readFixture('shopify/orders-create.json').toString('utf8');
    const order = JSON.parse(text.replace(/"(id|customer_id)": (\d{16,})/g, '"$1": "$2"')) as Record<string, unknown>;
    delete order['customer'];
    order['phone'] = null;
    order['billing_address'] = null;
    order['shipping_address'] = null;
    order['email'] = 'Guest.Shopper@Example.com';
    order['contact_email'] = 'Guest.Shopper@Example.com';
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', {}, Buffer.from(JSON.stringify(order)))).status, 200);
    await harness.engine.worker.drain();
    const found = (await harness.request('GET', '/v1/customers/lookup?q=guest.shopper@example.com')).body.data;
    assert.equal(found.length, 1);
    assert.deepEqual(found[0].emails, ['guest.shopper@example.com']);
    assert.deepEqual(found[0].phones, []);
    assert.equal(found[0].loyalty.available, 224);
  });

  test(`[${dialect}] an order whose email and phone name two different profiles attaches to the stronger match and raises a possible duplicate`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    for (const [saleId, customer] of [['P-1', { email: 'jane.doe@example.com' }], ['P-2', { phone: '+1 613 555 0142' }]] as const) {
      const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: saleId, location_id: harness.demo.store.id, customer, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } });
      assert.equal(sale.status, 201);
    }
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await harness.engine.worker.drain();

    const byEmail = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data;
    const byPhone = (await harness.request('GET', '/v1/customers/lookup?q=6135550142')).body.data;
    assert.equal(byEmail.length, 1);
    assert.equal(byPhone.length, 1);
    assert.notEqual(byEmail[0].id, byPhone[0].id, 'never merged automatically');
    assert.equal(byEmail[0].loyalty.available, 224 + 24, 'the web order went to the profile its email names, the stronger match');
    assert.equal(byPhone[0].loyalty.available, 24);
    const duplicates = (await harness.request('GET', '/v1/exceptions?kind=possible_duplicate')).body.data;
    assert.equal(duplicates.length, 1);
    assert.deepEqual([...duplicates[0].details.customer_ids].sort(), [byEmail[0].id, byPhone[0].id].sort());
  });
}

for (const dialect of DIALECTS) {
  // Orders of up to four lines write them with a statement built once per line count, longer ones
  // build theirs (src/orders/order-service.ts): every line comes back as sold, in its place.
  test(`[${dialect}] a sale of one, three and six lines records every line in order, with its stock moved`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    // The store holds one lounger (the fourth), so only the six-line sale takes it.
    const skus = ['SKU2006-001', 'SKU-WALLET-01', 'SKU-BEANIE-01', 'SKU2006-020'];
    for (const count of [1, 3, 6]) {
      const lines = Array.from({ length: count }, (_, index) => ({ sku: skus[index % skus.length]!, quantity: index === 3 ? 1 : 1 + (index % 2) }));
      const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: `LINES-${count}`, register_id: 'REG-A', location_id: harness.demo.store.id, lines } });
      assert.equal(sale.status, 201, JSON.stringify(sale.body));
      const order = (await harness.request('GET', `/v1/orders/${sale.body.data.order.id}`)).body.data;
      assert.deepEqual(order.lines.map((line: { sku: string; quantity: number }) => [line.sku, line.quantity]), lines.map((line) => [line.sku, line.quantity]), JSON.stringify(order.lines));
    }
    const beanie = (await harness.request('GET', '/v1/inventory?sku=SKU-BEANIE-01')).body.data.find((row: { location_id: string }) => row.location_id === harness.demo.store.id);
    assert.equal(beanie.on_hand, 12 - 1 - 1, 'the beanie sold on the three- and six-line sales');
  });
}
