import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSquareOrder } from '../fakes/fake-square.ts';
import { createSquareClient } from '../src/connectors/square/index.ts';
import { findOrderBySource } from '../src/orders/index.ts';
import { DIALECTS } from './support/databases.ts';
import { fixtureHeaders, readFixture, startTestEngine, testPosKey, testSquareMerchantRef, type TestEngine } from './support/engine-harness.ts';

// The payment fixture pays for this order at the demo store (its order_id and location_id).
const FIXTURE_ORDER_ID = '03O3USaPaAaFnI6kkwB1JxGgBsUZY';
const STORE_SQUARE_LOCATION = 'S8GWD5R9QB376';
const ANA = { id: 'SQ-CUST-ANA', given_name: 'Ana', family_name: 'Lima', email_address: 'Ana.Lima@Example.com', phone_number: '+1 613 555 0199' };

/** Aviator (8999, $9 off, HST) and two beanies (2499 each, HST), bought by Ana. */
function registerSale(id = FIXTURE_ORDER_ID, customerId: string | null = ANA.id) {
  return buildSquareOrder({
    id, locationId: STORE_SQUARE_LOCATION, customerId,
    lines: [
      { uid: 'line-aviator', name: 'Aviator sunglasses', catalogObjectId: 'SQ-AVIATOR', quantity: 1, unitAmount: 8999, discountAmount: 900, taxAmount: 1053 },
      { uid: 'line-beanie', name: 'Wool beanie', catalogObjectId: 'SQ-BEANIE', quantity: 2, unitAmount: 2499, taxAmount: 650 },
    ],
  });
}

function paymentEvent(type: 'payment.created' | 'payment.updated', eventId: string, status: string, orderId = FIXTURE_ORDER_ID) {
  const fixture = JSON.parse(readFixture('square/payment.updated.json').toString('utf8')) as { data: { object: { payment: Record<string, unknown> } } };
  return { ...fixture, type, event_id: eventId, data: { ...fixture.data, object: { payment: { ...fixture.data.object.payment, status, order_id: orderId } } } };
}

/** A notification whose count is whatever the test says, computed now, with no change of its own behind it. */
function countsEvent(eventId: string, catalogObjectId: string, quantity: string) {
  const fixture = JSON.parse(readFixture('square/inventory.count.updated.json').toString('utf8')) as { data: { object: { inventory_counts: Record<string, unknown>[] } } };
  const [count] = fixture.data.object.inventory_counts;
  return { ...fixture, event_id: eventId, data: { ...fixture.data, object: { inventory_counts: [{ ...count, catalog_object_id: catalogObjectId, location_id: STORE_SQUARE_LOCATION, quantity, calculated_at: new Date().toISOString() }] } } };
}

/** Square's notification of its current counts of these items at the store, as Square sends it after a change. */
async function deliverCountUpdate(harness: TestEngine, eventId: string, catalogObjectIds: string[]): Promise<void> {
  const body = harness.fakeSquare.countUpdatedNotification({ merchantId: testSquareMerchantRef, eventId, catalogObjectIds, locationId: STORE_SQUARE_LOCATION });
  assert.equal((await harness.deliverSquareEvent(body)).status, 200);
}

/** Square's opening count of an item at the store, made long before the test, so no read finds it. */
function seedSquareCount(harness: TestEngine, catalogObjectId: string, quantity: number): void {
  harness.fakeSquare.recordChange({ type: 'PHYSICAL_COUNT', catalog_object_id: catalogObjectId, location_id: STORE_SQUARE_LOCATION, quantity, occurred_at: '2000-01-01T00:00:00Z', created_at: '2000-01-01T00:00:00Z' });
}

/** What Continuum asked of Square, leaving out its stock pushes (BatchChangeInventory), which every stock change at the store brings. */
function squareReads(harness: TestEngine): string[] {
  return harness.fakeSquare.requests.map((request) => request.path).filter((path) => path !== '/v2/inventory/changes/batch-create');
}

