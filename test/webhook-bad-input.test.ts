import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appliedShopifyTopics, signShopifyBody, verifyShopifySignature } from '../src/connectors/shopify/index.ts';
import { signSquareBody } from '../src/connectors/square/index.ts';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startLockedTestEngine } from './support/postgres-schema-lock.ts';
import { fixtureHeaders, readFixture, testShopDomain, testShopifySecret, type TestEngine } from './support/engine-harness.ts';

// What a channel, or someone pretending to be one, can send to the webhook endpoints, and what
// Continuum does with it: unsigned or mis-signed requests leave no trace, malformed bodies are
// refused, topics it does not apply are kept and acknowledged, and events that arrive out of order
// wait in the inbox until they can be applied.

const fixtureShopifySecret = 'shpss_TEST_ONLY_fixture_secret';
const squareSignatureKey = 'TEST_ONLY_square_signature_key';
const squareNotificationUrl = 'https://example.com/webhooks/square';
const shopifyFixtures = ['shopify/orders-create.json', 'shopify/customers-create.json', 'shopify/refunds-create.json', 'shopify/inventory_levels-update.json'];

/** Posts raw bytes to a webhook route with exactly the given headers (none added). */
async function postWebhook(harness: TestEngine, url: string, headers: Record<string, string>, body: Buffer | string) {
  const response = await harness.engine.server.inject({ method: 'POST', url, headers, payload: body });
  return { status: response.statusCode, body: JSON.parse(response.body) };
}

/** Shopify headers for a body signed with the demo merchant's secret. */
function signedShopifyHeaders(body: Buffer | string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'X-Shopify-Topic': 'orders/create',
    'X-Shopify-Shop-Domain': testShopDomain,
    'X-Shopify-Webhook-Id': 'webhook-under-test',
    'X-Shopify-Event-Id': 'event-under-test',
    'X-Shopify-Hmac-Sha256': signShopifyBody(testShopifySecret, body),
    ...overrides,
  };
}

async function inboxEvents(harness: TestEngine) {
  return harness.engine.database.db.selectFrom('inbox_events').selectAll().orderBy('received_at').orderBy('id').execute();
}

async function inboxCounts(harness: TestEngine): Promise<Record<string, number>> {
  const response = await harness.request('GET', '/v1/sync/status');
  assert.equal(response.status, 200);
  return response.body.data.inbox;
}

