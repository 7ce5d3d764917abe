import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import { parse, stringify } from 'lossless-json';
import { signShopifyBody } from '../src/connectors/shopify/index.ts';
import type { DialectName } from '../src/db/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testShopifySecret, type TestEngine } from './support/engine-harness.ts';

// Webhook ingest through HTTP (issues #7 and #9): concurrent deliveries share commits and each gets
// its own answer after its commit; a failed commit is a 503 that stores nothing; and the worker
// applies one Shopify order's events in the order they were received, even when the first must be
// retried, while other resources go on.

const orderId = '820982911946154508';

async function withEngine(t: TestContext, dialect: DialectName): Promise<TestEngine> {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

function customerBody(index: number): Buffer {
  const id = 7_100_000_000_000 + index;
  return Buffer.from(JSON.stringify({ id, email: `ingest${index}@example.com`, first_name: 'Ingest', last_name: `N${index}`, admin_graphql_api_id: `gid://shopify/Customer/${id}` }));
}

async function inboxRows(harness: TestEngine) {
  return harness.engine.database.db.selectFrom('inbox_events').select(['delivery_id', 'topic', 'status', 'attempts', 'resource_key']).orderBy('queue_position').orderBy('id').execute();
}

/** Makes the worker's claim of one delivery fail, as a transient fault would, until the test drops it. */
async function failClaimsOf(harness: TestEngine, dialect: DialectName, deliveryId: string): Promise<() => Promise<void>> {
  const db = harness.engine.database.db;
  if (dialect === 'sqlite') {
    await sql`create trigger fail_claim before update on inbox_events when new.delivery_id = ${sql.lit(deliveryId)} and new.status <> 'received' begin select raise(abort, 'a transient fault for the test'); end`.execute(db);
    return async () => void (await sql`drop trigger fail_claim`.execute(db));
  }
  await sql.raw(`create function fail_claim() returns trigger language plpgsql as $$ begin if new.delivery_id = '${deliveryId}' and new.status <> 'received' then raise exception 'a transient fault for the test'; end if; return new; end $$`).execute(db);
  await sql`create trigger fail_claim before update on inbox_events for each row execute function fail_claim()`.execute(db);
  return async () => void (await sql`drop trigger fail_claim on inbox_events`.execute(db));
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] 120 concurrent Shopify webhooks, redeliveries among them, are each answered 200 after the commit that holds them: one row per event, duplicate: true exactly for the redeliveries`, async (t) => {
    const harness = await withEngine(t, dialect);
    const deliveries = Array.from({ length: 100 }, (_, index) => ({ body: customerBody(index), webhookId: `ingest-${index}`, eventId: `ingest-event-${index}` }));
    // Twenty of them again: ten under the same webhook id, ten under a new one with the same Event-Id.
    const again = deliveries.slice(0, 20).map((delivery, index) => ({ ...delivery, webhookId: index < 10 ? delivery.webhookId : `${delivery.webhookId}-retry` }));

    const answers = await Promise.all([...deliveries, ...again].map((delivery) => harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Webhook-Id': delivery.webhookId, 'X-Shopify-Event-Id': delivery.eventId }, delivery.body)));

    assert.ok(answers.every((answer) => answer.status === 200), JSON.stringify(answers.find((answer) => answer.status !== 200)));
    const duplicates = answers.map((answer) => answer.body.duplicate as boolean);
    assert.equal(duplicates.filter(Boolean).length, 20, 'exactly the redeliveries are duplicates');
    const rows = await inboxRows(harness);
    assert.equal(rows.length, 100);
    assert.deepEqual(new Set(rows.map((row) => row.delivery_id)), new Set(deliveries.map((delivery) => delivery.webhookId)), 'each event stored once, under its first delivery');
    assert.equal(rows.find((row) => row.delivery_id === 'ingest-7')?.resource_key, `shopify:customer:${7_100_000_000_007}`);
  });

  test(`[${dialect}] each event's resource key keeps every digit of a Shopify id beyond 2^53, from its GraphQL id or from the number itself`, async (t) => {
    const harness = await withEngine(t, dialect);
    // JSON.parse would read 820982911946154508 as 820982911946154500: the order carries its GraphQL
    // id, the refund and the stock level only numbers, which the route then reads exactly.
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'key-order' })).status, 200);
    assert.equal((await harness.deliverShopifyFixture('shopify/refunds-create.json', { 'X-Shopify-Topic': 'refunds/create', 'X-Shopify-Webhook-Id': 'key-refund' })).status, 200);
    assert.equal((await harness.deliverShopifyFixture('shopify/inventory_levels-update.json', { 'X-Shopify-Topic': 'inventory_levels/update', 'X-Shopify-Webhook-Id': 'key-level' })).status, 200);
    const keys = Object.fromEntries((await inboxRows(harness)).map((row) => [row.delivery_id, row.resource_key]));
    const level = JSON.parse(readFixture('shopify/inventory_levels-update.json').toString('utf8').replace(/"(inventory_item_id|location_id)":\s*(\d+)/g, '"$1":"$2"')) as Record<string, string>;
    assert.deepEqual(keys, {
      'key-order': `shopify:order:${orderId}`,
      'key-refund': `shopify:order:${orderId}`,
      'key-level': `shopify:inventory_level:${level['inventory_item_id']}:${level['location_id']}`,
    }, 'the refund waits behind its own order, not behind a rounded one');
  });

  if (dialect === 'postgres') {
    test('[postgres] a 13 KB order webhook is stored LZ4-compressed (migration 0026) and read back byte for byte', async (t) => {
      const harness = await withEngine(t, dialect);
      const body = readFixture('shopify/orders-create.json');
      assert.ok(body.length > 8_000, 'large enough for PostgreSQL to compress');
      assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'lz4-order' })).status, 200);
      const db = harness.engine.database.db;
      const { rows } = await sql<{ method: string | null; payload: string }>`select pg_column_compression(payload) as method, payload from inbox_events where delivery_id = 'lz4-order'`.execute(db);
      // A server built without LZ4 keeps pglz (the migration reads what the server offers).
      const offered = await sql<{ values: string[] | string }>`select enumvals as values from pg_settings where name = 'default_toast_compression'`.execute(db);
      const serverHasLz4 = String(offered.rows[0]?.values ?? '').includes('lz4');
      assert.equal(rows[0]?.method, serverHasLz4 ? 'lz4' : 'pglz', 'pglz took as long as the rest of storing the event');
      assert.equal(rows[0]?.payload, body.toString('utf8'));
    });
  }

  test(`[${dialect}] a webhook whose commit fails is answered 503 storage.unavailable and nothing is stored; the channel's retry is then stored`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    if (dialect === 'sqlite') {
      await sql`create trigger refuse_inbox before insert on inbox_events begin select raise(abort, 'disk full for the test'); end`.execute(db);
    } else {
      await sql.raw(`create function refuse_inbox() returns trigger language plpgsql as $$ begin raise exception 'disk full for the test'; end $$`).execute(db);
      await sql`create trigger refuse_inbox before insert on inbox_events for each row execute function refuse_inbox()`.execute(db);
    }

    const refused = await harness.deliverShopifyFixture('shopify/orders-create.json');

    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'storage.unavailable');
    assert.equal(typeof refused.body.error.message, 'string');
    assert.deepEqual(refused.body.error.details, { reason: 'commit_failed' }, 'the cause stays in our log');
    assert.deepEqual(await inboxRows(harness), []);

    await sql.raw(dialect === 'sqlite' ? 'drop trigger refuse_inbox' : 'drop trigger refuse_inbox on inbox_events').execute(db);
    const retried = await harness.deliverShopifyFixture('shopify/orders-create.json');
    assert.deepEqual(retried, { status: 200, body: { received: true, duplicate: false } });
    assert.equal((await inboxRows(harness)).length, 1);
  });

  test(`[${dialect}] the shop's account is kept in memory but confirmed at each commit: after the secret is rotated the old secret stores nothing (401) and the new one works at once`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const body = customerBody(1);
    const deliver = (webhookId: string, secret: string) => harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Webhook-Id': webhookId, 'X-Shopify-Event-Id': webhookId, 'X-Shopify-Hmac-Sha256': signShopifyBody(secret, body) }, body);
    assert.equal((await deliver('before-rotation', testShopifySecret)).status, 200, 'the account is now kept in memory');

    const rotated = 'the-merchant-rotated-this-secret';
    await db.updateTable('channel_accounts').set({ webhook_secret: rotated }).where('merchant_id', '=', harness.demo.merchant.id).where('channel', '=', 'shopify').execute();
    const withOldSecret = await deliver('old-secret', testShopifySecret);
    const withNewSecret = await deliver('new-secret', rotated);

    assert.equal(withOldSecret.status, 401, 'verified against the kept secret, refused by the commit\'s check');
    assert.equal(withOldSecret.body.error.code, 'connectors.shopify.unauthenticated');
    assert.deepEqual(withNewSecret, { status: 200, body: { received: true, duplicate: false } });
    assert.deepEqual((await inboxRows(harness)).map((row) => row.delivery_id), ['before-rotation', 'new-secret']);
  });

  test(`[${dialect}] a Shopify order's cancellation waits while its creation waits for a retry, other customers go on, and both apply in the order received`, async (t) => {
    const harness = await withEngine(t, dialect);
    const { engine, demo } = harness;
    const db = engine.database.db;
    await engine.worker.drain(); // the opening stock push, so only the webhooks remain
    const order = parse(readFixture('shopify/orders-create.json').toString('utf8')) as Record<string, unknown>;
    const cancelled = Buffer.from(stringify({ ...order, cancelled_at: '2025-06-14T12:00:00-04:00', updated_at: '2025-06-14T12:00:00-04:00', financial_status: 'refunded' }) ?? '');
    const restoreClaims = await failClaimsOf(harness, dialect, 'order-create');

    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'order-create', 'X-Shopify-Event-Id': 'e-create' })).status, 200);
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Topic': 'orders/cancelled', 'X-Shopify-Webhook-Id': 'order-cancel', 'X-Shopify-Event-Id': 'e-cancel' }, cancelled)).status, 200);
    assert.equal((await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Webhook-Id': 'other-customer' })).status, 200);
    await engine.worker.drain();

    assert.deepEqual((await inboxRows(harness)).map((row) => [row.delivery_id, row.status, row.attempts, row.resource_key]), [
      ['order-create', 'received', 1, `shopify:order:${orderId}`],
      ['order-cancel', 'received', 0, `shopify:order:${orderId}`],
      ['other-customer', 'processed', 0, 'shopify:customer:706405506930370084'],
    ], 'the cancellation was not applied ahead of the creation; the other customer did not wait');
    assert.equal((await db.selectFrom('orders').selectAll().where('merchant_id', '=', demo.merchant.id).execute()).length, 0);

    await restoreClaims();
    await db.updateTable('inbox_events').set({ available_at: '2000-01-01T00:00:00.000Z' }).where('status', '=', 'received').execute();
    await engine.worker.drain();

    assert.deepEqual((await inboxRows(harness)).map((row) => [row.delivery_id, row.status]), [['order-create', 'processed'], ['order-cancel', 'processed'], ['other-customer', 'processed']],
      'the creation recorded the order and the cancellation then cancelled it (out of order, the cancellation would have recorded it and the creation been ignored)');
    const [recorded, ...others] = await db.selectFrom('orders').select(['source_ref', 'cancelled_at']).where('merchant_id', '=', demo.merchant.id).execute();
    assert.equal(others.length, 0);
    assert.equal(recorded?.source_ref, orderId);
    assert.ok(recorded?.cancelled_at, 'cancelled');
  });
}
