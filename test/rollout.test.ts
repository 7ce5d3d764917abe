import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSquareOrder } from '../fakes/fake-square.ts';
import { DIALECTS } from './support/databases.ts';
import { fixtureHeaders, readFixture, startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Rolling the cross-channel workflows out store by store (issue #8): each location has switches
// (loyalty in store, pickup, cross-channel returns, stock push), all on by default, changed by an
// admin and audited, and the engine obeys each: a refusal names the workflow and writes nothing.

const allOn = { loyalty_in_store: true, pickup: true, cross_channel_returns: true, stock_push: true };

function assertError(response: { status: number; body: any }, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
}

async function setWorkflows(harness: TestEngine, locationId: string, change: Record<string, boolean>) {
  const response = await harness.request('PATCH', `/v1/locations/${locationId}/workflows`, { body: change });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data;
}

/** What a refusal must leave untouched: orders, stock movements, loyalty, reservations, returns, outbox. */
async function footprint(harness: TestEngine) {
  const db = harness.engine.database.db;
  const count = async (table: 'orders' | 'stock_movements' | 'loyalty_transactions' | 'reservations' | 'returns' | 'outbox_events' | 'pickups') => (await db.selectFrom(table).select((eb) => eb.fn.countAll().as('count')).executeTakeFirstOrThrow()).count;
  return { orders: await count('orders'), movements: await count('stock_movements'), loyalty: await count('loyalty_transactions'), reservations: await count('reservations'), returns: await count('returns'), outbox: await count('outbox_events'), pickups: await count('pickups') };
}

async function janeAt(harness: TestEngine, saleId: string, locationId: string, extra: Record<string, unknown> = {}) {
  return harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: saleId, location_id: locationId, customer: { email: 'jane.doe@example.com', phone: '613 555 0142' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], ...extra } });
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] locations show their workflows, all on by default; an admin switches them (audited), others cannot, and a bad switch is refused naming the field`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;

    const listed = await harness.request('GET', '/v1/locations', { key: testPosKey });
    assert.deepEqual(listed.body.data.map((location: { name: string; workflows: unknown }) => [location.name, location.workflows]), [['Ottawa Warehouse', allOn], ['Rideau Street Store', allOn]]);

    const changed = await setWorkflows(harness, demo.store.id, { pickup: false, stock_push: false });
    assert.deepEqual(changed.workflows, { ...allOn, pickup: false, stock_push: false }, 'the switches not sent keep their value');
    assert.equal(changed.id, demo.store.id);
    assert.deepEqual((await harness.request('GET', '/v1/locations')).body.data[1].workflows, changed.workflows);
    await setWorkflows(harness, demo.store.id, { pickup: false });
    const audit = await harness.engine.database.db.selectFrom('audit_log').select(['actor', 'details_json']).where('action', '=', 'locations.workflows').where('subject', '=', demo.store.id).execute();
    assert.equal(audit.length, 1, 'a change that changes nothing is not audited');
    assert.match(audit[0]!.actor, /^api:key_/);
    assert.deepEqual(JSON.parse(audit[0]!.details_json), { changed: { pickup: { from: true, to: false }, stock_push: { from: true, to: false } } });

    assertError(await harness.request('PATCH', `/v1/locations/${demo.store.id}/workflows`, { key: testPosKey, body: { pickup: true } }), 403, 'auth.forbidden');
    const empty = await harness.request('PATCH', `/v1/locations/${demo.store.id}/workflows`, { body: {} });
    assertError(empty, 400, 'request.invalid');
    assert.equal(empty.body.error.details.issues[0].field, 'body.loyalty_in_store');
    const unknown = await harness.request('PATCH', `/v1/locations/${demo.store.id}/workflows`, { body: { self_checkout: true } });
    assertError(unknown, 400, 'request.invalid');
    const notBoolean = await harness.request('PATCH', `/v1/locations/${demo.store.id}/workflows`, { body: { pickup: 'yes' } });
    assertError(notBoolean, 400, 'request.invalid');
    assert.equal(notBoolean.body.error.details.issues[0].field, 'body.pickup');
    assertError(await harness.request('PATCH', '/v1/locations/loc_missing/workflows', { body: { pickup: true } }), 404, 'locations.not_found');
    assert.deepEqual((await harness.request('GET', '/v1/locations')).body.data[1].workflows, changed.workflows, 'the refusals changed nothing');
  });

  test(`[${dialect}] loyalty_in_store off: a store sale earns no points and a reward is refused 422 loyalty.not_enabled_at_location, writing nothing; on again, it earns`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;
    const first = await janeAt(harness, 'L-1', demo.store.id, { lines: [{ sku: 'SKU2006-020', quantity: 1 }] });
    assert.equal(first.body.data.points_earned, 159, 'the lounger earns 159 points while loyalty is on');
    const customerId = first.body.data.order.customer_id;
    await setWorkflows(harness, demo.store.id, { loyalty_in_store: false });

    const plain = await janeAt(harness, 'L-2', demo.store.id);
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    assert.equal(plain.body.data.points_earned, 0);
    assert.deepEqual(plain.body.data.order.lines.map((line: { points_earned: number }) => line.points_earned), [0]);
    assert.equal(plain.body.data.loyalty.available, 159, 'her balance did not move');
    const before = await footprint(harness);
    const withReward = await janeAt(harness, 'L-3', demo.store.id, { rewards: ['5-OFF'] });
    assertError(withReward, 422, 'loyalty.not_enabled_at_location');
    assert.deepEqual({ field: withReward.body.error.details.field, workflow: withReward.body.error.details.workflow, location: withReward.body.error.details.location_id }, { field: 'rewards', workflow: 'loyalty_in_store', location: demo.store.id });
    assert.deepEqual(await footprint(harness), before, 'the refused sale wrote nothing');
    const replay = await janeAt(harness, 'L-2', demo.store.id);
    assert.deepEqual([replay.status, replay.body.data.order.id], [200, plain.body.data.order.id], 'a replay of an accepted sale is answered as before');

    await setWorkflows(harness, demo.store.id, { loyalty_in_store: true });
    const again = await janeAt(harness, 'L-4', demo.store.id, { rewards: ['5-OFF'] });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.deepEqual([again.body.data.points_earned, again.body.data.points_redeemed], [45, 100], '50.00 less the 5.00 reward earns 45');
    assert.equal((await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available, 159 + 45 - 100);
  });

  test(`[${dialect}] loyalty_in_store off: a Square register sale at the store is recorded with its stock, and its buyer earns nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo, fakeSquare } = harness;
    // The order test/fixtures/square/payment.updated.json pays for: two beanies at the store, bought by Ana.
    fakeSquare.setOrder(buildSquareOrder({ id: '03O3USaPaAaFnI6kkwB1JxGgBsUZY', locationId: 'S8GWD5R9QB376', customerId: 'SQ-CUST-ANA', lines: [{ uid: 'line-beanie', name: 'Wool beanie', catalogObjectId: 'SQ-BEANIE', quantity: 2, unitAmount: 2499, taxAmount: 650 }] }));
    fakeSquare.setCustomer({ id: 'SQ-CUST-ANA', given_name: 'Ana', family_name: 'Lima', email_address: 'ana.lima@example.com', phone_number: '+1 613 555 0199' });
    await setWorkflows(harness, demo.store.id, { loyalty_in_store: false });

    assert.equal((await harness.deliverSquareEvent(readFixture('square/payment.updated.json'), fixtureHeaders('square/payment.updated.json'))).status, 200);
    await harness.engine.worker.drain();

    const [ana] = (await harness.request('GET', '/v1/customers/lookup?q=ana.lima@example.com')).body.data;
    assert.equal(ana.orders.length, 1, 'the sale is recorded');
    assert.equal(ana.loyalty.available, 0, 'and earns nothing at a store where loyalty is off');
    const beanies = (await harness.request('GET', '/v1/inventory?sku=SKU-BEANIE-01')).body.data.find((row: { location_id: string }) => row.location_id === demo.store.id);
    assert.equal(beanies.on_hand, 10, 'its stock moved');
  });

  test(`[${dialect}] pickup off: POST /v1/pickups at that store is refused 422 pickups.not_enabled_at_location naming location_id, nothing reserved; other stores and on again take pickups`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;
    const pickup = (saleId: string, locationId: string) => harness.request('POST', '/v1/pickups', { key: testPosKey, body: { sale_id: saleId, location_id: locationId, customer: { email: 'jane.doe@example.com' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 2 }] } });
    await setWorkflows(harness, demo.store.id, { pickup: false });
    const before = await footprint(harness);

    const refused = await pickup('P-1', demo.store.id);

    assertError(refused, 422, 'pickups.not_enabled_at_location');
    assert.deepEqual([refused.body.error.details.field, refused.body.error.details.workflow], ['location_id', 'pickup']);
    assert.deepEqual(await footprint(harness), before, 'no order, no reservation, no pickup');
    const level = (await harness.request('GET', '/v1/inventory?sku=SKU-BEANIE-01')).body.data.find((row: { location_id: string }) => row.location_id === demo.store.id);
    assert.deepEqual([level.reserved, level.available], [0, 12]);
    assert.equal((await pickup('P-2', demo.warehouse.id)).status, 201, 'the warehouse still takes pickups');
    await setWorkflows(harness, demo.store.id, { pickup: true });
    const accepted = await pickup('P-1', demo.store.id);
    assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
    assert.match(accepted.body.data.pickup_id, /^pku_/);
  });

  test(`[${dialect}] cross_channel_returns off: the store takes back only its own sales; a web order or another store's sale is refused 422 returns.not_enabled_at_location, in preview, return and exchange`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
    await engine.worker.drain();
    const [webOrder] = (await harness.request('GET', '/v1/orders?q=jane.doe@example.com')).body.data;
    const web = (await harness.request('GET', `/v1/orders/${webOrder.id}`)).body.data;
    assert.equal(web.channel, 'online');
    const otherStore = (await harness.request('POST', '/v1/locations', { body: { name: 'Glebe Store', kind: 'store', tax_rate_bps: 1300 } })).body.data;
    assert.equal((await harness.request('POST', '/v1/inventory/receive', { body: { location_id: otherStore.id, sku: 'SKU-WALLET-01', quantity: 2 } })).status, 200);
    const glebeSale = (await janeAt(harness, 'G-1', otherStore.id)).body.data.order;
    const ownSale = (await janeAt(harness, 'S-1', demo.store.id)).body.data.order;
    await setWorkflows(harness, demo.store.id, { cross_channel_returns: false });
    const returnAtStore = (order: { id: string; lines: { id: string }[] }, ref: string) => ({ order_id: order.id, location_id: demo.store.id, return_ref: ref, override: true, lines: [{ order_line_id: order.lines[0]!.id, quantity: 1 }] });
    const before = await footprint(harness);

    const refusals = [
      await harness.request('POST', '/v1/returns', { body: returnAtStore(web, 'X-1') }),
      await harness.request('POST', '/v1/returns/preview', { body: returnAtStore(web, 'X-2') }),
      await harness.request('POST', '/v1/returns', { body: returnAtStore(glebeSale, 'X-3') }),
      await harness.request('POST', '/v1/exchanges', { body: { order_id: glebeSale.id, exchange_ref: 'X-4', location_id: demo.store.id, return_lines: [{ order_line_id: glebeSale.lines[0].id, quantity: 1 }], new_lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } }),
    ];

    for (const refused of refusals) {
      assertError(refused, 422, 'returns.not_enabled_at_location');
      assert.deepEqual([refused.body.error.details.field, refused.body.error.details.workflow], ['location_id', 'cross_channel_returns']);
    }
    assert.equal(refusals[0]!.body.error.details.order_channel, 'online');
    assert.equal(refusals[2]!.body.error.details.order_location_id, otherStore.id);
    assert.deepEqual(await footprint(harness), before, 'the refused returns wrote nothing');
    const own = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { ...returnAtStore(ownSale, 'OWN-1'), override: false } });
    assert.equal(own.status, 201, 'its own sale comes back at the store');
    const byPost = await harness.request('POST', '/v1/returns', { body: { order_id: web.id, return_ref: 'MAIL-1', override: true, lines: [{ order_line_id: web.lines[0].id, quantity: 1 }] } });
    assert.equal(byPost.status, 201, 'the web order still goes back the way it came (no location named: where it was fulfilled)');
    await setWorkflows(harness, demo.store.id, { cross_channel_returns: true });
    assert.equal((await harness.request('POST', '/v1/returns', { body: returnAtStore(glebeSale, 'X-3') })).status, 201, 'on again: another store\'s sale comes back here');
  });

  test(`[${dialect}] stock_push off: stock at the store is kept but no channel is told; on again, every level of the store is pushed`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo, fake } = harness;
    await engine.worker.drain();
    const pendingPushes = async () => {
      const messages = (await harness.request('GET', '/v1/outbox?kind=inventory.push&status=pending')).body.data as { destination: string; payload: { location_id: string; variant_id: string } }[];
      return messages.map((message) => `${message.destination}:${message.payload.location_id === demo.store.id ? 'store' : 'warehouse'}`).sort();
    };
    const beanieAtStore = () => fake.quantity('gid://shopify/InventoryItem/271878346596884018', 'gid://shopify/Location/24826419');
    assert.equal(beanieAtStore(), 12);
    await setWorkflows(harness, demo.store.id, { stock_push: false });

    const received = await harness.request('POST', '/v1/inventory/receive', { body: { location_id: demo.store.id, sku: 'SKU-BEANIE-01', quantity: 5 } });
    const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'SP-1', location_id: demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    const atWarehouse = await harness.request('POST', '/v1/inventory/receive', { body: { location_id: demo.warehouse.id, sku: 'SKU-BEANIE-01', quantity: 1 } });

    assert.deepEqual([received.status, received.body.data.on_hand, sale.status, atWarehouse.status], [200, 17, 201, 200], 'the stock is kept');
    assert.deepEqual(await pendingPushes(), ['shopify:warehouse'], 'only the warehouse, whose switch is on, is pushed');
    await engine.worker.drain();
    assert.equal(beanieAtStore(), 12, 'Shopify was not told about the store');

    await setWorkflows(harness, demo.store.id, { stock_push: true });
    assert.deepEqual(await pendingPushes(), ['shopify:store', 'shopify:store', 'shopify:store', 'shopify:store', 'square:store', 'square:store', 'square:store', 'square:store'], 'every level of the store, to both channels');
    await engine.worker.drain();
    assert.equal(beanieAtStore(), 17, 'Shopify caught up');
  });
}
