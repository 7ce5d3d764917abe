import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { createTestClock, installClock } from '../src/shared/clock.ts';
import { outboxRetryDelaysMs, outboxRetryJitterFraction } from '../src/sync/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';
import { driveOutbox } from './support/outbox-time.ts';

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;
const walletItem = gid('InventoryItem', '271878346596884017');
const storeLocation = gid('Location', '24826419');
const dayMs = 86_400_000;

async function sellWallet(harness: TestEngine, saleId: string) {
  const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: saleId, location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
}

async function outbox(harness: TestEngine) {
  return (await harness.request('GET', '/v1/outbox')).body.data as { id: string; kind: string; status: string; attempts: number; last_error: string | null; payload: { location_id?: string } }[];
}

async function makeDue(harness: TestEngine) {
  await harness.engine.database.db.updateTable('outbox_events').set({ next_attempt_at: '2000-01-01T00:00:00.000Z' }).where('status', '=', 'pending').execute();
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a Shopify outage delays the stock push, which is retried with backoff and then delivered`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    await sellWallet(harness, 'S-1');
    harness.fake.failNext(1, 503);
    await harness.engine.worker.drain();

    const [waiting] = (await outbox(harness)).filter((event) => event.status === 'pending');
    assert.ok(waiting, 'the push is still pending after the failure');
    assert.equal(waiting.attempts, 1);
    assert.match(waiting.last_error ?? '', /connectors\.shopify\.unavailable/);
    assert.equal(harness.fake.quantity(walletItem, storeLocation), 8, 'Shopify still shows the old figure');

    await makeDue(harness);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity(walletItem, storeLocation), 7, 'delivered once Shopify answers again');
    assert.equal((await outbox(harness)).filter((event) => event.status !== 'delivered').length, 0);
  });

  test(`[${dialect}] a burst of sales of one SKU sends the latest figure once, not one call per sale`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const before = harness.fake.requests.length;
    for (let sale = 1; sale <= 5; sale += 1) await sellWallet(harness, `B-${sale}`);
    await harness.engine.worker.drain();
    const writes = harness.fake.requests.slice(before).filter((request) => request.operation === 'inventorySetQuantities' && JSON.stringify(request.variables).includes(walletItem));
    assert.equal(writes.length, 1);
    assert.equal(harness.fake.quantity(walletItem, storeLocation), 3);
  });

  test(`[${dialect}] a push that keeps failing is dead-lettered after the schedule (about a day of simulated time) and raised for a person`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    await sellWallet(harness, 'D-1');
    harness.fake.failNext(1_000_000, 500);
    const failingSinceMs = clock.nowMs();
    await driveOutbox(harness, clock, { untilMs: failingSinceMs + 3 * dayMs, stopWhen: async () => (await outbox(harness)).some((event) => event.status === 'dead') });

    const dead = (await outbox(harness)).filter((event) => event.status === 'dead');
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.attempts, outboxRetryDelaysMs.length + 1, 'the first attempt and one per step of the schedule');
    const scheduleMs = outboxRetryDelaysMs.reduce((sum, delayMs) => sum + delayMs, 0);
    assert.ok(clock.nowMs() - failingSinceMs >= scheduleMs * (1 - outboxRetryJitterFraction), 'not dead before the schedule ran its course');
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=sync_failed')).body.data;
    assert.equal(exceptions.length, 1);
    assert.equal(exceptions[0].subject, dead[0]!.id);
  });

  test(`[${dialect}] the in-process worker applies a webhook on its own, without anyone draining it`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    harness.engine.worker.start();
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
    let profiles: unknown[] = [];
    for (let tries = 0; tries < 100 && profiles.length === 0; tries += 1) {
      await sleep(50);
      profiles = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data;
    }
    assert.equal(profiles.length, 1);
  });
}
