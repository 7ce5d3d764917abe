import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../src/db/index.ts';
import { createMerchant, issueApiKey, revokeApiKey, type Merchant } from '../src/merchants/index.ts';
import { createTestClock, installClock, isoAfter, nowIso } from '../src/shared/clock.ts';
import { DIALECTS } from './support/databases.ts';
import { startLockedTestEngine } from './support/postgres-schema-lock.ts';
import { testAdminKey, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Two merchants on one engine: each key sees and changes only its own merchant's data, and a key
// that is missing, unknown, revoked, expired or of too small a scope gets nothing at all.

interface OtherMerchant {
  merchant: Merchant;
  adminKey: string;
  locationId: string;
}

interface DemoJane {
  customerId: string;
  orderId: string;
}

function assertError(response: { status: number; body: any }, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
  assert.equal(typeof response.body.error.message, 'string');
  assert.equal(typeof response.body.error.details, 'object');
}

async function withEngine(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]): Promise<TestEngine> {
  const harness = await startLockedTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

/** A second merchant with its own store and a product under the same SKU as one of the demo's. */
async function createOtherMerchant(harness: TestEngine): Promise<OtherMerchant> {
  const db = harness.engine.database.db;
  const merchant = await createMerchant(db, { name: 'Other Goods', currency: 'USD', defaultCountry: 'CA' });
  const { key: adminKey } = await issueApiKey(db, merchant.id, { name: 'other admin', scope: 'admin' });
  const location = await harness.request('POST', '/v1/locations', { key: adminKey, body: { name: 'Other Store', kind: 'store' } });
  assert.equal(location.status, 201, JSON.stringify(location.body));
  const product = await harness.request('POST', '/v1/products', { key: adminKey, body: { title: 'Other wallet', variants: [{ sku: 'SKU-WALLET-01', title: 'Other wallet', price_minor: 1000 }] } });
  assert.equal(product.status, 201, JSON.stringify(product.body));
  const received = await harness.request('POST', '/v1/inventory/receive', { key: adminKey, body: { location_id: location.body.data.id, sku: 'SKU-WALLET-01', quantity: 3 } });
  assert.equal(received.status, 200, JSON.stringify(received.body));
  return { merchant, adminKey, locationId: location.body.data.id };
}

/** Jane buys a wallet at the demo store, so the demo merchant has a customer and an order. */
async function recordJaneSale(harness: TestEngine): Promise<DemoJane> {
  const response = await harness.request('POST', '/v1/pos/sales', {
    key: testPosKey,
    body: { sale_id: 'R1-0001', location_id: harness.demo.store.id, customer: { email: 'jane.doe@example.com', phone: '(613) 555-0142', first_name: 'Jane', last_name: 'Doe' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return { customerId: response.body.data.order.customer_id, orderId: response.body.data.order.id };
}

/** What the demo merchant sees of its own data, read with its own key. */
async function demoView(harness: TestEngine, jane: DemoJane) {
  return {
    customer: (await harness.request('GET', `/v1/customers/${jane.customerId}`)).body,
    loyalty: (await harness.request('GET', `/v1/customers/${jane.customerId}/loyalty`)).body,
    order: (await harness.request('GET', `/v1/orders/${jane.orderId}`)).body,
    wallet: (await harness.request('GET', '/v1/inventory?sku=SKU-WALLET-01')).body,
    movements: (await harness.request('GET', '/v1/inventory/movements?sku=SKU-WALLET-01')).body,
    summer: (await harness.request('GET', '/v1/promotions/SUMMER10')).body,
    locations: (await harness.request('GET', '/v1/locations')).body,
  };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a second merchant's key cannot read the demo merchant's customers, orders, stock or setup`, async (t) => {
    const harness = await withEngine(t, dialect);
    const jane = await recordJaneSale(harness);
    const other = await createOtherMerchant(harness);
    const asOther = (url: string) => harness.request('GET', url, { key: other.adminKey });

    assertError(await asOther(`/v1/customers/${jane.customerId}`), 404, 'customers.not_found');
    assertError(await asOther(`/v1/customers/${jane.customerId}/loyalty`), 404, 'customers.not_found');
    assertError(await asOther(`/v1/orders/${jane.orderId}`), 404, 'orders.not_found');
    for (const q of ['jane.doe@example.com', '(613) 555-0142', 'Jane', 'jane doe']) {
      const lookup = await asOther(`/v1/customers/lookup?q=${encodeURIComponent(q)}`);
      assert.equal(lookup.status, 200);
      assert.deepEqual(lookup.body.data, [], `lookup ${q}`);
    }
    const wallet = await asOther('/v1/inventory?sku=SKU-WALLET-01');
    assert.deepEqual(wallet.body.data.map((level: { location_id: string; on_hand: number }) => [level.location_id, level.on_hand]), [[other.locationId, 3]], 'only its own level of the shared SKU');
    assert.deepEqual((await asOther('/v1/inventory?sku=SKU-BEANIE-01')).body.data, []);
    const movements = await asOther('/v1/inventory/movements?sku=SKU-WALLET-01');
    assert.ok(movements.body.data.every((movement: { location_id: string }) => movement.location_id === other.locationId));
    assert.deepEqual((await asOther('/v1/locations')).body.data.map((location: { id: string }) => location.id), [other.locationId]);
    assert.deepEqual((await asOther('/v1/products')).body.data.map((product: { title: string }) => product.title), ['Other wallet']);
    assert.deepEqual((await asOther('/v1/promotions')).body.data, []);
    assertError(await asOther('/v1/promotions/SUMMER10'), 404, 'promotions.not_found');
    assert.deepEqual((await asOther('/v1/rewards')).body.data, []);
    assert.deepEqual((await asOther('/v1/channels')).body.data, []);
    assert.deepEqual((await asOther('/v1/outbox')).body.data, []);
    assert.deepEqual((await asOther('/v1/exceptions')).body.data, []);
    const otherStatus = (await asOther('/v1/sync/status')).body.data;
    assert.deepEqual([otherStatus.inbox, otherStatus.outbox, otherStatus.circuits], [{}, {}, []]);

    // And the other way round: the demo's key does not see the other merchant's level.
    const demoWallet = await harness.request('GET', '/v1/inventory?sku=SKU-WALLET-01');
    assert.ok(demoWallet.body.data.every((level: { location_id: string }) => level.location_id !== other.locationId));
    assert.equal(demoWallet.body.data.length, 2);
  });

  test(`[${dialect}] the merges of another merchant's customer, or of an unknown id, are 404 customers.not_found like every customer route, not an empty list; the merchant's own merged and surviving profiles list the merge`, async (t) => {
    // The bug: GET /v1/customers/{id}/merges answered 200 with an empty list for any id it could not see.
    const harness = await withEngine(t, dialect);
    const jane = await recordJaneSale(harness);
    const other = await createOtherMerchant(harness);
    const sam = await harness.request('POST', '/v1/customers', { key: testPosKey, body: { email: 'sam@example.com', first_name: 'Sam' } });
    assert.ok(sam.status < 300, JSON.stringify(sam.body));
    const merged = await harness.request('POST', '/v1/customers/merge', { body: { survivor_id: jane.customerId, merged_id: sam.body.data.id, reason: 'same person' } });
    assert.ok(merged.status < 300, JSON.stringify(merged.body));

    const asOther = await harness.request('GET', `/v1/customers/${jane.customerId}/merges`, { key: other.adminKey });
    const unknown = await harness.request('GET', '/v1/customers/cus_never_existed/merges');

    assertError(asOther, 404, 'customers.not_found');
    assertError(unknown, 404, 'customers.not_found');
    const profileAsOther = await harness.request('GET', `/v1/customers/${jane.customerId}`, { key: other.adminKey });
    assert.deepEqual(asOther.body, profileAsOther.body, 'the same answer as the profile route: nothing shown, nothing hinted');
    for (const id of [jane.customerId, sam.body.data.id]) {
      const own = await harness.request('GET', `/v1/customers/${id}/merges`);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.deepEqual(own.body.data.map((merge: { survivor_id: string; merged_id: string }) => [merge.survivor_id, merge.merged_id]), [[jane.customerId, sam.body.data.id]]);
    }
  });

  test(`[${dialect}] a second merchant's key cannot change the demo merchant's stock, points, promotions or idempotency keys`, async (t) => {
    const harness = await withEngine(t, dialect);
    const jane = await recordJaneSale(harness);
    const other = await createOtherMerchant(harness);
    const before = await demoView(harness, jane);
    const asOther = (url: string, body: unknown, headers: Record<string, string> = {}) => harness.request('POST', url, { key: other.adminKey, body, headers });
    const wallet = [{ sku: 'SKU-WALLET-01', quantity: 1 }];

    assertError(await asOther('/v1/pos/sales', { sale_id: 'X-1', location_id: harness.demo.store.id, lines: wallet }), 404, 'locations.not_found');
    assertError(await asOther('/v1/pos/sales', { sale_id: 'X-2', location_id: other.locationId, customer: { customer_id: jane.customerId }, lines: wallet }), 404, 'customers.not_found');
    assertError(await asOther('/v1/pos/sales', { sale_id: 'X-3', location_id: other.locationId, lines: wallet, promotion_codes: ['SUMMER10'] }), 422, 'promotions.unknown_code');
    assertError(await asOther('/v1/pos/sales', { sale_id: 'X-4', location_id: other.locationId, customer: { email: 'someone@example.com' }, lines: wallet, rewards: ['5-OFF'] }), 422, 'loyalty.unknown_reward');
    assertError(await asOther('/v1/inventory/receive', { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', quantity: 100 }), 404, 'locations.not_found');
    assertError(await asOther('/v1/inventory/adjust', { location_id: harness.demo.warehouse.id, sku: 'SKU-WALLET-01', quantity: -5, reason: 'shrink' }), 404, 'locations.not_found');

    // Jane's email at the other merchant is another person's profile there, never hers.
    const ownSale = await asOther('/v1/pos/sales', { sale_id: 'R1-0001', location_id: other.locationId, customer: { email: 'jane.doe@example.com' }, lines: wallet }, { 'idempotency-key': 'shared-key-1' });
    assert.equal(ownSale.status, 201, JSON.stringify(ownSale.body));
    assert.notEqual(ownSale.body.data.order.customer_id, jane.customerId);
    assert.deepEqual([ownSale.body.data.loyalty.available, ownSale.body.data.loyalty.pending], [0, 10], 'its own program (default: 30 days pending): 10.00 earns 10 pending points, not added to Jane at the demo');

    // The same Idempotency-Key at the demo merchant is the demo's own key: a new sale, not a replay.
    const demoSale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, headers: { 'idempotency-key': 'shared-key-1' }, body: { sale_id: 'R1-0002', location_id: harness.demo.store.id, lines: wallet } });
    assert.equal(demoSale.status, 201, JSON.stringify(demoSale.body));
    assert.equal(demoSale.headers['idempotent-replayed'], undefined);

    const after = await demoView(harness, jane);
    assert.deepEqual({ ...after, wallet: undefined, movements: undefined }, { ...before, wallet: undefined, movements: undefined });
    const storeWallet = (view: typeof before) => view.wallet.data.find((level: { location_id: string }) => level.location_id === harness.demo.store.id).on_hand;
    assert.equal(storeWallet(after), storeWallet(before) - 1, 'only the demo\'s own second sale moved its stock');
    assert.equal(after.loyalty.data.available, 50);
  });

  test(`[${dialect}] a second merchant cannot connect the demo merchant's Shopify shop: 409 naming account_ref, and the demo's webhooks still verify`, async (t) => {
    // Regression: the unique constraint answered first, as a 500 internal.error.
    const harness = await withEngine(t, dialect);
    const other = await createOtherMerchant(harness);

    const takeover = await harness.request('POST', '/v1/channels', { key: other.adminKey, body: { channel: 'shopify', account_ref: 'JSMITH.myshopify.com', webhook_secret: 'the-other-merchants-secret' } });

    assertError(takeover, 409, 'merchants.duplicate_channel_account');
    assert.equal(takeover.body.error.details.field, 'account_ref');
    assert.deepEqual((await harness.request('GET', '/v1/channels', { key: other.adminKey })).body.data, []);
    const delivered = await harness.deliverShopifyFixture('shopify/orders-create.json');
    assert.deepEqual(delivered, { status: 200, body: { received: true, duplicate: false } }, 'the demo secret still verifies');
    const events = await harness.engine.database.db.selectFrom('inbox_events').select('merchant_id').execute();
    assert.deepEqual(events, [{ merchant_id: harness.demo.merchant.id }]);
  });

  test(`[${dialect}] a request without a key, with a malformed header, or with an unknown key gets 401 auth.unauthenticated`, async (t) => {
    const harness = await withEngine(t, dialect);
    const url = '/v1/customers/lookup?q=jane.doe%40example.com';
    assertError(await harness.request('GET', url, { key: '' }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', url, { key: '', headers: { authorization: `Basic ${Buffer.from('jane:secret').toString('base64')}` } }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', url, { key: '', headers: { authorization: 'Bearer' } }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', url, { key: 'ck_admin_this_key_was_never_issued' }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', url, { key: `${testAdminKey}x` }), 401, 'auth.unauthenticated');
    assertError(await harness.request('POST', '/v1/pos/sales', { key: '', body: { sale_id: 'S-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } }), 401, 'auth.unauthenticated');
    assert.equal((await harness.request('GET', url)).status, 200, 'the same request with the demo key works');
  });

  test(`[${dialect}] a request without a key gets 401, and a key of too small a scope 403, before its body or query is validated`, async (t) => {
    // Regression: authentication ran after validation, so a request without a key learned the body's schema from a 400.
    const harness = await withEngine(t, dialect);
    assertError(await harness.request('POST', '/v1/pos/sales', { key: '', body: {} }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', '/v1/customers/lookup', { key: '' }), 401, 'auth.unauthenticated');
    const readKey = await issueApiKey(harness.engine.database.db, harness.demo.merchant.id, { name: 'reporting', scope: 'read' });
    assertError(await harness.request('POST', '/v1/pos/sales', { key: readKey.key, body: {} }), 403, 'auth.forbidden');
    const malformed = await harness.engine.server.inject({ method: 'POST', url: '/v1/pos/sales', headers: { 'content-type': 'application/json' }, payload: '{"sale_id":' });
    assertError({ status: malformed.statusCode, body: JSON.parse(malformed.body) }, 401, 'auth.unauthenticated');
  });

  test(`[${dialect}] a revoked key and an expired key get 401; a key expiring later still works`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    const url = '/v1/locations';
    const revoked = await issueApiKey(db, merchantId, { name: 'old register', scope: 'pos' });
    const expired = await issueApiKey(db, merchantId, { name: 'temporary', scope: 'admin', expiresAt: '2000-01-01T00:00:00.000Z' });
    const later = await issueApiKey(db, merchantId, { name: 'contractor', scope: 'read', expiresAt: '2999-01-01T00:00:00.000Z' });

    assert.equal((await harness.request('GET', url, { key: revoked.key })).status, 200, 'works before it is revoked');
    await revokeApiKey(db, merchantId, revoked.id);
    assertError(await harness.request('GET', url, { key: revoked.key }), 401, 'auth.unauthenticated');
    assertError(await harness.request('POST', '/v1/pos/sales', { key: revoked.key, body: { sale_id: 'S-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', url, { key: expired.key }), 401, 'auth.unauthenticated');
    assert.equal((await harness.request('GET', url, { key: later.key })).status, 200);

    // Another merchant cannot revoke the demo's key.
    const other = await createMerchant(db, { name: 'Other Goods', currency: 'USD', defaultCountry: 'CA' });
    await revokeApiKey(db, other.id, later.id);
    assert.equal((await harness.request('GET', url, { key: later.key })).status, 200);
  });

  test(`[${dialect}] a key revoked, expired or narrowed by another process is refused on the very next request, and one that expires meanwhile too`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    // Another process on the same database: the CLI, or a second engine.
    const other = openDatabase(harness.databaseLocation.url, harness.databaseLocation.postgresSchema ? { postgresSchema: harness.databaseLocation.postgresSchema } : {});
    t.after(() => other.close());
    const revoked = await issueApiKey(db, merchantId, { name: 'register 1', scope: 'pos' });
    const lapsed = await issueApiKey(db, merchantId, { name: 'register 2', scope: 'pos' });
    const narrowed = await issueApiKey(db, merchantId, { name: 'integration', scope: 'admin' });
    const expiring = await issueApiKey(db, merchantId, { name: 'contractor', scope: 'read', expiresAt: isoAfter(60 * 60 * 1000) });
    const url = '/v1/locations';
    for (const key of [revoked, lapsed, narrowed, expiring]) {
      // Twice: on SQLite the second request is answered from the key the first one read.
      for (let request = 0; request < 2; request += 1) assert.equal((await harness.request('GET', url, { key: key.key })).status, 200);
    }

    await other.db.updateTable('api_keys').set({ revoked_at: nowIso() }).where('id', '=', revoked.id).execute();
    assertError(await harness.request('GET', url, { key: revoked.key }), 401, 'auth.unauthenticated');
    await other.db.updateTable('api_keys').set({ expires_at: '2001-01-01T00:00:00.000Z' }).where('id', '=', lapsed.id).execute();
    assertError(await harness.request('GET', url, { key: lapsed.key }), 401, 'auth.unauthenticated');
    await other.db.updateTable('api_keys').set({ scope: 'read' }).where('id', '=', narrowed.id).execute();
    assertError(await harness.request('POST', url, { key: narrowed.key, body: { name: 'Pop-up', kind: 'store' } }), 403, 'auth.forbidden');
    assert.equal((await harness.request('GET', url, { key: narrowed.key })).status, 200, 'it still reads');

    assert.equal((await harness.request('GET', url, { key: expiring.key })).status, 200);
    const clock = createTestClock();
    t.after(installClock(clock));
    clock.advance(2 * 60 * 60 * 1000);
    assertError(await harness.request('GET', url, { key: expiring.key }), 401, 'auth.unauthenticated');
  });

  test(`[${dialect}] a read key posting a sale gets 403 auth.forbidden and writes nothing; a pos key creating a location gets 403`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const { key: readKey } = await issueApiKey(db, harness.demo.merchant.id, { name: 'reporting', scope: 'read' });
    const sale = { sale_id: 'S-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] };
    const ordersBefore = await db.selectFrom('orders').select('id').execute();

    const forbiddenSale = await harness.request('POST', '/v1/pos/sales', { key: readKey, body: sale });
    assertError(forbiddenSale, 403, 'auth.forbidden');
    assert.deepEqual(forbiddenSale.body.error.details, { required_scope: 'pos', key_scope: 'read' });
    assert.deepEqual(await db.selectFrom('orders').select('id').execute(), ordersBefore);
    assert.equal((await harness.request('GET', '/v1/customers/lookup?q=jane', { key: readKey })).status, 200, 'a read key reads');

    const forbiddenLocation = await harness.request('POST', '/v1/locations', { key: testPosKey, body: { name: 'Pop-up', kind: 'store' } });
    assertError(forbiddenLocation, 403, 'auth.forbidden');
    assert.deepEqual(forbiddenLocation.body.error.details, { required_scope: 'admin', key_scope: 'pos' });
    assert.equal((await harness.request('GET', '/v1/locations')).body.data.length, 2, 'no location was created');
    assertError(await harness.request('POST', '/v1/inventory/receive', { key: testPosKey, body: { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', quantity: 5 } }), 403, 'auth.forbidden');
    assertError(await harness.request('GET', '/v1/outbox', { key: testPosKey }), 403, 'auth.forbidden');
    assertError(await harness.request('GET', '/v1/channels', { key: readKey }), 403, 'auth.forbidden');
  });

  test(`[${dialect}] a pos key looks up customers and records sales`, async (t) => {
    const harness = await withEngine(t, dialect);
    const jane = await recordJaneSale(harness); // recorded with the pos key
    const lookup = await harness.request('GET', '/v1/customers/lookup?q=613.555.0142', { key: testPosKey });
    assert.equal(lookup.status, 200);
    assert.deepEqual(lookup.body.data.map((customer: { id: string }) => customer.id), [jane.customerId]);
    assert.equal((await harness.request('GET', `/v1/customers/${jane.customerId}`, { key: testPosKey })).status, 200);
    assert.equal((await harness.request('GET', `/v1/orders/${jane.orderId}`, { key: testPosKey })).status, 200);
  });
}
