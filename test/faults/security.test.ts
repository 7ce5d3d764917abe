import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { defaultWebhookReplayWindows } from '../../src/config.ts';
import { signShopifyBody } from '../../src/connectors/shopify/index.ts';
import { signSquareBody } from '../../src/connectors/square/index.ts';
import type { Db, DialectName } from '../../src/db/index.ts';
import { connectChannel, createMerchant, issueApiKey, revokeApiKey } from '../../src/merchants/index.ts';
import { createTestClock, installClock } from '../../src/shared/clock.ts';
import { recordCustomerDataRequest } from '../../src/commands/index.ts';
import { raiseException } from '../../src/sync/index.ts';
import { DIALECTS } from '../support/databases.ts';
import { readFixture, startTestEngine, testAdminKey, testPosKey, testShopDomain, testShopifySecret, testSquareMerchantRef, testSquareNotificationUrl, testSquareSignatureKey, type TestEngine } from '../support/engine-harness.ts';
import { countEveryTable, describeCountChanges, listTables, shopifyOrderBody, signedShopifyHeaders } from './fault-support.ts';
import { exampleOf, fillPath, pathParameterNames, readOperations, type ExampleHints, type RouteOperation } from './openapi-routes.ts';

// Issue #9: security at every route, the routes read from GET /openapi.json (each operation states
// its authentication in `x-continuum-auth`), so that a route added later is held to the same rules:
// - every route needs a key of a stated scope, except a short list of known public routes;
// - no key, a malformed Authorization header, an unknown, a revoked or an expired key: 401
//   `auth.unauthenticated`; a key of too small a scope (read at a pos or admin route, pos at an
//   admin route): 403 `auth.forbidden`; none of them writes anything;
// - another merchant's key, given the demo merchant's ids in the path: 404 (never 403, which would
//   confirm the id exists), never the demo's data, never a change to it; and at list and search
//   routes none of the demo's ids;
// - webhooks: a bad HMAC, another merchant's secret, a Shopify delivery whose X-Shopify-Triggered-At
//   is outside the replay window and a Square notification replayed (same signed bytes) after its
//   window: 401, nothing stored.

const testTimeoutMs = 180_000;

/** Routes that take no API key, and why. A new public route fails the first test until it is listed here. */
const knownPublicRoutes: Record<string, string> = {
  'GET /healthz': 'liveness for load balancers; says only ok or 503',
  'GET /metrics': 'Prometheus scraping; counters and gauges, no merchant data',
  'POST /webhooks/shopify': 'authenticated by the HMAC of the shop\'s secret over the raw body',
  'POST /webhooks/square': 'authenticated by the HMAC of the seller\'s key over URL and body',
  'POST /v1/sessions': 'console sign-in: authenticated by email and password',
  'GET /v1/sessions/current': 'console: authenticated by the session cookie',
  'DELETE /v1/sessions/current': 'console sign-out: authenticated by the session cookie',
};

/** Bodies for routes whose generated example is not a valid request (so the handler, not the validation, answers). */
const bodyOverrides: Record<string, unknown> = {
  'PATCH /v1/promotions/{code}': { name: 'Renamed by the security test' },
};

/** Routes with a path parameter where the other merchant's refusal cannot be contrasted with the demo's own success, and why. */
const isolationShownOtherwise: Record<string, string> = {
  'POST /v1/channels/shopify/locations/{shopify_location_id}/map': 'its parameter is a Shopify id, not a merchant\'s resource; the location it maps is the caller\'s own',
};

const scopesAllowed: Record<string, string[]> = { 'api_key:read': ['read', 'pos', 'admin'], 'api_key:pos': ['pos', 'admin'], 'api_key:admin': ['admin'] };

interface Fixture {
  harness: TestEngine;
  operations: RouteOperation[];
  tables: string[];
  keys: Record<'read' | 'pos' | 'admin' | 'revoked' | 'expired' | 'otherAdmin', string>;
  other: { merchantId: string; locationId: string };
  hints: ExampleHints;
  /** Values of the demo merchant's own rows (ids and codes), to put in paths. */
  demoValues: string[];
}

function isErrorShape(body: any, code: string): boolean {
  return body?.error?.code === code && typeof body.error.message === 'string' && typeof body.error.details === 'object';
}

