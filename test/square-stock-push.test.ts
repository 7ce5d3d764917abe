import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { runContinuumCli } from './support/engine-processes.ts';
import { startTestEngine, testPosKey, testSquareMerchantRef, type TestEngine } from './support/engine-harness.ts';

// Continuum owns the stock and tells Square (issue #7): every change at a store mapped to a Square
// location becomes a PHYSICAL_COUNT pushed with BatchChangeInventory, referenced `continuum:` so the
// count Square reports back is recognised as our own echo. And Square's customers resolve profiles.

const STORE_SQUARE_LOCATION = 'S8GWD5R9QB376';
const BATCH_CREATE = '/v2/inventory/changes/batch-create';
const squareItems = ['SQ-AVIATOR', 'SQ-LOUNGER', 'SQ-WALLET', 'SQ-BEANIE'];

function pushes(harness: TestEngine) {
  return harness.fakeSquare.requests.filter((request) => request.path === BATCH_CREATE);
}

async function storeLevel(harness: TestEngine, sku: string) {
  const rows = (await harness.request('GET', `/v1/inventory?sku=${sku}`)).body.data as { location_id: string; on_hand: number; available: number }[];
  return rows.find((row) => row.location_id === harness.demo.store.id)!;
}

async function storeMovements(harness: TestEngine, sku: string): Promise<[string, number][]> {
  const rows = (await harness.request('GET', `/v1/inventory/movements?sku=${sku}&location_id=${harness.demo.store.id}`)).body.data as { kind: string; on_hand_delta: number }[];
  return rows.map((row) => [row.kind, row.on_hand_delta]);
}

async function squareStockMessages(harness: TestEngine) {
  return harness.engine.database.db.selectFrom('outbox_events').select(['id', 'status', 'last_error', 'payload']).where('destination', '=', 'square').where('kind', '=', 'inventory.push').orderBy('id').execute();
}

