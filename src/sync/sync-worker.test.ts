import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import type { DialectName, Tx } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { createMetrics } from '../shared/metrics.ts';
import { storeInboxEvent, type InboxEvent } from './inbox.ts';
import { enqueueOutbox } from './outbox.ts';
import { createSyncWorker, inboxEventsPerTransactionMax } from './sync-worker.ts';

// The worker applies a round's inbox events several to a transaction (one commit): whole first,
// and when an event fails, again with a savepoint per event (issue #9). What a user must not
// notice: an event that fails takes back only its own writes (its outbox messages included) and is
// retried as before, while the others of the same transaction stay applied, exactly once, and are
// counted once.

const merchantId = 'mer_worker_batch_test';

type Failure = 'throw' | 'bad-statement';

async function openHarness(t: TestContext, dialect: DialectName) {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  const db = database.handle.db;
  const failures = new Map<string, Failure>();
  const transactions: Tx[] = [];
  /** The transaction each delivery id was last applied in. */
  const lastTransactionOf = new Map<string, Tx>();
  const handleInboxEvent = async (tx: Tx, event: InboxEvent) => {
    transactions.push(tx);
    lastTransactionOf.set(event.delivery_id, tx);
    // Every event writes before it may fail, so a failure has something of its own to take back.
    await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'test.applied', coalesceKey: null, payload: { delivery_id: event.delivery_id } });
    const failure = failures.get(event.delivery_id);
    if (failure === 'throw') throw new AppError('test.broken', `${event.delivery_id} cannot be applied`);
    if (failure === 'bad-statement') {
      // A statement the database refuses: on PostgreSQL it aborts the whole transaction unless
      // rolled back to the event's savepoint.
      await tx.insertInto('inbox_events').values({ ...event, payload: '{}' }).execute();
    }
    return { outcome: 'processed' as const };
  };
  const metrics = createMetrics();
  const worker = createSyncWorker({ db, logger: pino({ level: 'silent' }), metrics, handleInboxEvent, deliverers: {} });
  return {
    db, worker, transactions, lastTransactionOf,
    /** continuum_inbox_events_total by outcome, as /metrics shows it. */
    async countedOutcomes() {
      const { values } = await metrics.inboxEvents.get();
      return Object.fromEntries(values.map((value) => [value.labels.outcome, value.value]));
    },
    fail: (deliveryId: string, failure: Failure) => void failures.set(deliveryId, failure),
    async store(deliveryId: string) {
      const result = await storeInboxEvent(db, { merchantId, source: 'shopify', topic: 'orders/create', deliveryId, eventKey: null, headers: {}, payload: '{}', triggeredAt: null, resourceKey: `shopify:order:${deliveryId}` });
      assert.ok(result.stored);
    },
    event: (deliveryId: string) => db.selectFrom('inbox_events').select(['status', 'attempts', 'error']).where('delivery_id', '=', deliveryId).executeTakeFirstOrThrow(),
    async outboxFor() {
      const rows = await db.selectFrom('outbox_events').select('payload').where('kind', '=', 'test.applied').execute();
      return rows.map((row) => (JSON.parse(row.payload) as { delivery_id: string }).delivery_id).sort();
    },
  };
}

for (const dialect of DIALECTS) {
  for (const failure of ['throw', 'bad-statement'] as const) {
    test(`[${dialect}] an event that fails (${failure === 'throw' ? 'its handler throws' : 'the database refuses a statement'}) in a shared transaction takes back only its own writes and is retried; the others stay applied once`, async (t) => {
      const harness = await openHarness(t, dialect);
      for (const deliveryId of ['order-1', 'order-2', 'order-3']) await harness.store(deliveryId);
      harness.fail('order-2', failure);

      await harness.worker.runOnce();

      assert.deepEqual(await harness.outboxFor(), ['order-1', 'order-3'], "the failed event's outbox message was rolled back with it, the others' kept");
      const lastTransactions = new Set(['order-1', 'order-2', 'order-3'].map((deliveryId) => harness.lastTransactionOf.get(deliveryId)));
      assert.equal(lastTransactions.size, 1, 'the three events ran in one transaction');
      assert.deepEqual(await harness.countedOutcomes(), { processed: 2, retry: 1 }, 'each applied event counted once, the failed one as a retry');
      assert.deepEqual((await harness.event('order-1')).status, 'processed');
      assert.deepEqual((await harness.event('order-3')).status, 'processed');
      const failed = await harness.event('order-2');
      assert.deepEqual([failed.status, failed.attempts], ['received', 1], 'a failed attempt, retried later with backoff');
      assert.ok(failed.error, 'the reason is kept');

      await harness.worker.runOnce();
      assert.deepEqual(await harness.outboxFor(), ['order-1', 'order-3'], 'nothing applied twice');
    });
  }

  test(`[${dialect}] a round of more events than one transaction holds commits them in several transactions, each event once`, async (t) => {
    const harness = await openHarness(t, dialect);
    const count = inboxEventsPerTransactionMax + 3;
    for (let index = 0; index < count; index += 1) await harness.store(`order-${index}`);

    await harness.worker.drain();

    assert.equal((await harness.outboxFor()).length, count);
    assert.equal(new Set(harness.transactions).size, 2);
    const statuses = await harness.db.selectFrom('inbox_events').select('status').distinct().execute();
    assert.deepEqual(statuses, [{ status: 'processed' }]);
  });
}