function assertErrorShape(body: any, code: string): void {
  assert.equal(body?.error?.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(typeof body.error.details, 'object');
}

async function countRows(harness: TestEngine, table: 'orders' | 'customers' | 'stock_movements' | 'loyalty_transactions' | 'outbox_events' | 'returns') {
  const row = await harness.engine.database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}

async function onHand(harness: TestEngine, sku: string, locationId: string): Promise<number> {
  const response = await harness.request('GET', `/v1/inventory?sku=${sku}`);
  assert.equal(response.status, 200);
  const level = response.body.data.find((row: { location_id: string }) => row.location_id === locationId);
  assert.ok(level, `a level for ${sku} at ${locationId}`);
  return level.on_hand;
}

async function withEngine(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]): Promise<TestEngine> {
  const harness = await startLockedTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

test('the fixtures carry real Shopify signatures: they verify over the exact bytes, and fail when one byte changes or the JSON is re-serialised', () => {
  for (const path of shopifyFixtures) {
    const raw = readFixture(path);
    const hmac = fixtureHeaders(path)['X-Shopify-Hmac-Sha256'];
    assert.ok(hmac, `${path} has a signature`);
    assert.equal(verifyShopifySignature(fixtureShopifySecret, raw, hmac), true, `${path} verifies as delivered`);

    const oneByteChanged = Buffer.from(raw);
    const middle = Math.floor(oneByteChanged.length / 2);
    oneByteChanged[middle] = oneByteChanged[middle]! ^ 0x01;
    assert.equal(verifyShopifySignature(fixtureShopifySecret, oneByteChanged, hmac), false, `${path} with one byte changed`);

    const reserialised = Buffer.from(JSON.stringify(JSON.parse(raw.toString('utf8'))));
    assert.notDeepEqual(reserialised, raw);
    assert.equal(verifyShopifySignature(fixtureShopifySecret, reserialised, hmac), false, `${path} re-serialised`);

    assert.equal(verifyShopifySignature('another-secret', raw, hmac), false, `${path} with another secret`);
    assert.equal(verifyShopifySignature(fixtureShopifySecret, raw, ''), false, `${path} with an empty signature`);
    assert.equal(verifyShopifySignature(fixtureShopifySecret, raw, 'not base64 at all!'), false, `${path} with garbage`);
  }
});

for (const dialect of DIALECTS) {
  test(`[${dialect}] a Shopify webhook with a wrong HMAC is refused with 401 and nothing is stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = readFixture('shopify/orders-create.json');

    const response = await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Hmac-Sha256': signShopifyBody('not-the-merchant-secret', body) });

    assert.equal(response.status, 401);
    assertErrorShape(response.body, 'connectors.shopify.unauthenticated');
    assert.equal(response.body.error.details.header, 'X-Shopify-Hmac-Sha256');
    assert.deepEqual(await inboxEvents(harness), []);
    assert.deepEqual(await inboxCounts(harness), {});
    await harness.engine.worker.drain();
    assert.equal(await countRows(harness, 'orders'), 0, 'nothing was applied either');
  });

  test(`[${dialect}] a Shopify webhook without an HMAC header is refused with 401 and nothing is stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = readFixture('shopify/orders-create.json');
    const unsigned: Record<string, string> = { ...fixtureHeaders('shopify/orders-create.json'), 'X-Shopify-Shop-Domain': testShopDomain };
    delete unsigned['X-Shopify-Hmac-Sha256'];

    const response = await postWebhook(harness, '/webhooks/shopify', unsigned, body);

    assert.equal(response.status, 401);
    assertErrorShape(response.body, 'connectors.shopify.unauthenticated');
    assert.deepEqual(await inboxEvents(harness), []);
  });

  test(`[${dialect}] a Shopify webhook from a shop no merchant connected is refused with 401 and nothing is stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = readFixture('shopify/orders-create.json');

    // Signed correctly with the demo's secret, so only the unknown shop can be the reason.
    const response = await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Shop-Domain': 'someone-else.myshopify.com', 'X-Shopify-Hmac-Sha256': signShopifyBody(testShopifySecret, body) });
    const withoutDomain = await postWebhook(harness, '/webhooks/shopify', { 'Content-Type': 'application/json', 'X-Shopify-Topic': 'orders/create', 'X-Shopify-Webhook-Id': 'no-domain', 'X-Shopify-Hmac-Sha256': signShopifyBody(testShopifySecret, body) }, body);

    assert.equal(response.status, 401);
    assertErrorShape(response.body, 'connectors.shopify.unauthenticated');
    assert.equal(withoutDomain.status, 401);
    assertErrorShape(withoutDomain.body, 'connectors.shopify.unauthenticated');
    assert.deepEqual(await inboxEvents(harness), []);
  });

  test(`[${dialect}] a correctly signed Shopify webhook whose body is not JSON is refused with 400 request.malformed_json and nothing is stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = Buffer.from('{"id": 820982911946154508, "line_items": [');

    const response = await postWebhook(harness, '/webhooks/shopify', signedShopifyHeaders(body), body);

    assert.equal(response.status, 400);
    assertErrorShape(response.body, 'request.malformed_json');
    assert.deepEqual(await inboxEvents(harness), []);
  });

  test(`[${dialect}] a signed Shopify webhook without a topic or webhook id is refused with 400 naming the header, and nothing is stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = readFixture('shopify/orders-create.json');
    const { 'X-Shopify-Topic': _topic, ...withoutTopic } = signedShopifyHeaders(body);
    const { 'X-Shopify-Webhook-Id': _webhookId, ...withoutWebhookId } = signedShopifyHeaders(body);

    const noTopic = await postWebhook(harness, '/webhooks/shopify', withoutTopic, body);
    const noWebhookId = await postWebhook(harness, '/webhooks/shopify', withoutWebhookId, body);

    assert.equal(noTopic.status, 400);
    assertErrorShape(noTopic.body, 'connectors.shopify.missing_header');
    assert.equal(noTopic.body.error.details.header, 'X-Shopify-Topic');
    assert.equal(noWebhookId.status, 400);
    assertErrorShape(noWebhookId.body, 'connectors.shopify.missing_header');
    assert.equal(noWebhookId.body.error.details.header, 'X-Shopify-Webhook-Id');
    assert.deepEqual(await inboxEvents(harness), []);
  });

  test(`[${dialect}] a webhook body over 1 MiB is refused with 413 and the error shape, and nothing is stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const padding = 'x'.repeat(1024 * 1024);
    const body = Buffer.from(JSON.stringify({ id: 1, note: padding }));

    const shopify = await postWebhook(harness, '/webhooks/shopify', signedShopifyHeaders(body), body);
    const square = await postWebhook(harness, '/webhooks/square', { ...fixtureHeaders('square/payment.updated.json') }, body);

    assert.equal(shopify.status, 413);
    assertErrorShape(shopify.body, 'request.too_large');
    assert.equal(shopify.body.error.details.limit_bytes, 1024 * 1024);
    assert.equal(square.status, 413);
    assertErrorShape(square.body, 'request.too_large');
    assert.deepEqual(await inboxEvents(harness), []);
  });

  test(`[${dialect}] a signed webhook for a topic Continuum does not apply is acknowledged, kept, marked ignored (not failed) and changes nothing else`, async (t) => {
    const harness = await withEngine(t, dialect);
    await harness.engine.worker.drain(); // the opening stock push, so only the webhook's effects remain
    const before = {
      orders: await countRows(harness, 'orders'), customers: await countRows(harness, 'customers'), movements: await countRows(harness, 'stock_movements'),
      loyalty: await countRows(harness, 'loyalty_transactions'), outbox: await countRows(harness, 'outbox_events'), fakeRequests: harness.fake.requests.length,
      wallet: await onHand(harness, 'SKU-WALLET-01', harness.demo.store.id),
    };
    // A real Shopify topic that has nothing to do with customers, points, stock or orders.
    const topic = 'themes/publish';
    assert.ok(!(appliedShopifyTopics as readonly string[]).includes(topic), `${topic} is not applied; pick another topic for this test if it ever is`);
    const body = Buffer.from(JSON.stringify({ id: 828155753, name: 'Comfort', role: 'main', previewable: true, processing: false }));

    const response = await postWebhook(harness, '/webhooks/shopify', signedShopifyHeaders(body, { 'X-Shopify-Topic': topic, 'X-Shopify-Webhook-Id': 'themes-publish-1' }), body);
    assert.deepEqual(response, { status: 200, body: { received: true, duplicate: false } });
    const [stored, ...others] = await inboxEvents(harness);
    assert.equal(others.length, 0);
    assert.equal(stored?.topic, topic);
    assert.equal(stored?.status, 'received');
    assert.equal(stored?.payload, body.toString('utf8'), 'the raw body is kept as received');

    await harness.engine.worker.drain();

    const [after] = await inboxEvents(harness);
    assert.equal(after?.status, 'ignored');
    assert.equal(after?.attempts, 0, 'not a failure, so never retried');
    assert.deepEqual(await inboxCounts(harness), { ignored: 1 });
    const exceptions = await harness.request('GET', '/v1/exceptions');
    assert.deepEqual(exceptions.body.data, []);
    assert.deepEqual({
      orders: await countRows(harness, 'orders'), customers: await countRows(harness, 'customers'), movements: await countRows(harness, 'stock_movements'),
      loyalty: await countRows(harness, 'loyalty_transactions'), outbox: await countRows(harness, 'outbox_events'), fakeRequests: harness.fake.requests.length,
      wallet: await onHand(harness, 'SKU-WALLET-01', harness.demo.store.id),
    }, before);
  });

  test(`[${dialect}] a refund delivered before its order is kept and retried, and applied once the order has arrived: 224 − 81 = 143 points and the unit restocked`, async (t) => {
    const harness = await withEngine(t, dialect);
    const { engine, demo } = harness;
    const db = engine.database.db;
    await engine.worker.drain();

    assert.equal((await harness.deliverShopifyFixture('shopify/refunds-create.json')).status, 200);
    await engine.worker.drain();

    const [refundEvent] = await inboxEvents(harness);
    assert.ok(refundEvent);
    assert.equal(refundEvent.status, 'received', 'still pending, to be retried');
    assert.equal(refundEvent.attempts, 1);
    assert.match(refundEvent.error ?? '', /orders\.not_yet_known/);
    assert.ok(refundEvent.available_at > new Date().toISOString(), 'scheduled later with backoff');
    assert.equal(await countRows(harness, 'returns'), 0, 'no effect yet');
    assert.equal(await countRows(harness, 'orders'), 0);

    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
    await engine.worker.drain();
    const [jane] = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe%40example.com')).body.data;
    assert.equal(jane.loyalty.available, 224);
    assert.equal(await onHand(harness, 'SKU2006-001', demo.warehouse.id), 9);
    assert.equal((await inboxEvents(harness)).find((event) => event.topic === 'refunds/create')?.status, 'received', 'the refund waits for its backoff, not for the order');

    // Time passes: the refund's retry falls due.
    await db.updateTable('inbox_events').set({ available_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', refundEvent.id).execute();
    await engine.worker.drain();

    const refundAfter = (await inboxEvents(harness)).find((event) => event.id === refundEvent.id);
    assert.equal(refundAfter?.status, 'processed');
    const loyalty = (await harness.request('GET', `/v1/customers/${jane.id}/loyalty`)).body.data;
    assert.equal(loyalty.available, 143, '224 − the 81 points the refunded line earned');
    assert.equal((await sumLoyaltyEntries(db, demo.merchant.id, jane.id)).available, 143);
    assert.equal(await onHand(harness, 'SKU2006-001', demo.warehouse.id), 10, 'the refunded unit is back at the warehouse');
    assert.equal(await onHand(harness, 'SKU2006-020', demo.warehouse.id), 4, 'the other line is untouched');
    const order = (await harness.request('GET', `/v1/orders/${jane.orders[0].id}`)).body.data;
    assert.equal(order.refunded.amount_minor, 8747);
    assert.deepEqual((await harness.request('GET', '/v1/exceptions')).body.data, []);
  });

  test(`[${dialect}] a correctly signed Square notification is stored; a wrong signature gets 401 and stores nothing; a redelivery is a duplicate`, async (t) => {
    const harness = await withEngine(t, dialect);
    const path = 'square/payment.updated.json';
    const body = readFixture(path);
    const headers = fixtureHeaders(path);

    const wrong = await postWebhook(harness, '/webhooks/square', { ...headers, 'x-square-hmacsha256-signature': signSquareBody('not-the-signature-key', squareNotificationUrl, body) }, body);
    assert.equal(wrong.status, 401);
    assertErrorShape(wrong.body, 'connectors.square.unauthenticated');
    // Square signs the configured URL too: the right key over another URL is not a valid signature.
    const otherUrl = await postWebhook(harness, '/webhooks/square', { ...headers, 'x-square-hmacsha256-signature': signSquareBody(squareSignatureKey, 'https://example.com/other', body) }, body);
    assert.equal(otherUrl.status, 401);
    assert.equal(headers['x-square-hmacsha256-signature'], signSquareBody(squareSignatureKey, squareNotificationUrl, body), 'the fixture header is the real signature');
    const { 'x-square-hmacsha256-signature': _signature, ...unsigned } = headers;
    const missing = await postWebhook(harness, '/webhooks/square', unsigned, body);
    assert.equal(missing.status, 401);
    assertErrorShape(missing.body, 'connectors.square.unauthenticated');
    const tampered = Buffer.from(body.toString('utf8').replace('"amount": 100', '"amount": 900'));
    assert.notDeepEqual(tampered, body);
    assert.equal((await postWebhook(harness, '/webhooks/square', headers, tampered)).status, 401, 'the signature covers the body');
    assert.deepEqual(await inboxEvents(harness), []);

    const first = await postWebhook(harness, '/webhooks/square', headers, body);
    assert.deepEqual(first, { status: 200, body: { received: true, duplicate: false } });
    const [stored, ...others] = await inboxEvents(harness);
    assert.equal(others.length, 0);
    assert.equal(stored?.source, 'square');
    assert.equal(stored?.topic, 'payment.updated');
    assert.equal(stored?.delivery_id, '6a8f5f28-54a1-4eb0-a98a-3111513fd4fc');
    assert.equal(stored?.merchant_id, harness.demo.merchant.id);

    const again = await postWebhook(harness, '/webhooks/square', headers, body);
    assert.deepEqual(again, { status: 200, body: { received: true, duplicate: true } });
    assert.equal((await inboxEvents(harness)).length, 1);
  });
}
