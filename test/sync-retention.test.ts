import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfig } from '../src/config.ts';
import { createTestClock, installClock, nowIso } from '../src/shared/clock.ts';
import { pruneBatchSize, pruneSettledSyncRows } from '../src/sync/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, testPosKey } from './support/engine-harness.ts';

// Applied inbox events and delivered outbox messages are deleted once older than the retention
// (SYNC_RETENTION_DAYS, 30 by default): the database stops growing by every webhook's raw body,
// while what waits, failed or died stays for the worker or a person, and the shopper's order,
// points and stock stay as they were.

const dayMs = 86_400_000;

for (const dialect of DIALECTS) {
  test(`[${dialect}] settled sync rows and Idempotency-Keys older than the retention are deleted, oldest first in batches; what waits, failed or died stays, and a redelivery after it is still applied once`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    await harness.engine.worker.drain();
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
    await harness.engine.worker.drain();
    const pointsOf = async () => (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data[0].loyalty.available as number;
    const pointsBefore = await pointsOf();
    assert.ok(pointsBefore > 0);
    const delivered = await db.selectFrom('outbox_events').select('id').where('status', '=', 'delivered').execute();
    assert.ok(delivered.length >= 3, 'the order sent messages that were delivered');
    // One message died and one inbound event failed: a person decides about those.
    await db.updateTable('outbox_events').set({ status: 'dead', attempts: 11 }).where('id', '=', delivered[0]!.id).execute();
    await db.updateTable('outbox_events').set({ status: 'pending', delivered_at: null }).where('id', '=', delivered[1]!.id).execute();
    assert.equal((await harness.deliverShopifyFixture('shopify/customers-create.json')).status, 200);
    await harness.engine.worker.drain();
    await db.updateTable('inbox_events').set({ status: 'failed' }).where('topic', '=', 'customers/create').execute();
    const counts = async () => ({
      inbox: (await db.selectFrom('inbox_events').select(['status']).where('merchant_id', '=', merchantId).execute()).map((row) => row.status).sort(),
      outbox: (await db.selectFrom('outbox_events').select(['status']).where('merchant_id', '=', merchantId).execute()).map((row) => row.status).sort(),
    });
    // A register's write with an Idempotency-Key: kept with its response for the same time.
    const keyed = await harness.request('POST', '/v1/customers', { key: testPosKey, headers: { 'idempotency-key': 'enrol-ana-1' }, body: { email: 'ana@example.com', first_name: 'Ana' } });
    assert.equal(keyed.status, 201, JSON.stringify(keyed.body));
    const before = await counts();
    assert.ok(before.inbox.includes('processed') && before.outbox.includes('delivered'));

    clock.advance(29 * dayMs);
    assert.deepEqual(await pruneSettledSyncRows(db, 30), { inboxEvents: 0, outboxEvents: 0, idempotencyKeys: 0 }, 'nothing is older than 30 days yet');
    clock.advance(2 * dayMs);
    const pruned = await pruneSettledSyncRows(db, 30);
    assert.equal(pruned.inboxEvents, before.inbox.filter((status) => status === 'processed' || status === 'ignored').length);
    assert.equal(pruned.outboxEvents, before.outbox.filter((status) => status === 'delivered').length);
    assert.equal(pruned.idempotencyKeys, 1);
    assert.equal((await db.selectFrom('idempotency_keys').select('key').execute()).length, 0);
    assert.deepEqual(await counts(), { inbox: ['failed'], outbox: before.outbox.filter((status) => status !== 'delivered') }, 'what failed, waits or died stays');
    assert.ok((await counts()).outbox.includes('dead') && (await counts()).outbox.includes('pending'));
    assert.equal(await pointsOf(), pointsBefore, 'the points stay');
    assert.equal((await harness.request('GET', '/v1/orders?q=1042')).body.data.length, 1, 'the order stays');

    // Shopify delivers the order again after its inbox row is gone: stored again, applied once.
    const again = await harness.deliverShopifyFixture('shopify/orders-create.json');
    assert.deepEqual([again.status, again.body.duplicate], [200, false], 'its row is gone: stored again');
    await harness.engine.worker.drain();
    assert.equal(await pointsOf(), pointsBefore, 'no points twice');
    assert.equal((await harness.request('GET', '/v1/orders?q=1042')).body.data.length, 1, 'no order twice');

    // Many old rows go in batches of pruneBatchSize, every one of them.
    const old = new Date(Date.parse(nowIso()) - 40 * dayMs).toISOString();
    const rows = pruneBatchSize * 2 + 7;
    for (let start = 0; start < rows; start += 100) {
      await db.insertInto('inbox_events').values(Array.from({ length: Math.min(100, rows - start) }, (_, offset) => ({
        id: `evt_old_${start + offset}`, merchant_id: merchantId, source: 'shopify', topic: 'customers/update', delivery_id: `old-${start + offset}`, event_key: null,
        headers_json: '{}', payload: '{}', status: 'processed', attempts: 0, error: null, triggered_at: old, available_at: old, received_at: old, processed_at: old,
        resource_key: null, queue_position: 0,
      }))).execute();
    }
    assert.deepEqual(await pruneSettledSyncRows(db, 30), { inboxEvents: rows, outboxEvents: 0, idempotencyKeys: 0 });
    assert.equal((await db.selectFrom('inbox_events').select('id').where('id', 'like', 'evt_old_%').execute()).length, 0);
  });
}

test('SYNC_RETENTION_DAYS: 30 by default, 0 keeps every row, fewer than 7 days is refused naming the setting', () => {
  assert.equal(readConfig({}).syncRetentionDays, 30);
  assert.equal(readConfig({ SYNC_RETENTION_DAYS: '0' }).syncRetentionDays, 0);
  assert.equal(readConfig({ SYNC_RETENTION_DAYS: '90' }).syncRetentionDays, 90);
  assert.throws(() => readConfig({ SYNC_RETENTION_DAYS: '3' }), /SYNC_RETENTION_DAYS must be 0 \(keep every row\) or at least 7/);
  assert.throws(() => readConfig({ SYNC_RETENTION_DAYS: 'a month' }), /SYNC_RETENTION_DAYS must be a non-negative integer/);
});