// A channel that answers slowly (Shopify's throttle, a request running to its 10 s limit) must not
// hold back applying what arrives: the register would not see an online order until it answered.
for (const dialect of DIALECTS) {
  test(`[${dialect}] while a delivery hangs, the running worker still applies a webhook that arrives`, async (t) => {
    const harness = await openHarness(t, dialect);
    let releaseDelivery!: () => void;
    const deliveryHangs = new Promise<void>((resolve) => { releaseDelivery = resolve; });
    let deliveryStarted!: () => void;
    const started = new Promise<void>((resolve) => { deliveryStarted = resolve; });
    const worker = createSyncWorker({
      db: harness.db, logger: pino({ level: 'silent' }), metrics: createMetrics(), pollIntervalMs: 10,
      handleInboxEvent: async () => ({ outcome: 'processed' as const }),
      deliverers: { slow: async () => { deliveryStarted(); await deliveryHangs; } },
    });
    await enqueueOutbox(harness.db, merchantId, { destination: 'slow', kind: 'test.slow', coalesceKey: null, payload: {} });
    worker.start();
    t.after(async () => {
      releaseDelivery();
      await worker.stop();
    });
    await started;

    await harness.store('order-during-slow-delivery');
    worker.wake();
    const deadline = Date.now() + 10_000;
    while ((await harness.event('order-during-slow-delivery')).status !== 'processed' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));

    assert.equal((await harness.event('order-during-slow-delivery')).status, 'processed', 'applied while the delivery still waits for its channel');
    const slow = await harness.db.selectFrom('outbox_events').select('status').where('kind', '=', 'test.slow').executeTakeFirstOrThrow();
    assert.equal(slow.status, 'delivering', 'the delivery was still under way');
    releaseDelivery();
    await worker.stop();
    assert.equal((await harness.db.selectFrom('outbox_events').select('status').where('kind', '=', 'test.slow').executeTakeFirstOrThrow()).status, 'delivered');
  });
}

// A batch of orders of the same SKUs changes the same pending stock push again and again: applied
// whole, the batch counts those changes and writes them once before its commit
// (`deferOutboxAbsorbs`). What must not change: one message per key, carrying every change applied,
// and none of a failed event's.
for (const dialect of DIALECTS) {
  test(`[${dialect}] events of one batch changing the same pending message leave one message counting every change applied, across batches and when an event fails`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const failing = new Set<string>();
    const worker = createSyncWorker({
      db, logger: pino({ level: 'silent' }), metrics: createMetrics(), deliverers: {},
      handleInboxEvent: async (tx: Tx, event: InboxEvent) => {
        await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'test.stock', coalesceKey: 'stock:sku-1', payload: {} });
        if (failing.has(event.delivery_id)) throw new AppError('test.broken', `${event.delivery_id} cannot be applied`);
        return { outcome: 'processed' as const };
      },
    });
    const store = async (deliveryId: string) => {
      assert.ok((await storeInboxEvent(db, { merchantId, source: 'shopify', topic: 'orders/create', deliveryId, eventKey: null, headers: {}, payload: '{}', triggeredAt: null, resourceKey: `shopify:order:${deliveryId}` })).stored);
    };
    const messages = () => db.selectFrom('outbox_events').select(['status', 'superseded']).where('coalesce_key', '=', 'stock:sku-1').execute();

    for (let index = 1; index <= 10; index += 1) await store(`first-${index}`);
    await worker.runOnce();
    assert.deepEqual(await messages(), [{ status: 'pending', superseded: 9 }], 'one message, the nine later changes counted');

    for (let index = 1; index <= 3; index += 1) await store(`second-${index}`);
    await worker.runOnce();
    assert.deepEqual(await messages(), [{ status: 'pending', superseded: 12 }], 'the next batch absorbs into the same message');

    failing.add('third-3');
    for (let index = 1; index <= 5; index += 1) await store(`third-${index}`);
    await worker.runOnce();
    assert.equal((await harnessStatus(db, 'third-3')), 'received', 'the failed event waits for its retry');
    assert.deepEqual(await messages(), [{ status: 'pending', superseded: 16 }], 'the four applied events counted, not the failed one');
  });
}

async function harnessStatus(db: Parameters<typeof storeInboxEvent>[0], deliveryId: string): Promise<string> {
  return (await db.selectFrom('inbox_events').select('status').where('delivery_id', '=', deliveryId).executeTakeFirstOrThrow()).status;
}