async function storeMovements(harness: TestEngine, sku: string): Promise<[string, number, string][]> {
  const rows = (await harness.request('GET', `/v1/inventory/movements?sku=${sku}&location_id=${harness.demo.store.id}`)).body.data as { kind: string; on_hand_delta: number; actor: string }[];
  return rows.map((row) => [row.kind, row.on_hand_delta, row.actor]);
}

async function makeRetryDue(harness: TestEngine, deliveryId: string): Promise<void> {
  await harness.engine.database.db.updateTable('inbox_events').set({ available_at: '2000-01-01T00:00:00.000Z' }).where('delivery_id', '=', deliveryId).execute();
}

async function storeLevel(harness: TestEngine, sku: string): Promise<{ on_hand: number; reserved: number; safety: number; available: number }> {
  const rows = (await harness.request('GET', `/v1/inventory?sku=${sku}`)).body.data;
  return rows.find((row: { location_id: string }) => row.location_id === harness.demo.store.id);
}

async function squareOrderCount(harness: TestEngine): Promise<number> {
  const rows = await harness.engine.database.db.selectFrom('orders').select('id').where('merchant_id', '=', harness.demo.merchant.id).where('source', '=', 'square').execute();
  return rows.length;
}

async function inboxRows(harness: TestEngine) {
  return harness.engine.database.db.selectFrom('inbox_events').select(['delivery_id', 'status', 'attempts', 'error']).where('source', '=', 'square').orderBy('received_at').execute();
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a Square register sale (payment.updated COMPLETED) becomes one store order at the store, moves its stock and earns the buyer points`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.setOrder(registerSale());
    harness.fakeSquare.setCustomer(ANA);
    // The fixture's exact bytes, signed with the test key over the notification URL, as Square sent it.
    const response = await harness.deliverSquareEvent(readFixture('square/payment.updated.json'), fixtureHeaders('square/payment.updated.json'));
    assert.equal(response.status, 200);
    await harness.engine.worker.drain();

    const order = await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'square', FIXTURE_ORDER_ID);
    assert.ok(order, 'the sale is in the one order history');
    assert.equal(order.channel, 'store');
    assert.equal(order.locationId, harness.demo.store.id);
    assert.deepEqual([order.subtotalMinor, order.discountMinor, order.taxMinor, order.totalMinor], [13997, 900, 1703, 14800]);
    assert.deepEqual(order.lines.map((line) => [line.sourceRef, line.sku, line.quantity, line.fulfilmentLocationId]), [['line-aviator', null, 1, harness.demo.store.id], ['line-beanie', null, 2, harness.demo.store.id]]);
    assert.ok(order.lines.every((line) => line.variantId !== null), 'both lines found their variant by the Square catalog id');
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 3);
    assert.equal((await storeLevel(harness, 'SKU-BEANIE-01')).on_hand, 10);

    const [ana] = (await harness.request('GET', '/v1/customers/lookup?q=ana.lima@example.com')).body.data;
    assert.ok(ana, 'the buyer Square named has a profile found by her email');
    assert.equal(ana.loyalty.available, 130, 'floor((8099 + 4998) / 100) points');
    assert.equal(ana.orders[0].source, 'square');
    assert.deepEqual(harness.fakeSquare.requests.map((request) => request.path), [`/v2/orders/${FIXTURE_ORDER_ID}`, `/v2/customers/${ANA.id}`, '/v2/inventory/changes/batch-create'], 'read the sale, then told Square the store\'s stock, in one request');
    assert.deepEqual((await inboxRows(harness)).map((row) => row.status), ['processed']);
  });

  test(`[${dialect}] the same payment delivered as payment.created and payment.updated (two event ids) records one order and reads Square once`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.setOrder(registerSale(FIXTURE_ORDER_ID, null));
    assert.equal((await harness.deliverSquareEvent(paymentEvent('payment.created', 'evt-created', 'COMPLETED'))).status, 200);
    assert.equal((await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-updated', 'COMPLETED'))).status, 200);
    const replay = await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-updated', 'COMPLETED'));
    assert.equal(replay.body.duplicate, true, 'the same event_id again is a duplicate delivery');
    await harness.engine.worker.drain();

    assert.equal(await squareOrderCount(harness), 1);
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 3, 'stock moved once');
    assert.deepEqual((await inboxRows(harness)).map((row) => [row.delivery_id, row.status]), [['evt-created', 'processed'], ['evt-updated', 'ignored']]);
    assert.equal(squareReads(harness).length, 1, 'the second event found the order recorded and did not call RetrieveOrder');
  });

  test(`[${dialect}] a payment that is not COMPLETED records nothing and calls nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.setOrder(registerSale());
    for (const [eventId, status] of [['evt-approved', 'APPROVED'], ['evt-pending', 'PENDING'], ['evt-failed', 'FAILED']] as const) {
      assert.equal((await harness.deliverSquareEvent(paymentEvent('payment.updated', eventId, status))).status, 200);
    }
    await harness.engine.worker.drain();
    assert.equal(await squareOrderCount(harness), 0);
    assert.deepEqual((await inboxRows(harness)).map((row) => row.status), ['ignored', 'ignored', 'ignored']);
    assert.deepEqual(squareReads(harness), []);
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 4);
  });

  test(`[${dialect}] when Square answers 5xx the event is retried later, then applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.setOrder(registerSale(FIXTURE_ORDER_ID, null));
    harness.fakeSquare.failNext(1, 500, { path: `/v2/orders/${FIXTURE_ORDER_ID}` });
    await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-retry', 'COMPLETED'));
    await harness.engine.worker.drain();
    const [failed] = await inboxRows(harness);
    assert.equal(failed?.status, 'received', 'kept for another attempt');
    assert.equal(failed?.attempts, 1);
    assert.match(failed?.error ?? '', /connectors\.square\.unavailable/);
    assert.equal(await squareOrderCount(harness), 0, 'nothing was written by the failed attempt');

    // Time passes: the retry is due.
    await harness.engine.database.db.updateTable('inbox_events').set({ available_at: '2000-01-01T00:00:00.000Z' }).where('delivery_id', '=', 'evt-retry').execute();
    await harness.engine.worker.drain();
    assert.equal(await squareOrderCount(harness), 1);
    assert.deepEqual((await inboxRows(harness)).map((row) => row.status), ['processed']);
  });

  test(`[${dialect}] a Square account without API access fails the sale with connectors.square.not_configured, to retry`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.database.db.updateTable('channel_accounts').set({ access_token: null }).where('channel', '=', 'square').where('account_ref', '=', testSquareMerchantRef).execute();
    await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-unconfigured', 'COMPLETED'));
    await harness.engine.worker.drain();
    const [row] = await inboxRows(harness);
    assert.equal(row?.status, 'received');
    assert.match(row?.error ?? '', /connectors\.square\.not_configured/);
    assert.equal(harness.fakeSquare.requests.length, 0);
  });

  test(`[${dialect}] a count made in Square becomes a count of on hand; an unknown catalog id raises unmapped_sku and costs no API call`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    seedSquareCount(harness, 'SQ-WALLET', 8);
    harness.fakeSquare.recordChange({ type: 'PHYSICAL_COUNT', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 5 });
    await deliverCountUpdate(harness, 'evt-count-wallet', ['SQ-WALLET']);
    // The fixture as Square sent it: a catalog object and location this merchant never mapped.
    assert.equal((await harness.deliverSquareEvent(readFixture('square/inventory.count.updated.json'), fixtureHeaders('square/inventory.count.updated.json'))).status, 200);
    await harness.engine.worker.drain();

    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 5);
    assert.deepEqual(await storeMovements(harness, 'SKU-WALLET-01'), [['receive', 8, 'demo'], ['count', -3, 'square']]);
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=unmapped_sku')).body.data;
    assert.equal(exceptions.length, 1);
    assert.equal(exceptions[0].subject, '6F4K33KPNUVDWKZ43KUIFH6K');
    assert.deepEqual((await inboxRows(harness)).map((row) => row.status), ['processed', 'ignored']);
    assert.deepEqual(squareReads(harness), ['/v2/inventory/changes/batch-retrieve'], 'only the mapped item was looked up');
  });

  test(`[${dialect}] a register sale whose count update arrives before its payment moves stock once, by its order`, async (t) => {
    // The bug: the count update was compared with our figure and became an adjustment, then the
    // payment's order moved the same units again, so one sale lowered stock twice.
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    seedSquareCount(harness, 'SQ-AVIATOR', 4);
    seedSquareCount(harness, 'SQ-BEANIE', 12);
    harness.fakeSquare.recordRegisterSale(registerSale(FIXTURE_ORDER_ID, null));
    await deliverCountUpdate(harness, 'evt-count-sale', ['SQ-AVIATOR', 'SQ-BEANIE']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 4, 'the count alone moves nothing: the sale comes as its order');
    const [countRow] = await inboxRows(harness);
    assert.equal(countRow?.status, 'ignored');
    assert.match(countRow?.error ?? '', /skipped \(order\)/);

    await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-sale-paid', 'COMPLETED'));
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 3);
    assert.equal((await storeLevel(harness, 'SKU-BEANIE-01')).on_hand, 10);
    assert.deepEqual(await storeMovements(harness, 'SKU2006-001'), [['receive', 4, 'demo'], ['sale', -1, `square:order:${FIXTURE_ORDER_ID}`]]);
    assert.deepEqual(await storeMovements(harness, 'SKU-BEANIE-01'), [['receive', 12, 'demo'], ['sale', -2, `square:order:${FIXTURE_ORDER_ID}`]]);
  });

  test(`[${dialect}] a register sale whose payment fails once, and whose count update is applied while the payment waits, moves stock once`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    seedSquareCount(harness, 'SQ-AVIATOR', 4);
    harness.fakeSquare.recordRegisterSale(registerSale(FIXTURE_ORDER_ID, null));
    harness.fakeSquare.failNext(1, 503, { path: `/v2/orders/${FIXTURE_ORDER_ID}` });
    await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-sale-retry', 'COMPLETED'));
    await harness.engine.worker.drain();
    assert.equal((await inboxRows(harness))[0]?.status, 'received', 'the payment waits for its retry');

    await deliverCountUpdate(harness, 'evt-count-during-retry', ['SQ-AVIATOR']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 4);

    await makeRetryDue(harness, 'evt-sale-retry');
    await harness.engine.worker.drain();
    assert.deepEqual((await inboxRows(harness)).map((row) => [row.delivery_id, row.status]), [['evt-sale-retry', 'processed'], ['evt-count-during-retry', 'ignored']]);
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 3, 'one unit sold, one unit gone');
    assert.deepEqual((await storeMovements(harness, 'SKU2006-001')).map(([kind]) => kind), ['receive', 'sale']);
  });

  test(`[${dialect}] a physical count in Square sets on hand, leaving the store's reservations and safety stock as they are`, async (t) => {
    // The bug: Square's count was compared with our channel figure (on hand − reserved − safety),
    // so units we hold back looked like units missing or found.
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const hold = await harness.request('POST', '/v1/holds', { key: testPosKey, body: { location_id: harness.demo.store.id, sku: 'SKU2006-001', quantity: 1 } });
    assert.equal(hold.status, 201, JSON.stringify(hold.body));
    assert.equal((await harness.request('POST', '/v1/inventory/safety', { body: { location_id: harness.demo.store.id, sku: 'SKU2006-001', safety: 1 } })).status, 200);
    assert.deepEqual(await storeLevel(harness, 'SKU2006-001'), { location_id: harness.demo.store.id, sku: 'SKU2006-001', on_hand: 4, reserved: 1, safety: 1, available: 2 });

    // Square shows a figure unlike ours, with no change behind it: nothing is adjusted.
    await harness.deliverSquareEvent(countsEvent('evt-count-differs', 'SQ-AVIATOR', '4'));
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 4);

    harness.fakeSquare.recordChange({ type: 'PHYSICAL_COUNT', catalog_object_id: 'SQ-AVIATOR', location_id: STORE_SQUARE_LOCATION, quantity: 6 });
    await deliverCountUpdate(harness, 'evt-count-six', ['SQ-AVIATOR']);
    await harness.engine.worker.drain();
    assert.deepEqual(await storeLevel(harness, 'SKU2006-001'), { location_id: harness.demo.store.id, sku: 'SKU2006-001', on_hand: 6, reserved: 1, safety: 1, available: 4 });
    assert.deepEqual((await storeMovements(harness, 'SKU2006-001')).filter(([kind]) => kind === 'count'), [['count', 2, 'square']]);
    assert.deepEqual((await inboxRows(harness)).map((row) => row.status), ['ignored', 'processed']);
  });

  test(`[${dialect}] damage written off in Square lowers on hand, and a return put back on the shelf raises it`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.recordChange({ type: 'ADJUSTMENT', from_state: 'IN_STOCK', to_state: 'WASTE', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 2 });
    await deliverCountUpdate(harness, 'evt-damage', ['SQ-WALLET']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 6);

    harness.fakeSquare.recordChange({ type: 'ADJUSTMENT', from_state: 'RETURNED_BY_CUSTOMER', to_state: 'IN_STOCK', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 1 });
    await deliverCountUpdate(harness, 'evt-restock', ['SQ-WALLET']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 7);
    assert.deepEqual(await storeMovements(harness, 'SKU-WALLET-01'), [['receive', 8, 'demo'], ['adjust', -2, 'square'], ['return', 1, 'square']]);
    const [restock] = await inboxRows(harness).then((rows) => rows.filter((row) => row.delivery_id === 'evt-restock'));
    assert.match(restock?.error ?? '', /1 already applied/, 'the second read overlapped the first and found the damage again, applied once');
  });

  test(`[${dialect}] the same count delivered twice, under two event ids, adjusts once`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.recordChange({ type: 'ADJUSTMENT', from_state: 'IN_STOCK', to_state: 'WASTE', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 1 });
    await deliverCountUpdate(harness, 'evt-count-first', ['SQ-WALLET']);
    await deliverCountUpdate(harness, 'evt-count-first', ['SQ-WALLET']);
    await deliverCountUpdate(harness, 'evt-count-again', ['SQ-WALLET']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 7);
    assert.deepEqual(await storeMovements(harness, 'SKU-WALLET-01'), [['receive', 8, 'demo'], ['adjust', -1, 'square']]);
    assert.deepEqual((await inboxRows(harness)).map((row) => [row.delivery_id, row.status]), [['evt-count-first', 'processed'], ['evt-count-again', 'ignored']]);
  });

  test(`[${dialect}] a count update that fails and is retried after a newer one applies each change once, in the order they happened`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.recordChange({ type: 'PHYSICAL_COUNT', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 6 });
    harness.fakeSquare.failNext(1, 500, { path: '/v2/inventory/changes/batch-retrieve' });
    await deliverCountUpdate(harness, 'evt-count-older', ['SQ-WALLET']);
    await harness.engine.worker.drain();
    harness.fakeSquare.recordChange({ type: 'ADJUSTMENT', from_state: 'IN_STOCK', to_state: 'WASTE', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 1 });
    await deliverCountUpdate(harness, 'evt-count-newer', ['SQ-WALLET']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 5, 'the newer count found both changes: counted 6, then one damaged');
    await makeRetryDue(harness, 'evt-count-older');
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 5);
    assert.deepEqual(await storeMovements(harness, 'SKU-WALLET-01'), [['receive', 8, 'demo'], ['count', -2, 'square'], ['adjust', -1, 'square']]);
    assert.deepEqual((await inboxRows(harness)).map((row) => [row.delivery_id, row.status]), [['evt-count-older', 'ignored'], ['evt-count-newer', 'processed']]);
  });

  test(`[${dialect}] our own push to Square, read back behind its count, is recognised as our echo and not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    // What Continuum's Square delivery will send: BatchChangeInventory with a continuum: reference.
    const client = createSquareClient({ apiUrl: harness.fakeSquare.url, accessToken: harness.fakeSquare.token });
    await client.batchChangeInventory({ idempotencyKey: 'push-1', changes: [{ type: 'PHYSICAL_COUNT', catalogObjectId: 'SQ-WALLET', locationId: STORE_SQUARE_LOCATION, quantity: 3, occurredAt: new Date().toISOString(), referenceId: 'continuum:inventory.push:test' }] });
    await deliverCountUpdate(harness, 'evt-echo', ['SQ-WALLET']);
    await harness.engine.worker.drain();
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 8);
    assert.deepEqual(await storeMovements(harness, 'SKU-WALLET-01'), [['receive', 8, 'demo']]);
    const [row] = await inboxRows(harness);
    assert.equal(row?.status, 'ignored');
    assert.match(row?.error ?? '', /skipped \(echo\)/);
  });

  test(`[${dialect}] a COMPLETED itemized refund of a register sale records the return and takes back the line's points; PENDING does nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.setOrder(registerSale());
    harness.fakeSquare.setCustomer(ANA);
    await harness.deliverSquareEvent(paymentEvent('payment.updated', 'evt-sale', 'COMPLETED'));
    await harness.engine.worker.drain();
    harness.fakeSquare.setOrder({
      ...buildSquareOrder({ id: 'RETURN-ORDER-1', locationId: STORE_SQUARE_LOCATION, lines: [{ uid: 'unused', name: 'unused', catalogObjectId: null, quantity: 1, unitAmount: 0 }] }),
      line_items: [],
      returns: [{ source_order_id: FIXTURE_ORDER_ID, return_line_items: [{ uid: 'R1', source_line_item_uid: 'line-aviator', quantity: '1', item_type: 'ITEM', catalog_object_id: 'SQ-AVIATOR', total_tax_money: { amount: 1053, currency: 'USD' }, total_money: { amount: 9152, currency: 'USD' } }] }],
    });
    const refund = (eventId: string, type: string, status: string) => ({
      merchant_id: testSquareMerchantRef, type, event_id: eventId, created_at: '2026-11-21T10:00:00Z',
      data: { type: 'refund', id: 'REFUND-1', object: { refund: { id: 'REFUND-1', status, order_id: 'RETURN-ORDER-1', payment_id: 'hYy9pRFVxpDsO1FB05SunFWUe9JZY', location_id: STORE_SQUARE_LOCATION, amount_money: { amount: 9152, currency: 'USD' }, reason: 'Scratched lens' } } },
    });
    await harness.deliverSquareEvent(refund('evt-refund-created', 'refund.created', 'PENDING'));
    await harness.deliverSquareEvent(refund('evt-refund-updated', 'refund.updated', 'COMPLETED'));
    await harness.engine.worker.drain();

    const order = await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'square', FIXTURE_ORDER_ID);
    assert.equal(order?.refundedMinor, 9152);
    assert.equal(order?.lines.find((line) => line.sourceRef === 'line-aviator')?.returnedQuantity, 1);
    const [ana] = (await harness.request('GET', '/v1/customers/lookup?q=ana.lima@example.com')).body.data;
    assert.equal(ana.loyalty.available, 130 - 80, 'the aviator line earned 80 of the 130 points');
    assert.equal((await storeLevel(harness, 'SKU2006-001')).on_hand, 3, 'not restocked here: Square reports a restock through inventory.count.updated');
    assert.deepEqual((await inboxRows(harness)).map((row) => row.status), ['processed', 'ignored', 'processed']);
  });

  test(`[${dialect}] a Square customer.created resolves a profile by her Square id and email`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.deliverSquareEvent({ merchant_id: testSquareMerchantRef, type: 'customer.created', event_id: 'evt-customer', created_at: '2026-11-21T10:00:00Z', data: { type: 'customer', id: ANA.id, object: { customer: ANA } } });
    await harness.engine.worker.drain();
    const found = (await harness.request('GET', '/v1/customers/lookup?q=6135550199')).body.data;
    assert.equal(found.length, 1);
    assert.deepEqual(found[0].emails, ['ana.lima@example.com']);
  });
}
