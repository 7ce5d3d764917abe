import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import type { DialectName, Tx } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { createMetrics } from '../shared/metrics.ts';
import { inboxAttemptsMax, listDueInboxEvents, storeInboxEvent, type InboxEvent } from './inbox.ts';
import { createSyncWorker } from './sync-worker.ts';

// Per-resource ordering in the inbox (issue #7), with a handler the test controls, so that only the
// inbox's rules are under test: the events of one resource are applied in the order received; an
// event waiting for a retry holds back the later events of its resource and no other; a poison
// event ends as an exception and then lets its resource go on; an event that needs what a later
// event brings (a refund before its order) moves behind it.

const merchantId = 'mer_ordering_test';
const past = '2000-01-01T00:00:00.000Z';

interface Harness {
  db: Awaited<ReturnType<typeof openTestDatabase>>['handle']['db'];
  worker: ReturnType<typeof createSyncWorker>;
  /** Delivery ids in the order the handler applied them. */
  applied: string[];
  /**
   * Makes the handler throw for a delivery id on its first `attempts` recorded attempts (Infinity:
   * always) with this error: counted by the attempts the inbox recorded, as a worker may run a
   * handler more than once in one attempt (a batch applied whole, then again event by event).
   */
  failNext(deliveryId: string, attempts: number, error?: Error): void;
  store(deliveryId: string, resourceKey: string | null): Promise<string>;
  event(deliveryId: string): Promise<InboxEvent>;
  /** Time passes: every waiting event's retry falls due. */
  letRetriesFallDue(): Promise<void>;
}

