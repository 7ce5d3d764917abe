import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { merchantlessTableNames, merchantTableNames } from '../src/commands/index.ts';
import { signShopifyBody } from '../src/connectors/shopify/index.ts';
import type { Db, DialectName } from '../src/db/index.ts';
import { seedDemoMerchant } from '../src/demo/demo-merchant.ts';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey, testShopDomain, type TestEngine } from './support/engine-harness.ts';

// Shopify's mandatory privacy webhooks, applied by the worker like any topic: a data request
// stores an export of everything held about the shopper; a customer redaction erases the person
// but keeps her orders and a balanced loyalty ledger; a shop redaction erases the merchant and
// nothing of any other merchant.

const janeShopifyId = '115310627314723954';
const janeEmail = 'jane.doe@example.com';
const janePhone = '+16135550142';

async function withEngine(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]): Promise<TestEngine> {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

/** Sends a privacy webhook as Shopify would: signed raw bytes, ids above 2^53 as bare JSON numbers. */
async function deliverPrivacyWebhook(harness: TestEngine, topic: string, rawBody: string, deliveryId: string, shop: { domain: string; secret?: string } = { domain: testShopDomain }) {
  const body = Buffer.from(rawBody);
  const overrides: Record<string, string> = { 'X-Shopify-Topic': topic, 'X-Shopify-Webhook-Id': `webhook-${deliveryId}`, 'X-Shopify-Event-Id': `event-${deliveryId}`, 'X-Shopify-Shop-Domain': shop.domain };
  if (shop.secret) overrides['X-Shopify-Hmac-Sha256'] = signShopifyBody(shop.secret, body);
  return harness.deliverShopifyFixture('shopify/customers-create.json', overrides, body);
}

const dataRequestBody = (requestId: number) =>
  `{"shop_id":954889,"shop_domain":"${testShopDomain}","orders_requested":[820982911946154508],"customer":{"id":${janeShopifyId},"email":"${janeEmail}","phone":"${janePhone}"},"data_request":{"id":${requestId}}}`;
const redactBody = `{"shop_id":954889,"shop_domain":"${testShopDomain}","customer":{"id":${janeShopifyId},"email":"${janeEmail}","phone":"${janePhone}"},"orders_to_redact":[820982911946154508]}`;
const shopRedactBody = (domain: string) => `{"shop_id":954889,"shop_domain":"${domain}"}`;

async function lookup(harness: TestEngine, q: string, key?: string) {
  const response = await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent(q)}`, key ? { key } : {});
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data as { id: string; orders: unknown[] }[];
}

/** Jane's web order (orders/create fixture), then a register sale where she spends 100 points and earns 40. */
async function janeBuysOnlineAndInStore(harness: TestEngine): Promise<{ janeId: string; webOrderId: string; storeOrderId: string }> {
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
  await harness.engine.worker.drain();
  const sale = await harness.request('POST', '/v1/pos/sales', {
    key: testPosKey,
    body: { sale_id: 'R1-0001', register_id: 'register-1', location_id: harness.demo.store.id, customer: { phone: '613.555.0142' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['summer10'], rewards: ['5-OFF'] },
  });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  await harness.engine.worker.drain();
  const [jane, ...others] = await lookup(harness, janeEmail);
  assert.ok(jane);
  assert.equal(others.length, 0);
  assert.equal(sale.body.data.order.customer_id, jane.id);
  const webOrder = (jane.orders as { id: string; channel: string }[]).find((order) => order.channel === 'online');
  assert.ok(webOrder);
  return { janeId: jane.id, webOrderId: webOrder.id, storeOrderId: sale.body.data.order.id };
}

async function inboxStatus(db: Db, deliveryId: string) {
  return db.selectFrom('inbox_events').select(['status', 'error']).where('delivery_id', '=', `webhook-${deliveryId}`).executeTakeFirst();
}

/** Every row of every table that belongs to the merchant, read directly. */
async function merchantRows(db: Db, merchantId: string): Promise<Record<string, unknown[]>> {
  const rows: Record<string, unknown[]> = {};
  for (const table of merchantTableNames) {
    rows[table] = await db.selectFrom(table).selectAll().where('merchant_id', '=', merchantId).execute();
    (rows[table] as Record<string, unknown>[]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  return rows;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] customers/data_request stores an export of her profile, points and orders from both channels, once per request`, async (t) => {
    const harness = await withEngine(t, dialect);
    const { janeId, webOrderId, storeOrderId } = await janeBuysOnlineAndInStore(harness);

    assert.deepEqual(await deliverPrivacyWebhook(harness, 'customers/data_request', dataRequestBody(9999), 'dr-1'), { status: 200, body: { received: true, duplicate: false } });
    await harness.engine.worker.drain();
    assert.equal((await inboxStatus(harness.engine.database.db, 'dr-1'))?.status, 'processed');

    const list = await harness.request('GET', '/v1/privacy/requests');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.data.length, 1);
    const [listed] = list.body.data;
    assert.deepEqual({ kind: listed.kind, customer_id: listed.customer_id, channel_ref: listed.channel_ref }, { kind: 'data_request', customer_id: janeId, channel_ref: '9999' });
    assert.equal('export' in listed, false, 'the list leaves the export bodies out');

    const detail = await harness.request('GET', `/v1/privacy/requests/${listed.id}`);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    const exported = detail.body.data.export;
    assert.equal(exported.format, 'continuum.customer-data-export/1');
    assert.deepEqual(exported.request.orders_requested, [{ source_ref: '820982911946154508', held: true }], 'the id above 2^53 keeps every digit');
    assert.equal(exported.profiles.length, 1);
    const [profile] = exported.profiles;
    assert.equal(profile.profile.id, janeId);
    assert.deepEqual([profile.profile.first_name, profile.profile.last_name], ['Jane', 'Doe']);
    assert.deepEqual(profile.identifiers.map((identifier: { kind: string; normalized: string }) => `${identifier.kind}:${identifier.normalized}`).sort(), [`email:${janeEmail}`, `phone:${janePhone}`, `shopify_id:${janeShopifyId}`]);
    assert.ok(profile.addresses.length >= 1, 'her shipping address');
    assert.deepEqual(profile.consents, [], 'the order told us no marketing consent');
    assert.deepEqual(profile.orders.map((order: { id: string }) => order.id).sort(), [webOrderId, storeOrderId].sort());
    assert.deepEqual(profile.orders.map((order: { channel: string }) => order.channel).sort(), ['online', 'store']);
    const web = profile.orders.find((order: { id: string }) => order.id === webOrderId);
    assert.deepEqual(web.total, { amount_minor: 25298, currency: 'USD' });
    assert.equal(web.lines.length, 2);
    assert.equal(profile.loyalty.available, 164, '224 earned online − 100 spent + 40 earned in store');
    assert.deepEqual(profile.loyalty.history.map((entry: { kind: string }) => entry.kind).sort(), ['earn', 'earn', 'redeem']);
    assert.equal(profile.loyalty.lots.length, 2);
    assert.equal(profile.loyalty.truncated, false);
    assert.deepEqual(profile.merges, []);

    // The same request under new webhook and event ids builds no second export.
    assert.equal((await deliverPrivacyWebhook(harness, 'customers/data_request', dataRequestBody(9999), 'dr-2')).body.duplicate, false);
    await harness.engine.worker.drain();
    assert.deepEqual(await inboxStatus(harness.engine.database.db, 'dr-2'), { status: 'ignored', error: 'this data request was already exported' });
    assert.equal((await harness.request('GET', '/v1/privacy/requests')).body.data.length, 1);

    // Only an admin key reads privacy requests; an unknown id is a 404.
    assert.equal((await harness.request('GET', '/v1/privacy/requests', { key: testPosKey })).status, 403);
    assert.equal((await harness.request('GET', `/v1/privacy/requests/${listed.id}`, { key: testPosKey })).status, 403);
    const unknown = await harness.request('GET', '/v1/privacy/requests/prv_unknown');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'privacy.not_found');
  });

  test(`[${dialect}] a data request for someone never seen stores an export that says nothing is held`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = `{"shop_id":954889,"shop_domain":"${testShopDomain}","orders_requested":[],"customer":{"email":"nobody-here@example.com"},"data_request":{"id":4242}}`;
    assert.equal((await deliverPrivacyWebhook(harness, 'customers/data_request', body, 'dr-none')).status, 200);
    await harness.engine.worker.drain();
    const [listed] = (await harness.request('GET', '/v1/privacy/requests')).body.data;
    assert.equal(listed.customer_id, null);
    assert.deepEqual((await harness.request('GET', `/v1/privacy/requests/${listed.id}`)).body.data.export.profiles, []);
  });

  test(`[${dialect}] customers/redact erases Jane but keeps her orders and a balanced loyalty ledger, and she is never matched again`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    const { janeId, webOrderId, storeOrderId } = await janeBuysOnlineAndInStore(harness);
    assert.equal((await harness.deliverShopifyFixture('shopify/refunds-create.json')).status, 200);
    await harness.engine.worker.drain();
    assert.equal((await deliverPrivacyWebhook(harness, 'customers/data_request', dataRequestBody(9999), 'dr-1')).status, 200);
    await harness.engine.worker.drain();
    const loyaltyBefore = (await harness.request('GET', `/v1/customers/${janeId}/loyalty`)).body.data;

    assert.deepEqual(await deliverPrivacyWebhook(harness, 'customers/redact', redactBody, 'redact-1'), { status: 200, body: { received: true, duplicate: false } });
    await harness.engine.worker.drain();
    assert.equal((await inboxStatus(db, 'redact-1'))?.status, 'processed');

    for (const q of [janeEmail, '(613) 555-0142', 'jane', 'Jane Doe']) assert.deepEqual(await lookup(harness, q), [], `nothing found for ${q}`);

    const profile = (await harness.request('GET', `/v1/customers/${janeId}`)).body.data;
    assert.equal(profile.state, 'redacted');
    assert.deepEqual(
      { name: profile.name, first_name: profile.first_name, last_name: profile.last_name, emails: profile.emails, phones: profile.phones, identifiers: profile.identifiers, channel_ids: profile.channel_ids, addresses: profile.addresses, consents: profile.consents, note: profile.note, preferences: profile.preferences, loyalty_code: profile.loyalty_code },
      { name: '', first_name: null, last_name: null, emails: [], phones: [], identifiers: [], channel_ids: [], addresses: [], consents: [], note: null, preferences: {}, loyalty_code: null },
    );
    assert.deepEqual(profile.orders.map((order: { id: string }) => order.id).sort(), [webOrderId, storeOrderId].sort(), 'her orders stay on the anonymous profile');
    const webOrder = (await harness.request('GET', `/v1/orders/${webOrderId}`)).body.data;
    assert.deepEqual([webOrder.customer_id, webOrder.total.amount_minor, webOrder.refunded.amount_minor], [janeId, 25298, 8747]);
    assert.equal((await harness.request('GET', `/v1/orders/${storeOrderId}`)).body.data.total.amount_minor, 4520);

    // The ledger is untouched: the cached balance is still the sum of the entries, and every transaction balances.
    const loyaltyAfter = (await harness.request('GET', `/v1/customers/${janeId}/loyalty`)).body.data;
    assert.deepEqual(loyaltyAfter, loyaltyBefore);
    assert.equal((await sumLoyaltyEntries(db, merchantId, janeId)).available, loyaltyAfter.available);
    assert.equal(loyaltyAfter.available, 83);
    const unbalanced = await db.selectFrom('loyalty_entries').select('transaction_id').where('merchant_id', '=', merchantId).groupBy('transaction_id').having((eb) => eb.fn.sum('amount'), '<>', 0).execute();
    assert.deepEqual(unbalanced, []);

    // Nothing of her remains anywhere the merchant's data lives: stored webhooks, the earlier export, anything.
    const everything = JSON.stringify(await merchantRows(db, merchantId)).toLowerCase();
    for (const value of [janeEmail, '6135550142', "o'connor", '"doe"', 'jane doe']) assert.equal(everything.includes(value), false, `${value} is gone`);

    const requests = (await harness.request('GET', '/v1/privacy/requests')).body.data;
    const redaction = requests.find((request: { kind: string }) => request.kind === 'customer_redact');
    assert.deepEqual({ customer_id: redaction.customer_id, channel_ref: redaction.channel_ref }, { customer_id: janeId, channel_ref: janeShopifyId });
    const summary = (await harness.request('GET', `/v1/privacy/requests/${redaction.id}`)).body.data.export;
    assert.deepEqual(summary.customer_ids, [janeId]);
    assert.equal(summary.erased.identifiers, 3);
    assert.equal(summary.erased.data_exports, 1);
    assert.ok(summary.erased.inbox_payloads >= 3, 'the order, the data request and the redaction itself');
    assert.deepEqual(summary.kept, { orders: 2, loyalty_transactions: 4 });
    const dataRequest = requests.find((request: { kind: string }) => request.kind === 'data_request');
    assert.deepEqual((await harness.request('GET', `/v1/privacy/requests/${dataRequest.id}`)).body.data.export, { erased: true, privacy_request_id: redaction.id });
    const audit = await db.selectFrom('audit_log').selectAll().where('merchant_id', '=', merchantId).where('action', '=', 'privacy.customer_redact').execute();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]?.subject, redaction.id);

    // The same redaction again finds no one and erases nothing more.
    assert.equal((await deliverPrivacyWebhook(harness, 'customers/redact', redactBody, 'redact-2')).status, 200);
    await harness.engine.worker.drain();
    assert.equal((await inboxStatus(db, 'redact-2'))?.status, 'processed');
    assert.equal((await harness.request('GET', '/v1/privacy/requests')).body.data.length, 2, 'one request per Shopify customer');

    // A later order with her email and Shopify id creates a new profile: the redacted one never matches.
    const nextOrder = Buffer.from(readFixture('shopify/orders-create.json').toString('utf8').replaceAll('820982911946154508', '820982911946154599'));
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'next-order', 'X-Shopify-Event-Id': 'next-order' }, nextOrder)).status, 200);
    await harness.engine.worker.drain();
    const [fresh, ...others] = await lookup(harness, janeEmail);
    assert.ok(fresh);
    assert.equal(others.length, 0);
    assert.notEqual(fresh.id, janeId);
    assert.equal((await harness.request('GET', `/v1/customers/${janeId}`)).body.data.state, 'redacted');
  });

  test(`[${dialect}] shop/redact erases every row of the merchant and none of another merchant's; the shop's webhooks then get 401`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const first = harness.demo.merchant.id;
    await janeBuysOnlineAndInStore(harness);
    assert.equal((await deliverPrivacyWebhook(harness, 'customers/data_request', dataRequestBody(9999), 'dr-1')).status, 200);

    // A second merchant, with its own shop, where Jane also ordered.
    const secondShop = { domain: 'second-outfitters.myshopify.com', secret: 'second-merchant-shopify-secret' };
    const secondKey = 'ck_admin_second_merchant_key';
    const second = await seedDemoMerchant(db, {
      name: 'Second Outfitters', shopDomain: secondShop.domain, shopifySecret: secondShop.secret, shopifyAdminApiUrl: null, shopifyAccessToken: null,
      squareMerchantRef: 'SECONDSQUARE01', squareSignatureKey: 'second-square-key', squareNotificationUrl: 'https://example.com/webhooks/square', adminApiKey: secondKey,
    });
    const order = readFixture('shopify/orders-create.json');
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Shop-Domain': secondShop.domain, 'X-Shopify-Hmac-Sha256': signShopifyBody(secondShop.secret, order) }, order)).status, 200);
    await harness.engine.worker.drain();
    const secondBefore = await merchantRows(db, second.merchant.id);
    assert.ok(secondBefore['orders']!.length === 1 && secondBefore['customers']!.length === 1 && secondBefore['loyalty_entries']!.length > 0);

    // A shop/redact whose body names another shop is refused by the worker, and erases nothing.
    assert.equal((await deliverPrivacyWebhook(harness, 'shop/redact', shopRedactBody(secondShop.domain), 'shop-redact-wrong')).status, 200);
    await harness.engine.worker.drain();
    assert.match((await inboxStatus(db, 'shop-redact-wrong'))?.error ?? '', /connectors\.shopify\.shop_mismatch/);
    assert.ok((await merchantRows(db, first))['orders']!.length === 2);

    // The real one, with another of the shop's webhooks queued behind it in the same batch.
    assert.equal((await deliverPrivacyWebhook(harness, 'shop/redact', shopRedactBody(testShopDomain), 'shop-redact')).status, 200);
    const queued = Buffer.from(order.toString('utf8').replaceAll('820982911946154508', '820982911946154600'));
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'queued-order', 'X-Shopify-Event-Id': 'queued-order' }, queued)).status, 200);
    await harness.engine.worker.drain();

    const firstAfter = await merchantRows(db, first);
    for (const table of merchantTableNames) assert.deepEqual(firstAfter[table], [], `${table} holds nothing of the erased merchant`);
    assert.deepEqual(await merchantRows(db, second.merchant.id), secondBefore, 'the second merchant is untouched, row for row');

    const later = await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'after-erasure', 'X-Shopify-Event-Id': 'after-erasure' });
    assert.equal(later.status, 401);
    assert.equal(later.body.error.code, 'connectors.shopify.unauthenticated');
    assert.equal((await harness.request('GET', '/v1/customers/lookup?q=jane')).status, 401, 'its API keys went with it');
    assert.equal((await lookup(harness, janeEmail, secondKey)).length, 1, 'the second merchant still finds Jane');
  });

  test(`[${dialect}] a shop erasure knows every table of the schema, and every table but the merchantless ones is scoped by merchant_id`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const tables = (await tablesOfSchema(db, dialect)).filter((table) => !table.name.startsWith('kysely_'));
    assert.deepEqual(tables.map((table) => table.name).sort(), [...merchantTableNames, ...merchantlessTableNames].sort());
    for (const table of tables.filter((candidate) => !(merchantlessTableNames as readonly string[]).includes(candidate.name))) {
      assert.ok(table.columns.some((column) => column.name === 'merchant_id'), `${table.name} has merchant_id`);
    }
    // What a merchantless table keeps names no merchant and no person: sign-in failures are hashes.
    const failures = tables.find((table) => table.name === 'sign_in_failures');
    assert.deepEqual(failures?.columns.map((column) => column.name).sort(), ['failures', 'first_failed_at', 'key_hash']);
  });
}

/**
 * The tables of the engine's schema with their columns. On PostgreSQL read for the current schema
 * alone: Kysely's introspection reads every schema, and another test file dropping its own schema
 * meanwhile made it fail (`schema ... does not exist`).
 */
async function tablesOfSchema(db: Db, dialect: DialectName): Promise<{ name: string; columns: { name: string }[] }[]> {
  if (dialect === 'sqlite') return db.introspection.getTables();
  const rows = (await sql<{ table_name: string; column_name: string }>`select table_name, column_name from information_schema.columns where table_schema = current_schema() order by table_name, ordinal_position`.execute(db)).rows;
  const tables = new Map<string, { name: string; columns: { name: string }[] }>();
  for (const row of rows) {
    const table = tables.get(row.table_name) ?? { name: row.table_name, columns: [] };
    table.columns.push({ name: row.column_name });
    tables.set(row.table_name, table);
  }
  return [...tables.values()];
}