async function send(harness: TestEngine, operation: RouteOperation, url: string, headers: Record<string, string>, body: unknown) {
  const withBody = operation.method !== 'GET' && operation.method !== 'DELETE' && body !== undefined;
  const response = await harness.engine.server.inject({
    method: operation.method as 'GET', url, headers: { ...headers, ...(withBody ? { 'content-type': 'application/json' } : {}) }, ...(withBody ? { payload: JSON.stringify(body) } : {}),
  });
  let parsed: any = response.body;
  try { parsed = JSON.parse(response.body); } catch { /* not JSON */ }
  return { status: response.statusCode, body: parsed, text: response.body };
}

/** Demo data of many kinds, so that most routes with a path parameter have a real id to be refused. */
async function seedDemoData(harness: TestEngine): Promise<ExampleHints> {
  const post = async (path: string, body: unknown, key = testAdminKey) => {
    const response = await harness.request('POST', path, { key, body });
    assert.ok(response.status < 300, `${path}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.data;
  };
  const store = harness.demo.store.id;
  const jane = { email: 'jane.doe@example.com', phone: '(613) 555-0142', first_name: 'Jane', last_name: 'Doe' };
  const sale = await post('/v1/pos/sales', { sale_id: 'SEC-1', location_id: store, customer: jane, lines: [{ sku: 'SKU-WALLET-01', quantity: 3 }] }, testPosKey);
  const janeId: string = sale.order.customer_id;
  const other = await post('/v1/pos/sales', { sale_id: 'SEC-2', location_id: store, customer: { email: 'sam@example.com', first_name: 'Sam' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] }, testPosKey);
  await post('/v1/returns', { order_id: sale.order.id, return_ref: 'SEC-R1', lines: [{ order_line_id: sale.order.lines[0].id, quantity: 1 }], refund_method: 'store_credit' }, testPosKey);
  await post('/v1/holds', { location_id: store, sku: 'SKU-BEANIE-01', quantity: 1 }, testPosKey);
  await post('/v1/pickups', { sale_id: 'SEC-PICKUP', location_id: store, customer: { email: 'jane.doe@example.com' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] }, testPosKey);
  await post(`/v1/customers/${janeId}/memberships`, { name: 'Club', kind: 'invited' });
  await post(`/v1/customers/${janeId}/rewards/5-OFF/redeem`, {}, testPosKey);
  await post('/v1/webhook-subscriptions', { url: 'https://example.com/hooks', event_types: ['loyalty.points_earned'] });
  await post('/v1/customers/merge', { survivor_id: janeId, merged_id: other.order.customer_id, reason: 'security test' });
  await harness.engine.database.db.transaction().execute((tx) => recordCustomerDataRequest(tx, harness.demo.merchant, { source: 'shopify', requestRef: 'security-test', subject: { channelId: null, email: 'jane.doe@example.com', phone: null }, ordersRequested: [] }));
  await raiseException(harness.engine.database.db, harness.demo.merchant.id, { kind: 'channel_drift', dedupeKey: 'security-test', subject: 'SKU-WALLET-01', details: {} });
  const referral = await harness.request('GET', `/v1/customers/${janeId}/referral-code`, { key: testPosKey });
  if (referral.status === 200) await harness.request('POST', '/v1/referrals', { key: testPosKey, body: { code: referral.body.data.code, friend: { email: 'friend@example.com', first_name: 'Fran' } } });
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Triggered-At': new Date().toISOString() })).status, 200);
  await harness.engine.worker.drain();
  return {
    location_id: store, sku: 'SKU-WALLET-01', customer_id: janeId, order_id: sale.order.id, order_line_id: sale.order.lines[0].id, survivor_id: janeId, merged_id: other.order.customer_id,
    email: 'jane.doe@example.com', owner: 'security@example.com', resolution: 'checked', reason: 'checked', note: 'checked', name: 'Checked', url: 'https://example.com/other-hooks',
  };
}

/** The values of the demo merchant's rows that a path could name: every `id` and `code` column, a few of each table. */
async function listDemoValues(db: Db, dialect: DialectName, tables: string[], merchantId: string): Promise<string[]> {
  const values = new Set<string>();
  for (const table of tables) {
    const columns = dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(db)).rows.map((row) => row.name)
      : (await sql<{ name: string }>`select column_name as name from information_schema.columns where table_schema = current_schema() and table_name = ${table}`.execute(db)).rows.map((row) => row.name);
    if (!columns.includes('merchant_id') || table === 'merchants') continue;
    for (const column of ['id', 'code', 'customer_id'].filter((name) => columns.includes(name))) {
      const rows = await sql<{ value: string | null }>`select ${sql.ref(column)} as value from ${sql.table(table)} where merchant_id = ${merchantId} and ${sql.ref(column)} is not null limit 3`.execute(db);
      for (const row of rows.rows) if (row.value) values.add(String(row.value));
    }
  }
  return [...values];
}

/** Every row the demo merchant owns, as one text, to prove nothing of it changed. */
async function snapshotMerchantRows(db: Db, tables: string[], merchantId: string): Promise<string> {
  const parts: string[] = [];
  for (const table of tables) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)} where merchant_id = ${merchantId}`.execute(db).catch(() => undefined);
    if (rows) parts.push(`${table}:${JSON.stringify(rows.rows.map((row) => JSON.stringify(row)).sort())}`);
  }
  return parts.join('\n');
}

async function prepare(dialect: DialectName, t: TestContext): Promise<Fixture> {
  const harness = await startTestEngine(dialect, { webhookReplayWindows: defaultWebhookReplayWindows });
  t.after(() => harness.dispose());
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  const hints = await seedDemoData(harness);
  const revoked = await issueApiKey(db, merchantId, { name: 'revoked admin', scope: 'admin' });
  await revokeApiKey(db, merchantId, revoked.id);
  const expired = await issueApiKey(db, merchantId, { name: 'expired admin', scope: 'admin', expiresAt: '2020-01-01T00:00:00.000Z' });
  const read = await issueApiKey(db, merchantId, { name: 'read', scope: 'read' });
  const otherMerchant = await createMerchant(db, { name: 'Other Goods', currency: 'USD', defaultCountry: 'CA' });
  const otherAdmin = await issueApiKey(db, otherMerchant.id, { name: 'other admin', scope: 'admin' });
  const location = await harness.request('POST', '/v1/locations', { key: otherAdmin.key, body: { name: 'Other Store', kind: 'store' } });
  await connectChannel(db, otherMerchant.id, { channel: 'shopify', accountRef: 'other-goods.myshopify.com', webhookSecret: 'the-other-merchants-secret' });
  const tables = await listTables(db, dialect);
  return {
    harness, operations: await readOperations(harness), tables,
    keys: { read: read.key, pos: testPosKey, admin: testAdminKey, revoked: revoked.key, expired: expired.key, otherAdmin: otherAdmin.key },
    other: { merchantId: otherMerchant.id, locationId: location.body.data.id }, hints,
    demoValues: await listDemoValues(db, dialect, tables, merchantId),
  };
}

function urlOf(operation: RouteOperation, hints: ExampleHints, pathValue: (name: string) => string): string {
  const path = fillPath(operation.path, pathValue);
  const query = operation.parameters.filter((parameter) => parameter.in === 'query' && parameter.required)
    .map((parameter) => `${parameter.name}=${encodeURIComponent(String(exampleOf(parameter.schema, hints, parameter.name)))}`);
  return query.length > 0 ? `${path}?${query.join('&')}` : path;
}

const keyed = (fixture: Fixture) => fixture.operations.filter((operation) => operation.auth.startsWith('api_key:'));

for (const dialect of DIALECTS) {
  test(`[${dialect}] every route in /openapi.json states its authentication: an API key of a scope, or public and on the known list`, async (t) => {
    const fixture = await prepare(dialect, t);
    const unknown = fixture.operations.filter((operation) => operation.auth !== 'public' && !(operation.auth in scopesAllowed)).map((operation) => `${operation.name}: ${operation.auth}`);
    assert.deepEqual(unknown, [], 'every route states an authentication this test knows');
    const publicRoutes = fixture.operations.filter((operation) => operation.auth === 'public').map((operation) => operation.name).sort();
    assert.deepEqual(publicRoutes.filter((route) => !(route in knownPublicRoutes)), [], 'a public route not on the known list: give it a scope, or list it with the reason it needs none');
    assert.ok(keyed(fixture).length >= 60, `${keyed(fixture).length} routes need a key`);
  });

  test(`[${dialect}] at every route that needs a key: none, a malformed header, an unknown, a revoked or an expired key get 401; a key of too small a scope 403; nothing is written`, { timeout: testTimeoutMs }, async (t) => {
    const fixture = await prepare(dialect, t);
    const db = fixture.harness.engine.database.db;
    const problems: string[] = [];
    let requests = 0;
    for (const operation of keyed(fixture)) {
      const url = urlOf(operation, fixture.hints, (name) => String(fixture.hints[name === 'id' ? 'customer_id' : name] ?? 'x'));
      const body = operation.bodySchema ? exampleOf(operation.bodySchema, fixture.hints) : undefined;
      const before = await countEveryTable(db, fixture.tables);
      const denials: [string, Record<string, string>, number, string][] = [
        ['no key', {}, 401, 'auth.unauthenticated'],
        ['Basic credentials', { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, 401, 'auth.unauthenticated'],
        ['an unknown key', { authorization: 'Bearer ck_admin_never_issued_to_anyone' }, 401, 'auth.unauthenticated'],
        ['a revoked admin key', { authorization: `Bearer ${fixture.keys.revoked}` }, 401, 'auth.unauthenticated'],
        ['an expired admin key', { authorization: `Bearer ${fixture.keys.expired}` }, 401, 'auth.unauthenticated'],
        ...(['read', 'pos'] as const).filter((scope) => !scopesAllowed[operation.auth]!.includes(scope))
          .map((scope): [string, Record<string, string>, number, string] => [`a ${scope} key`, { authorization: `Bearer ${fixture.keys[scope]}` }, 403, 'auth.forbidden']),
      ];
      for (const [what, headers, status, code] of denials) {
        requests += 1;
        const answer = await send(fixture.harness, operation, url, headers, body);
        if (answer.status !== status || !isErrorShape(answer.body, code)) problems.push(`${operation.name} with ${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
      }
      const changes = describeCountChanges(before, await countEveryTable(db, fixture.tables));
      if (changes.length > 0) problems.push(`${operation.name}: refused requests wrote ${changes.join(', ')}`);
    }
    t.diagnostic(`${requests} refused requests at ${keyed(fixture).length} routes`);
    assert.deepEqual(problems, []);
  });

  test(`[${dialect}] another merchant's key at every route with a path parameter, given each of the demo merchant's ids: 404, never 403, never the demo's data, nothing of the demo's changed`, { timeout: testTimeoutMs }, async (t) => {
    const fixture = await prepare(dialect, t);
    const db = fixture.harness.engine.database.db;
    const merchantId = fixture.harness.demo.merchant.id;
    const otherHints = { ...fixture.hints, location_id: fixture.other.locationId };
    const withPath = keyed(fixture).filter((operation) => pathParameterNames(operation.path).length > 0);
    const before = await snapshotMerchantRows(db, fixture.tables, merchantId);
    const problems: string[] = [];
    const refusedAsOther = new Set<string>();
    const answeredEmpty = new Set<string>();
    for (const operation of withPath) {
      const body = bodyOverrides[operation.name] ?? (operation.bodySchema ? exampleOf(operation.bodySchema, otherHints) : undefined);
      for (const value of fixture.demoValues) {
        const answer = await send(fixture.harness, operation, urlOf(operation, otherHints, () => value), { authorization: `Bearer ${fixture.keys.otherAdmin}` }, body);
        const leaked = fixture.demoValues.filter((demoValue) => demoValue !== value && demoValue.length > 6 && answer.text.includes(demoValue));
        // A list under a parent the caller cannot see may answer an empty 200 (nothing confirmed, nothing shown).
        const emptyList = answer.status === 200 && answer.text === '{"data":[]}';
        if ((answer.status < 300 && !emptyList) || answer.status === 403 || answer.status >= 500) problems.push(`${operation.name} with the demo's ${value}: ${answer.status} ${answer.text.slice(0, 200)}`);
        if (emptyList) answeredEmpty.add(operation.name);
        if (leaked.length > 0) problems.push(`${operation.name} with the demo's ${value} shows the demo's ${leaked.join(', ')}`);
        if (answer.status === 404) refusedAsOther.add(`${operation.name} ${value}`);
      }
    }
    assert.equal(await snapshotMerchantRows(db, fixture.tables, merchantId), before, 'nothing of the demo merchant changed');
    // The control: the same requests with the demo's own key find what the other merchant's 404 hid.
    const hidden = new Map<string, number>();
    for (const operation of withPath) {
      const body = bodyOverrides[operation.name] ?? (operation.bodySchema ? exampleOf(operation.bodySchema, fixture.hints) : undefined);
      for (const value of fixture.demoValues) {
        if (!refusedAsOther.has(`${operation.name} ${value}`)) continue;
        const answer = await send(fixture.harness, operation, urlOf(operation, fixture.hints, () => value), { authorization: `Bearer ${fixture.keys.admin}` }, body);
        if (answer.status !== 404 && answer.status !== 400) hidden.set(operation.name, (hidden.get(operation.name) ?? 0) + 1);
      }
    }
    const unproven = withPath.map((operation) => operation.name).filter((name) => !hidden.has(name));
    t.diagnostic(`${withPath.length} routes with a path parameter × ${fixture.demoValues.length} demo values; the other merchant got 404 where the demo's own key found it at ${hidden.size} routes; an empty list at ${[...answeredEmpty].join(', ') || 'none'}; not shown with this data: ${unproven.join(', ') || 'none'}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(unproven.filter((name) => !(name in isolationShownOtherwise)), [], 'a route where the demo\'s own key never found what the other merchant was refused: seed data for it in seedDemoData, or give it a body in bodyOverrides');
  });

  test(`[${dialect}] another merchant's key at every list and search route sees none of the demo merchant's ids`, { timeout: testTimeoutMs }, async (t) => {
    const fixture = await prepare(dialect, t);
    const probes = ['jane.doe@example.com', '(613) 555-0142', 'Jane', 'SKU-WALLET-01', fixture.hints['customer_id'] as string, fixture.hints['order_id'] as string, 'SUMMER10'];
    const problems: string[] = [];
    const lists = keyed(fixture).filter((operation) => operation.method === 'GET' && pathParameterNames(operation.path).length === 0);
    for (const operation of lists) {
      const queries = operation.parameters.filter((parameter) => parameter.in === 'query');
      const urls = [operation.path, ...probes.flatMap((probe) => (queries.length > 0 ? [`${operation.path}?${queries.map((parameter) => `${parameter.name}=${encodeURIComponent(probe)}`).join('&')}`] : []))];
      for (const url of urls) {
        const answer = await send(fixture.harness, operation, url, { authorization: `Bearer ${fixture.keys.otherAdmin}` }, undefined);
        if (answer.status >= 500 || answer.status === 403) problems.push(`${url}: ${answer.status}`);
        const leaked = fixture.demoValues.filter((value) => value.length > 6 && !probes.includes(value) && answer.text.includes(value));
        if (leaked.length > 0) problems.push(`${url} shows the demo's ${leaked.join(', ')}`);
      }
    }
    t.diagnostic(`${lists.length} list and search routes, each with ${probes.length} probes of the demo's data`);
    assert.deepEqual(problems, []);
  });

  test(`[${dialect}] webhooks: a bad HMAC, another merchant's secret, a Shopify delivery triggered outside the replay window and a Square notification replayed after its window are refused with 401, and nothing is stored`, async (t) => {
    const fixture = await prepare(dialect, t);
    const db = fixture.harness.engine.database.db;
    const webhookRoutes = fixture.operations.filter((operation) => operation.path.startsWith('/webhooks/')).map((operation) => operation.name).sort();
    assert.deepEqual(webhookRoutes, ['POST /webhooks/shopify', 'POST /webhooks/square'], 'a new webhook route: add its signature and replay cases here');
    const clock = createTestClock();
    t.after(installClock(clock));
    const inject = async (url: string, headers: Record<string, string>, body: Buffer) => {
      const response = await fixture.harness.engine.server.inject({ method: 'POST', url, headers, payload: body });
      return { status: response.statusCode, body: JSON.parse(response.body) };
    };
    const refused = async (what: string, url: string, headers: Record<string, string>, body: Buffer, code: string) => {
      const before = await countEveryTable(db, fixture.tables);
      const answer = await inject(url, headers, body);
      assert.equal(answer.status, 401, `${what}: ${JSON.stringify(answer.body)}`);
      assert.ok(isErrorShape(answer.body, code), `${what}: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(describeCountChanges(before, await countEveryTable(db, fixture.tables)), [], `${what}: nothing stored`);
      return answer.body;
    };
    const hoursAgo = (hours: number) => new Date(clock.nowMs() - hours * 3_600_000).toISOString();
    const order = shopifyOrderBody(8_300_000_000_001, 7_700_000_000_001, 'replay@example.com');
    const shopify = (webhookId: string, overrides: Record<string, string> = {}) => signedShopifyHeaders(order, 'orders/create', webhookId, overrides);

    await refused('Shopify, bad HMAC', '/webhooks/shopify', shopify('sec-1', { 'x-shopify-hmac-sha256': signShopifyBody('not-the-secret', order) }), order, 'connectors.shopify.unauthenticated');
    await refused('Shopify, signed by another merchant\'s secret', '/webhooks/shopify', shopify('sec-2', { 'x-shopify-hmac-sha256': signShopifyBody('the-other-merchants-secret', order) }), order, 'connectors.shopify.unauthenticated');
    await refused('Shopify, the demo\'s secret under the other merchant\'s shop', '/webhooks/shopify', shopify('sec-3', { 'x-shopify-shop-domain': 'other-goods.myshopify.com' }), order, 'connectors.shopify.unauthenticated');
    const old = await refused('Shopify, triggered 49 h ago', '/webhooks/shopify', shopify('sec-4', { 'x-shopify-triggered-at': hoursAgo(49) }), order, 'connectors.shopify.outside_replay_window');
    assert.equal(old.error.details.field, 'X-Shopify-Triggered-At');
    assert.equal(old.error.details.max_age_hours, 48);
    await refused('Shopify, triggered 20 min ahead of our clock', '/webhooks/shopify', shopify('sec-5', { 'x-shopify-triggered-at': hoursAgo(-1 / 3) }), order, 'connectors.shopify.outside_replay_window');
    await refused('Shopify, a Triggered-At that is not a time', '/webhooks/shopify', shopify('sec-6', { 'x-shopify-triggered-at': 'yesterday' }), order, 'connectors.shopify.outside_replay_window');
    assert.equal((await inject('/webhooks/shopify', shopify('sec-7', { 'x-shopify-triggered-at': hoursAgo(47) }), order)).status, 200, 'a retry 47 h after the trigger is inside the window');

    // A genuine delivery, captured and sent again with the same headers two days later.
    const captured = shopify('sec-8');
    assert.equal((await inject('/webhooks/shopify', captured, order)).status, 200);
    assert.deepEqual((await inject('/webhooks/shopify', captured, order)).body, { received: true, duplicate: true }, 'sent again inside the window: a duplicate, stored once');
    clock.advance(49 * 3_600_000);
    await refused('Shopify, a captured delivery replayed 49 h later', '/webhooks/shopify', captured, order, 'connectors.shopify.outside_replay_window');

    // Square signs URL + body, and the body carries created_at: a replay cannot move it.
    const notification = (createdAt: string, eventId: string) => Buffer.from(JSON.stringify({ ...JSON.parse(readFixture('square/payment.updated.json').toString('utf8')), merchant_id: testSquareMerchantRef, event_id: eventId, created_at: createdAt }));
    const square = (body: Buffer, key = testSquareSignatureKey) => ({ 'content-type': 'application/json', 'x-square-hmacsha256-signature': signSquareBody(key, testSquareNotificationUrl, body) });
    const fresh = notification(hoursAgo(0), 'sec-square-1');
    await refused('Square, bad signature', '/webhooks/square', square(fresh, 'not-the-key'), fresh, 'connectors.square.unauthenticated');
    const stale = notification(hoursAgo(97), 'sec-square-2');
    const staleAnswer = await refused('Square, created 97 h ago', '/webhooks/square', square(stale), stale, 'connectors.square.outside_replay_window');
    assert.equal(staleAnswer.error.details.field, 'created_at');
    const retried = notification(hoursAgo(95), 'sec-square-3');
    assert.equal((await inject('/webhooks/square', square(retried), retried)).status, 200, 'a retry 95 h later is inside the window (Square retries for 72 h)');
    const firstDelivery = await inject('/webhooks/square', square(fresh), fresh);
    assert.deepEqual(firstDelivery.body, { received: true, duplicate: false });
    clock.advance(97 * 3_600_000);
    await refused('Square, the same signed bytes replayed 97 h later', '/webhooks/square', square(fresh), fresh, 'connectors.square.outside_replay_window');
    assert.equal(fixture.harness.engine.database.dialect, dialect);
  });
}