async function openHarness(t: TestContext, dialect: DialectName): Promise<Harness> {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  const db = database.handle.db;
  const applied: string[] = [];
  const failures = new Map<string, { attempts: number; error: Error }>();
  const handleInboxEvent = async (_tx: Tx, event: InboxEvent) => {
    const failure = failures.get(event.delivery_id);
    if (failure && event.attempts < failure.attempts) throw failure.error;
    applied.push(event.delivery_id);
    return { outcome: 'processed' as const };
  };
  const worker = createSyncWorker({ db, logger: pino({ level: 'silent' }), metrics: createMetrics(), handleInboxEvent, deliverers: {} });
  return {
    db, worker, applied,
    failNext: (deliveryId, attempts, error = new AppError('test.transient', `${deliveryId} fails for now`)) => void failures.set(deliveryId, { attempts, error }),
    async store(deliveryId, resourceKey) {
      const result = await storeInboxEvent(db, { merchantId, source: 'shopify', topic: 'orders/updated', deliveryId, eventKey: null, headers: {}, payload: '{}', triggeredAt: null, resourceKey });
      assert.ok(result.stored);
      return result.id;
    },
    event: (deliveryId) => db.selectFrom('inbox_events').selectAll().where('delivery_id', '=', deliveryId).executeTakeFirstOrThrow(),
    async letRetriesFallDue() {
      await db.updateTable('inbox_events').set({ available_at: past }).where('status', '=', 'received').execute();
    },
  };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] an event waiting for its retry holds back the later events of its resource only; after the retry both apply in the order received`, async (t) => {
    const harness = await openHarness(t, dialect);
    await harness.store('order-1-create', 'shopify:order:1');
    await harness.store('order-1-update', 'shopify:order:1');
    await harness.store('order-2-create', 'shopify:order:2');
    await harness.store('theme-publish', null);
    await harness.store('order-2-update', 'shopify:order:2');
    harness.failNext('order-1-create', 1);

    const firstBatch = await listDueInboxEvents(harness.db);
    assert.deepEqual(firstBatch.map((event) => event.delivery_id), ['order-1-create', 'order-2-create', 'theme-publish'], 'one event per resource, the earliest, in the order received');
    await harness.worker.drain();

    assert.deepEqual(harness.applied, ['order-2-create', 'theme-publish', 'order-2-update'], 'the other resources went on, in their own order');
    const failed = await harness.event('order-1-create');
    assert.deepEqual([failed.status, failed.attempts], ['received', 1]);
    assert.ok(failed.available_at > new Date().toISOString(), 'its retry is scheduled later, with backoff');
    const held = await harness.event('order-1-update');
    assert.deepEqual([held.status, held.attempts], ['received', 0], 'not applied ahead of the event before it, and not counted as a failure');

    await harness.letRetriesFallDue();
    await harness.worker.drain();

    assert.deepEqual(harness.applied, ['order-2-create', 'theme-publish', 'order-2-update', 'order-1-create', 'order-1-update']);
    assert.equal((await harness.event('order-1-update')).status, 'processed');
  });

  test(`[${dialect}] a poison event is retried ${inboxAttemptsMax} times, ends as an inbox_failed exception, and then lets the later events of its resource go on`, async (t) => {
    const harness = await openHarness(t, dialect);
    const poisonId = await harness.store('customer-7-update-broken', 'shopify:customer:7');
    await harness.store('customer-7-update-next', 'shopify:customer:7');
    await harness.store('customer-8-create', 'shopify:customer:8');
    harness.failNext('customer-7-update-broken', Number.POSITIVE_INFINITY, new AppError('connectors.shopify.invalid_payload', 'the body cannot be read'));

    for (let attempt = 1; attempt < inboxAttemptsMax; attempt += 1) {
      await harness.worker.drain();
      assert.deepEqual([(await harness.event('customer-7-update-broken')).attempts, (await harness.event('customer-7-update-next')).status], [attempt, 'received'], `after attempt ${attempt}`);
      await harness.letRetriesFallDue();
    }
    await harness.worker.drain();

    const poison = await harness.event('customer-7-update-broken');
    assert.deepEqual([poison.status, poison.attempts], ['failed', inboxAttemptsMax]);
    assert.match(poison.error ?? '', /connectors\.shopify\.invalid_payload/);
    const exceptions = await harness.db.selectFrom('exceptions').select(['kind', 'subject', 'merchant_id']).execute();
    assert.deepEqual(exceptions, [{ kind: 'inbox_failed', subject: poisonId, merchant_id: merchantId }]);
    assert.deepEqual(harness.applied, ['customer-8-create', 'customer-7-update-next'], 'the other customer never waited; the next event of the poisoned one went on once the poison was parked as failed');
  });

  test(`[${dialect}] an event missing what a later event of its resource brings (a refund before its order) moves behind that resource's events, now and later, and applies after them`, async (t) => {
    const harness = await openHarness(t, dialect);
    await harness.store('refund-of-order-5', 'shopify:order:5');
    await harness.store('order-5-create', 'shopify:order:5');
    harness.failNext('refund-of-order-5', 1, new AppError('orders.not_yet_known', 'Order 5 is not recorded yet'));

    await harness.worker.drain();
    assert.deepEqual(harness.applied, ['order-5-create'], 'the order did not wait for the refund that needs it');
    const refund = await harness.event('refund-of-order-5');
    assert.deepEqual([refund.status, refund.attempts], ['received', 1]);

    await harness.store('order-5-update', 'shopify:order:5');
    await harness.worker.drain();
    assert.deepEqual(harness.applied, ['order-5-create', 'order-5-update'], 'an event of the resource received later does not wait for the refund either');

    await harness.letRetriesFallDue();
    await harness.worker.drain();
    assert.deepEqual(harness.applied, ['order-5-create', 'order-5-update', 'refund-of-order-5']);
  });

  test(`[${dialect}] two events stored at the same moment by two processes (the same queue position) are applied in the order of their ids`, async (t) => {
    const harness = await openHarness(t, dialect);
    const first = await harness.store('product-3-a', 'shopify:product:3');
    const second = await harness.store('product-3-b', 'shopify:product:3');
    assert.ok(first < second, 'ids sort in the order they were made');
    await harness.db.updateTable('inbox_events').set({ queue_position: 42 }).where('id', 'in', [first, second]).execute();

    assert.deepEqual((await listDueInboxEvents(harness.db)).map((event) => event.delivery_id), ['product-3-a']);
    await harness.worker.drain();
    assert.deepEqual(harness.applied, ['product-3-a', 'product-3-b']);
  });

  test(`[${dialect}] two workers running the same batch at the same time apply every event exactly once`, async (t) => {
    const harness = await openHarness(t, dialect);
    const eventCount = 60;
    for (let index = 0; index < eventCount; index += 1) await harness.store(`customer-${index}`, `shopify:customer:${index % 20}`);
    const other = createSyncWorker({
      db: harness.db, logger: pino({ level: 'silent' }), metrics: createMetrics(), deliverers: {},
      handleInboxEvent: async (_tx, event) => {
        harness.applied.push(event.delivery_id);
        return { outcome: 'processed' as const };
      },
    });

    await Promise.all([harness.worker.drain(), other.drain()]);

    assert.equal(harness.applied.length, eventCount, 'none twice, none left out');
    assert.equal(new Set(harness.applied).size, eventCount);
    for (let customer = 0; customer < 20; customer += 1) {
      const ofCustomer = harness.applied.filter((deliveryId) => Number(deliveryId.slice('customer-'.length)) % 20 === customer);
      assert.deepEqual(ofCustomer, [0, 1, 2].map((round) => `customer-${round * 20 + customer}`), `customer ${customer}'s events in the order received`);
    }
    const statuses = await harness.db.selectFrom('inbox_events').select('status').distinct().execute();
    assert.deepEqual(statuses, [{ status: 'processed' }]);
  });
}