async function sellAtRegister(harness: TestEngine, saleId: string, sku: string): Promise<void> {
  const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: saleId, register_id: 'REG-1', location_id: harness.demo.store.id, lines: [{ sku, quantity: 1 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
}

async function deliverCountUpdate(harness: TestEngine, eventId: string, catalogObjectIds: string[]): Promise<void> {
  const body = harness.fakeSquare.countUpdatedNotification({ merchantId: testSquareMerchantRef, eventId, catalogObjectIds, locationId: STORE_SQUARE_LOCATION });
  assert.equal((await harness.deliverSquareEvent(body)).status, 200);
  await harness.engine.worker.drain();
}

async function inboxRow(harness: TestEngine, deliveryId: string) {
  return harness.engine.database.db.selectFrom('inbox_events').select(['status', 'error']).where('delivery_id', '=', deliveryId).executeTakeFirstOrThrow();
}

function customerEvent(type: string, eventId: string, object: Record<string, unknown>) {
  return { merchant_id: testSquareMerchantRef, type, event_id: eventId, created_at: '2026-11-21T10:00:00Z', data: { type: 'customer', id: 'x', object } };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] the store's stock reaches Square as PHYSICAL_COUNTs, every place due at once in one BatchChangeInventory with a continuum: reference`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const [push, ...others] = pushes(harness);
    assert.ok(push, 'the opening stock was pushed');
    assert.equal(others.length, 0, 'four places due at once: one request');
    assert.match(push.idempotencyKey ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(squareItems.map((item) => harness.fakeSquare.count(item, STORE_SQUARE_LOCATION)), [4, 1, 8, 12]);
    const changes = harness.fakeSquare.changes().map((change) => change['physical_count'] as { reference_id: string; state: string; quantity: string });
    assert.equal(changes.length, 4);
    assert.ok(changes.every((change) => change.state === 'IN_STOCK' && change.reference_id.startsWith('continuum:inventory.push:')));
    const messages = await squareStockMessages(harness);
    assert.deepEqual(messages.map((message) => message.status), ['delivered', 'delivered', 'delivered', 'delivered']);
    assert.equal(messages.filter((message) => /^skipped: Square already shows/.test(message.last_error ?? '')).length, 3, 'the other three found Square told');

  });

  test(`[${dialect}] a register sale is pushed to Square, and the count Square reports back is our echo: applied once, never as an adjustment`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    await sellAtRegister(harness, 'S-1', 'SKU-WALLET-01');
    await harness.engine.worker.drain();
    assert.equal(harness.fakeSquare.count('SQ-WALLET', STORE_SQUARE_LOCATION), 7);
    assert.equal(pushes(harness).length, 2);

    // Square fires inventory.count.updated for our own BatchChangeInventory (protocols.md C5), twice.
    await deliverCountUpdate(harness, 'evt-echo-1', ['SQ-WALLET']);
    await deliverCountUpdate(harness, 'evt-echo-2', ['SQ-WALLET']);
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 7);
    assert.deepEqual(await storeMovements(harness, 'SKU-WALLET-01'), [['receive', 8], ['sale', -1]], 'no adjustment from our own figure');
    for (const eventId of ['evt-echo-1', 'evt-echo-2']) {
      const row = await inboxRow(harness, eventId);
      assert.equal(row.status, 'ignored');
      assert.match(row.error ?? '', /skipped \(echo\)/);
    }
    assert.equal(pushes(harness).length, 2, 'nothing pushed back: nothing changed');

    // A count made in Square itself is no echo: it moves our stock, and the new figure goes back.
    harness.fakeSquare.recordChange({ type: 'ADJUSTMENT', from_state: 'IN_STOCK', to_state: 'WASTE', catalog_object_id: 'SQ-WALLET', location_id: STORE_SQUARE_LOCATION, quantity: 2 });
    await deliverCountUpdate(harness, 'evt-damage', ['SQ-WALLET']);
    assert.equal((await storeLevel(harness, 'SKU-WALLET-01')).on_hand, 5);
    assert.equal(harness.fakeSquare.count('SQ-WALLET', STORE_SQUARE_LOCATION), 5);
  });

  test(`[${dialect}] a 429 from Square is waited out (its Retry-After when it sends one) and a long one is retried later by the outbox; one count reaches Square`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.fakeSquare.rateLimitNext(2, { path: BATCH_CREATE, retryAfterSeconds: 0 });
    await harness.engine.worker.drain();
    assert.deepEqual(pushes(harness).map((request) => request.outcome), ['rate_limited', 'rate_limited', 'executed'], 'retried within the delivery');
    assert.equal(harness.fakeSquare.count('SQ-BEANIE', STORE_SQUARE_LOCATION), 12);

    harness.fakeSquare.rateLimitNext(1, { path: BATCH_CREATE, retryAfterSeconds: 120 });
    await sellAtRegister(harness, 'S-1', 'SKU-BEANIE-01');
    await harness.engine.worker.drain();
    const waiting = (await squareStockMessages(harness)).filter((message) => message.status === 'pending');
    assert.equal(waiting.length, 1, 'kept for a later attempt');
    assert.match(waiting[0]?.last_error ?? '', /connectors\.square\.rate_limited.*120000 ms/);
    assert.equal(harness.fakeSquare.count('SQ-BEANIE', STORE_SQUARE_LOCATION), 12);

    await harness.engine.database.db.updateTable('outbox_events').set({ next_attempt_at: '2000-01-01T00:00:00.000Z' }).where('status', '=', 'pending').execute();
    await harness.engine.worker.drain();
    assert.equal(harness.fakeSquare.count('SQ-BEANIE', STORE_SQUARE_LOCATION), 11);
    assert.deepEqual(pushes(harness).map((request) => request.outcome), ['rate_limited', 'rate_limited', 'executed', 'rate_limited', 'executed']);
  });

  test(`[${dialect}] Square customers: created and updated resolve one profile; deleted unlinks the Square id, the profile stays, and a late update of the deleted id is not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const ana = { id: 'SQ-CUST-ANA', given_name: 'Ana', email_address: 'Ana.Lima@Example.com', version: 1 };
    assert.equal((await harness.deliverSquareEvent(customerEvent('customer.created', 'evt-c1', { customer: ana }))).status, 200);
    assert.equal((await harness.deliverSquareEvent(customerEvent('customer.updated', 'evt-c2', { customer: { ...ana, family_name: 'Lima', phone_number: '+1 613 555 0199', version: 2 } }))).status, 200);
    await harness.engine.worker.drain();
    const found = (await harness.request('GET', '/v1/customers/lookup?q=6135550199')).body.data;
    assert.equal(found.length, 1, 'the update found the profile the creation made');
    assert.deepEqual(found[0].emails, ['ana.lima@example.com']);
    const squareIds = async () => (await harness.engine.database.db.selectFrom('customer_identifiers').select(['customer_id', 'value_normalized']).where('kind', '=', 'square_id').execute()).map((identifier) => [identifier.customer_id, identifier.value_normalized]);
    assert.deepEqual(await squareIds(), [[found[0].id, 'SQ-CUST-ANA']]);

    // Square merged her with another record: the old id is deleted, the merge's new id takes its place.
    const deleted = customerEvent('customer.deleted', 'evt-c3', { customer: { id: ana.id, version: 3 }, event_context: { merge: { from_customer_ids: [ana.id, 'SQ-CUST-OTHER'], to_customer_id: 'SQ-CUST-MERGED' } } });
    assert.equal((await harness.deliverSquareEvent(deleted)).status, 200);
    await harness.engine.worker.drain();
    const row = await inboxRow(harness, 'evt-c3');
    assert.equal(row.status, 'processed');
    assert.match(row.error ?? '', /SQ-CUST-ANA, merged in Square into SQ-CUST-MERGED unlinked/);
    assert.deepEqual(await squareIds(), [[found[0].id, 'SQ-CUST-MERGED']]);
    assert.equal((await harness.request('GET', '/v1/customers/lookup?q=ana.lima@example.com')).body.data.length, 1, 'the profile stays');

    // A plain deletion of an id nobody holds changes nothing.
    await harness.deliverSquareEvent(customerEvent('customer.deleted', 'evt-c4', { customer: { id: 'SQ-NOBODY' } }));
    await harness.engine.worker.drain();
    assert.deepEqual(await inboxRow(harness, 'evt-c4'), { status: 'ignored', error: 'no profile holds this Square customer' });

    // Square retries an update of the deleted id late: it does not link the deleted id again, nor
    // make a profile of it, even with an email no profile has.
    const profiles = async () => Number((await harness.engine.database.db.selectFrom('customers').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()).count);
    const before = await profiles();
    await harness.deliverSquareEvent(customerEvent('customer.updated', 'evt-c5', { customer: { ...ana, email_address: 'ana.new@example.com', version: 2 } }));
    await harness.engine.worker.drain();
    const late = await inboxRow(harness, 'evt-c5');
    assert.equal(late.status, 'ignored');
    assert.match(late.error ?? '', /Square deleted customer SQ-CUST-ANA at 2026-11-21T10:00:00\.000Z; this later notification is not applied/);
    assert.deepEqual(await squareIds(), [[found[0].id, 'SQ-CUST-MERGED']], 'the deleted id is not linked again');
    assert.equal(await profiles(), before, 'no profile made of it');
    assert.equal((await harness.request('GET', '/v1/customers/lookup?q=ana.new@example.com')).body.data.length, 0);
  });

  test(`[${dialect}] reconciliation with Square: a count typed in Square's Dashboard is reported with its reason, repaired by pushing the truth again, the same from the command line; a register key may not`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const reconcile = async (repair: boolean) => {
      const response = await harness.request('POST', '/v1/reconciliation/square', { body: { repair } });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body.data.stock as { checked: number; drifts: { location_id: string; sku: string; continuum_available: number; square_available: number | null; reason: string }[]; repaired: number };
    };
    const agreed = await reconcile(false);
    assert.deepEqual([agreed.checked, agreed.drifts, agreed.repaired], [squareItems.length, [], 0], 'the opening push left Square agreeing');

    // Someone counts 99 wallets in Square's Dashboard; Square sends nothing we hear of.
    harness.fakeSquare.setCount('SQ-WALLET', STORE_SQUARE_LOCATION, 99);
    const queuedBefore = (await squareStockMessages(harness)).length;
    const found = await reconcile(false);
    assert.deepEqual(found.drifts, [{ location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', continuum_available: 8, square_available: 99, reason: 'square_shows_more' }]);
    assert.equal((await squareStockMessages(harness)).length, queuedBefore, 'comparing changes nothing');

    const repaired = await reconcile(true);
    assert.equal(repaired.repaired, 1);
    await harness.engine.worker.drain();
    assert.equal(harness.fakeSquare.count('SQ-WALLET', STORE_SQUARE_LOCATION), 8, 'the truth is back in Square');
    assert.deepEqual((await reconcile(false)).drifts, []);

    assert.equal((await harness.request('POST', '/v1/reconciliation/square', { key: testPosKey, body: {} })).status, 403, 'a register key cannot reconcile');

    // The same from the command line, against the engine's database.
    harness.fakeSquare.setCount('SQ-LOUNGER', STORE_SQUARE_LOCATION, 0);
    const cli = await runContinuumCli(harness.databaseLocation, ['reconcile', '--channel', 'square']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout).stock.drifts.map((drift: { sku: string; reason: string; square_available: number }) => [drift.sku, drift.reason, drift.square_available]), [['SKU2006-020', 'square_shows_less', 0]]);
    const refused = await runContinuumCli(harness.databaseLocation, ['reconcile', '--channel', 'square', '--scope', 'customers']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Square is compared for its stock only/);
  });
}
