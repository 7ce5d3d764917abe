import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testShopDomain, type TestEngine } from './support/engine-harness.ts';

// The Shopify topics of issue #7 (products/delete, customers/delete, locations/*, app/uninstalled),
// stale updates, and who owns what (`sync.ownership`), through signed webhooks of real fixture shapes.

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;
const aviatorItem = gid('InventoryItem', '271878346596884015');
const storeLocation = gid('Location', '24826419');
let deliveries = 0;

/** Delivers a fixture (or a body edited from it) as a new delivery of `topic`, then lets the worker apply it. */
async function deliver(harness: TestEngine, fixture: string, options: { topic?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  deliveries += 1;
  const headers = { 'X-Shopify-Webhook-Id': `connector-${deliveries}`, 'X-Shopify-Event-Id': `connector-event-${deliveries}`, ...(options.topic ? { 'X-Shopify-Topic': options.topic } : {}), ...options.headers };
  const body = options.body === undefined ? undefined : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
  const response = await harness.deliverShopifyFixture(fixture, headers, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  await harness.engine.worker.drain();
  return harness.engine.database.db.selectFrom('inbox_events').select(['status', 'error', 'topic']).where('delivery_id', '=', headers['X-Shopify-Webhook-Id']).executeTakeFirstOrThrow();
}

async function setOwnership(harness: TestEngine, ownership: Record<string, string>): Promise<void> {
  const db = harness.engine.database.db;
  const row = await db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
  const settings = JSON.parse(row.settings_json);
  settings.sync = { ownership: { ...(settings.sync?.ownership ?? {}), ...ownership } };
  await db.updateTable('merchants').set({ settings_json: JSON.stringify(settings) }).where('id', '=', harness.demo.merchant.id).execute();
}

/** The newest Shopify outbox message of a kind (ids sort by creation; timestamps may tie within a millisecond). */
function lastOutboxMessage(harness: TestEngine, kind: string) {
  return harness.engine.database.db.selectFrom('outbox_events').select(['status', 'last_error', 'attempts']).where('destination', '=', 'shopify').where('kind', '=', kind).orderBy('id', 'desc').executeTakeFirstOrThrow();
}

function fixtureJson(path: string): Record<string, unknown> {
  // Ids above 2^53 become strings, as shared/json.ts reads them, so editing never rounds them.
  return JSON.parse(readFixture(path).toString('utf8').replace(/("(?:id|customer_id)": )(\d{16,})/g, '$1"$2"')) as Record<string, unknown>;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] products/delete archives the product: its variants stay for history, are no longer pushed, and later versions are not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity(aviatorItem, storeLocation), 4);

    const deleted = await deliver(harness, 'shopify/products-delete.json');
    assert.equal(deleted.status, 'processed');
    assert.match(deleted.error ?? '', /archived/);
    const aviator = (await harness.request('GET', '/v1/products')).body.data.find((product: { title: string }) => product.title === 'Aviator sunglasses');
    assert.ok(aviator.archivedAt, 'the product is archived');
    assert.deepEqual(aviator.variants.map((variant: { sku: string }) => variant.sku), ['SKU2006-001'], 'the variant stays');

    const received = await harness.request('POST', '/v1/inventory/receive', { body: { location_id: harness.demo.store.id, sku: 'SKU2006-001', quantity: 3 } });
    assert.equal(received.status, 200, JSON.stringify(received.body));
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity(aviatorItem, storeLocation), 4, 'nothing is pushed for an archived product');
    assert.match((await lastOutboxMessage(harness, 'inventory.push')).last_error ?? '', /archived/);

    const late = await deliver(harness, 'shopify/customers-create.json', { topic: 'products/update', body: { id: '788032119674292922', title: 'Aviator sunglasses (back?)', updated_at: '2030-01-01T00:00:00Z', variants: [{ id: '642667041472713922', sku: 'SKU2006-001', title: 'Gold', price: '10.00', inventory_item_id: '271878346596884015' }] } });
    assert.equal(late.status, 'ignored');
    assert.match(late.error ?? '', /archived/);
    assert.equal((await deliver(harness, 'shopify/products-delete.json')).status, 'ignored', 'a second deletion changes nothing');
  });

  test(`[${dialect}] customers/delete unlinks the Shopify id and keeps the profile and its ledger; a late, older update does not bring the link back`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    assert.equal((await deliver(harness, 'shopify/customers-create.json')).status, 'processed');
    const db = harness.engine.database.db;
    const { customer_id: customerId } = await db.selectFrom('customer_identifiers').select('customer_id').where('kind', '=', 'shopify_id').where('value_normalized', '=', '706405506930370084').executeTakeFirstOrThrow();
    const adjusted = await harness.request('POST', `/v1/customers/${customerId}/loyalty/adjustments`, { body: { points: 150, reason: 'welcome gift' } });
    assert.equal(adjusted.status, 201, JSON.stringify(adjusted.body));

    const deleted = await deliver(harness, 'shopify/customers-delete.json');
    assert.equal(deleted.status, 'processed');
    assert.match(deleted.error ?? '', /unlinked/);
    assert.equal((await db.selectFrom('customer_identifiers').select('id').where('kind', '=', 'shopify_id').where('customer_id', '=', customerId).execute()).length, 0, 'the Shopify id is unlinked');
    const profile = (await harness.request('GET', `/v1/customers/${customerId}`)).body.data;
    assert.equal(profile.id, customerId, 'the profile stays');
    assert.equal((await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available, 150, 'and so does its balance');
    const audit = await db.selectFrom('audit_log').select('action').where('subject', '=', customerId).where('action', '=', 'customer.channel_unlinked').execute();
    assert.equal(audit.length, 1);

    // A retry of an update made before the deletion (triggered earlier, older updated_at).
    const late = await deliver(harness, 'shopify/customers-create.json', { topic: 'customers/update', headers: { 'X-Shopify-Triggered-At': '2021-12-31T19:00:00.000000Z' } });
    assert.equal(late.status, 'ignored');
    assert.match(late.error ?? '', /stale/);
    assert.equal((await db.selectFrom('customer_identifiers').select('id').where('kind', '=', 'shopify_id').execute()).length, 0, 'the deleted Shopify customer is not linked again');
  });

  test(`[${dialect}] locations are recorded for mapping; an order at an unmapped location raises the exception; a mapped one moves stock; an older update and a deletion are handled`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const created = await deliver(harness, 'shopify/locations-create.json');
    assert.equal(created.status, 'processed');
    assert.match(created.error ?? '', /not mapped/);
    let listed = (await harness.request('GET', '/v1/channels/shopify/locations')).body.data;
    assert.deepEqual(listed.map((location: { shopify_location_id: string; name: string; location_id: string | null }) => [location.shopify_location_id, location.name, location.location_id]), [['655441491', '50 Rideau Street', null]]);

    const order = fixtureJson('shopify/orders-create.json');
    order['location_id'] = 655441491;
    order['source_name'] = 'pos';
    await deliver(harness, 'shopify/orders-create.json', { body: order });
    const unlocated = (await harness.request('GET', '/v1/exceptions?kind=unmapped_sku')).body.data;
    assert.equal(unlocated.length, 1, 'the unmapped location is raised for a person');

    const pop = await harness.request('POST', '/v1/locations', { body: { name: 'Rideau pop-up', kind: 'store' } });
    assert.equal(pop.status, 201, JSON.stringify(pop.body));
    const mapped = await harness.request('POST', '/v1/channels/shopify/locations/655441491/map', { body: { location_id: pop.body.data.id } });
    assert.equal(mapped.status, 200, JSON.stringify(mapped.body));
    listed = (await harness.request('GET', '/v1/channels/shopify/locations')).body.data;
    assert.equal(listed[0].location_id, pop.body.data.id);
    const second = fixtureJson('shopify/orders-create.json');
    Object.assign(second, { id: '820982911946154599', name: '#1099', location_id: 655441491, source_name: 'pos' });
    await deliver(harness, 'shopify/orders-create.json', { body: second });
    const popSales = await harness.engine.database.db.selectFrom('stock_movements').select('on_hand_delta').where('location_id', '=', pop.body.data.id).where('kind', '=', 'sale').execute();
    assert.deepEqual(popSales.map((sale) => sale.on_hand_delta), [-1, -1], 'the sale at the mapped location moved its stock (an oversell, as it had none)');

    const renamed = await deliver(harness, 'shopify/locations-update.json');
    assert.equal(renamed.status, 'processed');
    assert.match(renamed.error ?? '', new RegExp(harness.demo.warehouse.id));
    const older = fixtureJson('shopify/locations-update.json');
    Object.assign(older, { name: 'Old name', updated_at: '2026-01-15T00:00:00-05:00' });
    const stale = await deliver(harness, 'shopify/locations-update.json', { body: older });
    assert.equal(stale.status, 'ignored');
    assert.match(stale.error ?? '', /stale/);
    listed = (await harness.request('GET', '/v1/channels/shopify/locations')).body.data;
    assert.equal(listed.find((location: { shopify_location_id: string }) => location.shopify_location_id === '24826418').name, 'Ottawa Warehouse (Bank Street)');

    const removed = await deliver(harness, 'shopify/locations-delete.json');
    assert.equal(removed.status, 'processed');
    listed = (await harness.request('GET', '/v1/channels/shopify/locations')).body.data;
    const gone = listed.find((location: { shopify_location_id: string }) => location.shopify_location_id === '655441491');
    assert.ok(gone.deleted_at);
    assert.equal(gone.location_id, null, 'our location is unmapped from the deleted one');
  });

  test(`[${dialect}] app/uninstalled disconnects the shop: pending pushes are closed with a note, nothing new is queued, and its webhooks are still verified`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    await harness.request('POST', '/v1/inventory/receive', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', quantity: 2 } });
    const uninstalled = await deliver(harness, 'shopify/app-uninstalled.json');
    assert.equal(uninstalled.status, 'processed');
    const channels = (await harness.request('GET', '/v1/channels')).body.data;
    assert.equal(channels.find((channel: { channel: string }) => channel.channel === 'shopify').state, 'disconnected');
    const push = await lastOutboxMessage(harness, 'inventory.push');
    assert.equal(push.status, 'delivered', 'closed, not retried forever');
    assert.match(push.last_error ?? '', /uninstalled the app/);

    const pending = await harness.engine.database.db.selectFrom('outbox_events').select('id').where('destination', '=', 'shopify').where('status', '=', 'pending').execute();
    await harness.request('POST', '/v1/inventory/receive', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', quantity: 1 } });
    const after = await harness.engine.database.db.selectFrom('outbox_events').select('id').where('destination', '=', 'shopify').where('status', '=', 'pending').execute();
    assert.equal(after.length, pending.length, 'nothing new is queued for a disconnected shop');

    assert.equal((await deliver(harness, 'shopify/customers-create.json')).status, 'processed', 'its webhooks are still accepted');
    const forged = await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Webhook-Id': 'forged-1', 'X-Shopify-Hmac-Sha256': 'bm90IGEgc2lnbmF0dXJl' });
    assert.equal(forged.status, 401, 'and verified by the secret');
    assert.equal((await deliver(harness, 'shopify/app-uninstalled.json')).status, 'ignored', 'a repeated uninstall changes nothing');

    const reconnected = await harness.request('POST', '/v1/channels/shopify/reconnect', { body: { admin_api_url: harness.fake.url, access_token: harness.fake.token } });
    assert.equal(reconnected.body.data.state, 'connected', 'reinstalled, the shop is connected again');
    await harness.request('POST', '/v1/inventory/receive', { body: { location_id: harness.demo.store.id, sku: 'SKU-BEANIE-01', quantity: 1 } });
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity(gid('InventoryItem', '271878346596884018'), storeLocation), 12 + 2 + 1 + 1, 'and the truth is pushed to it again');
  });

  test(`[${dialect}] a customers/update older than the version applied is kept and not applied; Shopify-owned customers are overwritten, Continuum-owned ones only filled`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    await deliver(harness, 'shopify/customers-create.json');
    const bob = fixtureJson('shopify/customers-create.json');
    const name = async () => db.selectFrom('customers').select(['first_name', 'last_name']).innerJoin('customer_identifiers', 'customer_identifiers.customer_id', 'customers.id').where('customer_identifiers.value_normalized', '=', '706405506930370084').executeTakeFirstOrThrow();

    const continuumOwned = await deliver(harness, 'shopify/customers-create.json', { topic: 'customers/update', body: { ...bob, first_name: 'Robert', phone: '+16135550199', updated_at: '2022-03-01T10:00:00-05:00' } });
    assert.equal(continuumOwned.status, 'processed');
    assert.equal((await name()).first_name, 'Bob', 'Continuum owns customers (default): a channel name never overwrites ours');
    const phones = await db.selectFrom('customer_identifiers').select('value_normalized').where('kind', '=', 'phone').execute();
    assert.ok(phones.some((phone) => phone.value_normalized === '+16135550199'), 'a new identifier is still linked');

    await setOwnership(harness, { customers: 'shopify' });
    const newer = await deliver(harness, 'shopify/customers-create.json', { topic: 'customers/update', body: { ...bob, first_name: 'Robert', last_name: 'Biller-Smith', updated_at: '2022-05-01T10:00:00-05:00' } });
    assert.equal(newer.status, 'processed');
    assert.deepEqual(await name(), { first_name: 'Robert', last_name: 'Biller-Smith' }, 'Shopify owns customers: its fields overwrite ours');
    const stale = await deliver(harness, 'shopify/customers-create.json', { topic: 'customers/update', body: { ...bob, first_name: 'Bobby', updated_at: '2022-04-01T10:00:00-05:00' } });
    assert.equal(stale.status, 'ignored');
    assert.match(stale.error ?? '', /stale/);
    assert.equal((await name()).first_name, 'Robert', 'the older update changed nothing');
  });

  test(`[${dialect}] products owned by Continuum: Shopify's title and price edits are recorded and reported, never applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setOwnership(harness, { products: 'continuum' });
    const edited = { id: '788032119674292923', title: 'Mid-century lounger', updated_at: '2026-03-01T10:00:00Z', variants: [{ id: '757650484644203962', sku: 'SKU2006-020', title: 'Walnut', price: '99.00', inventory_item_id: '271878346596884016' }] };
    const outcome = await deliver(harness, 'shopify/customers-create.json', { topic: 'products/update', body: edited });
    assert.equal(outcome.status, 'processed');
    assert.match(outcome.error ?? '', /Continuum owns products.*SKU2006-020 price_minor 15999 here, 9900 in Shopify/);
    const lounger = (await harness.request('GET', '/v1/products')).body.data.find((product: { title: string }) => product.title === 'Mid-century lounger');
    assert.equal(lounger.variants[0].priceMinor, 15999, 'our price stays');
    const drift = (await harness.request('GET', '/v1/exceptions?kind=channel_drift')).body.data;
    assert.equal(drift.length, 1);
    assert.equal(drift[0].details.differences[0].field, 'price_minor');

    await setOwnership(harness, { products: 'shopify' });
    await deliver(harness, 'shopify/customers-create.json', { topic: 'products/update', body: { ...edited, updated_at: '2026-03-02T10:00:00Z' } });
    const mirrored = (await harness.request('GET', '/v1/products')).body.data.find((product: { title: string }) => product.title === 'Mid-century lounger');
    assert.equal(mirrored.variants[0].priceMinor, 9900, 'owned by Shopify (the default), the price is mirrored');
  });

  test(`[${dialect}] stock owned by Shopify: its figure becomes the truth and nothing is pushed back; owned by Continuum, an older report is not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const level = (sku: string) => harness.request('GET', `/v1/inventory?sku=${sku}`).then((response) => response.body.data.find((row: { location_id: string }) => row.location_id === harness.demo.warehouse.id));
    const report = (available: number, updatedAt: string) => ({ inventory_item_id: '271878346596884015', location_id: 24826418, available, updated_at: updatedAt, admin_graphql_api_id: 'gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015' });

    assert.equal((await deliver(harness, 'shopify/inventory_levels-update.json', { body: report(7, '2026-02-01T10:00:00Z') })).status, 'processed');
    assert.equal((await level('SKU2006-001')).available, 7, 'Continuum-owned: the Shopify edit arrives as an adjustment');
    const stale = await deliver(harness, 'shopify/inventory_levels-update.json', { body: report(2, '2026-01-01T10:00:00Z') });
    assert.equal(stale.status, 'ignored');
    assert.match(stale.error ?? '', /stale/);
    assert.equal((await level('SKU2006-001')).available, 7);

    await setOwnership(harness, { stock: 'shopify' });
    const requestsBefore = harness.fake.requests.length;
    assert.equal((await deliver(harness, 'shopify/inventory_levels-update.json', { body: report(3, '2026-02-02T10:00:00Z') })).status, 'processed');
    assert.equal((await level('SKU2006-001')).available, 3, "Shopify-owned: Shopify's figure is the truth");
    await harness.request('POST', '/v1/inventory/receive', { body: { location_id: harness.demo.warehouse.id, sku: 'SKU2006-001', quantity: 5 } });
    await harness.engine.worker.drain();
    assert.equal(harness.fake.requests.slice(requestsBefore).filter((request) => request.operation.includes('inventorySetQuantities')).length, 0, 'nothing is pushed back to the owner');
    assert.match((await lastOutboxMessage(harness, 'inventory.push')).last_error ?? '', /Shopify owns stock/);
  });

  test(`[${dialect}] deliveries dedupe on the webhook id and on (topic, event id), never on the event id alone`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const send = (headers: Record<string, string>) => harness.deliverShopifyFixture('shopify/locations-create.json', headers);
    assert.equal((await send({ 'X-Shopify-Webhook-Id': 'dedupe-1', 'X-Shopify-Event-Id': 'action-1' })).body.duplicate, false);
    assert.equal((await send({ 'X-Shopify-Webhook-Id': 'dedupe-1', 'X-Shopify-Event-Id': 'action-2' })).body.duplicate, true, 'the same delivery');
    assert.equal((await send({ 'X-Shopify-Webhook-Id': 'dedupe-2', 'X-Shopify-Event-Id': 'action-1' })).body.duplicate, true, 'the same event of the same topic under a new delivery id');
    assert.equal((await send({ 'X-Shopify-Webhook-Id': 'dedupe-3', 'X-Shopify-Event-Id': 'action-1', 'X-Shopify-Topic': 'locations/update' })).body.duplicate, false, 'one merchant action spans topics');
    assert.equal(testShopDomain, 'jsmith.myshopify.com');
  });
}
