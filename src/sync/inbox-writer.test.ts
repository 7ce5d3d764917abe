import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import type { Db, DialectName, WriterThread } from '../db/index.ts';
import { createWriterThread } from '../db/writer-thread.ts';
import { AppError } from '../shared/app-error.ts';
import { storeInboxEvent, type InboundEvent } from './inbox.ts';
import { createInboxWriter } from './inbox-writer.ts';

// The group committer of issue #9: the events of concurrent requests share one insert and one
// commit; each request still gets its own answer (stored or duplicate) with the inbox's exact dedupe
// rules, inside a batch as across batches; a batch that cannot be committed stores nothing and
// every request of it is refused, so nothing is acknowledged that was not stored.

/** Counts the INSERT statements that reach the database: one per batch. */
class InsertCounter implements KyselyPlugin {
  inserts = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'InsertQueryNode') this.inserts += 1;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

function shopifyEvent(deliveryId: string, overrides: Partial<InboundEvent> = {}): InboundEvent {
  return {
    merchantId: 'mer_writer_test', source: 'shopify', topic: 'orders/create', deliveryId, eventKey: null,
    headers: { 'x-shopify-webhook-id': deliveryId }, payload: `{"id":"${deliveryId}"}`, triggeredAt: null, resourceKey: `shopify:order:${deliveryId}`, ...overrides,
  };
}

/** The database, and its writer thread when the test runs the writer on it. */
async function openWriterDatabase(t: TestContext, dialect: DialectName, onThread: boolean): Promise<{ db: Db; thread?: WriterThread }> {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  if (!onThread) return { db: database.handle.db };
  assert.ok(database.handle.writerThread, 'SQLite on a file and PostgreSQL offer a writer thread');
  return { db: database.handle.db, thread: database.handle.writerThread };
}

async function countRows(db: Db): Promise<number> {
  const row = await db.selectFrom('inbox_events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Makes every insert of an event with this delivery id fail, as a full disk or a lost connection would fail the statement. */
async function refuseDelivery(db: Db, dialect: DialectName, deliveryId: string): Promise<void> {
  if (dialect === 'sqlite') {
    await sql`create trigger refuse_inbox before insert on inbox_events when new.delivery_id = ${sql.lit(deliveryId)} begin select raise(abort, 'storage refused for the test'); end`.execute(db);
    return;
  }
  await sql.raw(`create function refuse_inbox() returns trigger language plpgsql as $$ begin if new.delivery_id = '${deliveryId}' then raise exception 'storage refused for the test'; end if; return new; end $$`).execute(db);
  await sql`create trigger refuse_inbox before insert on inbox_events for each row execute function refuse_inbox()`.execute(db);
}

for (const dialect of DIALECTS) for (const onThread of [false, true]) {
  const where = onThread ? `${dialect}, writer thread` : dialect;
  test(`[${where}] 300 concurrent writes are committed in 2 statements, every event stored once, duplicates recognised inside a batch as across batches (never by Event-Id alone)`, async (t) => {
    const { db, thread } = await openWriterDatabase(t, dialect, onThread);
    await storeInboxEvent(db, shopifyEvent('delivered-yesterday'));
    // With a plugin the insert is compiled for each batch (on the thread too): it counts batches.
    const counter = new InsertCounter();
    const writer = createInboxWriter({ db: db.withPlugin(counter), ...(thread ? { thread } : {}) });
    t.after(() => writer.close());

    const special = [
      shopifyEvent('d1', { eventKey: 'orders/create:E1' }),
      shopifyEvent('d1', { eventKey: 'orders/create:E9' }), // the same delivery again
      shopifyEvent('d3', { eventKey: 'orders/create:E1' }), // the same event under a new delivery id
      shopifyEvent('d4', { eventKey: 'orders/updated:E1' }), // the same merchant action, another topic: its own event
      shopifyEvent('sq-1', { source: 'square', topic: 'payment.updated' }), // no event key: only the delivery id dedupes
      shopifyEvent('sq-2', { source: 'square', topic: 'payment.updated' }),
      shopifyEvent('d1', { source: 'square', topic: 'payment.updated' }), // another source's delivery id space
      shopifyEvent('d1', { merchantId: 'mer_someone_else' }), // another merchant's
      shopifyEvent('delivered-yesterday'),
    ];
    const distinct = Array.from({ length: 300 - special.length }, (_, index) => shopifyEvent(`order-${index}`));
    const results = await Promise.all([...special, ...distinct].map((event) => writer.write(event)));

    assert.deepEqual(results.slice(0, special.length).map((result) => result.stored), [true, false, false, true, true, true, true, true, false]);
    assert.ok(results.slice(special.length).every((result) => result.stored), 'every distinct event is stored');
    assert.equal(counter.inserts, 2, 'one statement (one commit) per batch of up to 256');
    assert.equal(await countRows(db), 1 + 300 - 3);
    const storedIds = results.flatMap((result) => (result.stored ? [result.id] : []));
    assert.equal(new Set(storedIds).size, storedIds.length);
    const rows = await db.selectFrom('inbox_events').select(['id', 'delivery_id', 'resource_key', 'queue_position']).where('id', 'in', storedIds).execute();
    assert.equal(rows.length, storedIds.length, 'each answer names the row it stored');
    const positions = new Map(rows.map((row) => [row.id, Number(row.queue_position)]));
    const inOrder = storedIds.map((id) => positions.get(id)!);
    assert.deepEqual(inOrder, [...inOrder].sort((left, right) => left - right), 'queue positions follow the order the requests came in');
  });

  test(`[${where}] a batch that cannot be committed refuses every write of it with storage.unavailable and stores none of them; the next batch is stored`, async (t) => {
    const { db, thread } = await openWriterDatabase(t, dialect, onThread);
    await refuseDelivery(db, dialect, 'refused');
    const writer = createInboxWriter({ db, ...(thread ? { thread } : {}) });
    t.after(() => writer.close());

    const outcomes = await Promise.allSettled(['a', 'b', 'refused', 'c'].map((deliveryId) => writer.write(shopifyEvent(deliveryId))));

    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof AppError);
      assert.equal(outcome.reason.code, 'storage.unavailable');
      assert.equal(outcome.reason.details['reason'], 'commit_failed', 'the cause is logged, not sent');
    }
    assert.equal(await countRows(db), 0, 'nothing of the batch was stored, so nothing was acknowledged that is not stored');

    const later = await Promise.all(['a', 'b'].map((deliveryId) => writer.write(shopifyEvent(deliveryId))));
    assert.deepEqual(later.map((result) => result.stored), [true, true], 'the writer goes on after a failed batch; the channel\'s retry is stored');
  });

  test(`[${where}] a write whose guard no longer holds when its batch commits is refused with its own error and stores nothing; the rest of the batch is stored`, async (t) => {
    const { db, thread } = await openWriterDatabase(t, dialect, onThread);
    await storeInboxEvent(db, shopifyEvent('account-row'));
    const writer = createInboxWriter({ db, ...(thread ? { thread } : {}) });
    t.after(() => writer.close());
    const erased = () => new AppError('connectors.shopify.unauthenticated', 'No merchant has connected this shop');
    // Guards read the database in the committing transaction, as the webhook routes' account checks do.
    const kept = { key: 'account-kept', holds: db.selectFrom('inbox_events').select('id').where('delivery_id', '=', 'account-row').compile(), refuse: erased };
    const gone = { key: 'account-erased', holds: db.selectFrom('inbox_events').select('id').where('delivery_id', '=', 'account-gone').compile(), refuse: erased };

    const outcomes = await Promise.allSettled([
      writer.write(shopifyEvent('g1'), kept),
      writer.write(shopifyEvent('g2'), gone),
      writer.write(shopifyEvent('g3')),
      writer.write(shopifyEvent('g4'), kept),
    ]);

    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const refusal = outcomes[1];
    assert.ok(refusal?.status === 'rejected' && refusal.reason instanceof AppError && refusal.reason.code === 'connectors.shopify.unauthenticated');
    const stored = await db.selectFrom('inbox_events').select('delivery_id').orderBy('queue_position').execute();
    assert.deepEqual(stored.map((row) => row.delivery_id), ['account-row', 'g1', 'g3', 'g4']);
  });

  test(`[${where}] writes beyond the queue limit are refused at once (503), and close() commits what waits, then refuses`, async (t) => {
    const { db, thread } = await openWriterDatabase(t, dialect, onThread);
    const writer = createInboxWriter({ db, batchSizeMax: 2, queueSizeMax: 2, ...(thread ? { thread } : {}) });

    const first = [writer.write(shopifyEvent('q1')), writer.write(shopifyEvent('q2'))]; // a full batch: committing now
    const waiting = [writer.write(shopifyEvent('q3')), writer.write(shopifyEvent('q4'))]; // the queue is full
    await assert.rejects(writer.write(shopifyEvent('q5')), (error: AppError) => error.code === 'storage.unavailable' && error.details['reason'] === 'queue_full');
    const closing = writer.close();
    await assert.rejects(writer.write(shopifyEvent('q6')), (error: AppError) => error.code === 'storage.unavailable' && error.details['reason'] === 'stopping');
    await closing;

    assert.deepEqual((await Promise.all([...first, ...waiting])).map((result) => result.stored), [true, true, true, true]);
    assert.equal(await countRows(db), 4);
  });
}

if (DIALECTS.includes('sqlite')) {
  test('[sqlite] a writer thread that cannot run refuses its batch with 503, and the next batches are stored on the engine\'s connection', async (t) => {
    const { db } = await openWriterDatabase(t, 'sqlite', false);
    const directory = mkdtempSync(join(tmpdir(), 'continuum-broken-thread-'));
    t.after(() => rmSync(directory, { recursive: true, force: true }));
    const broken = createWriterThread(join(directory, 'missing.sqlite'), { busyTimeoutMs: 100 });
    const writer = createInboxWriter({ db, thread: broken });
    t.after(() => writer.close());

    await assert.rejects(writer.write(shopifyEvent('while-broken')), (error: AppError) => error.code === 'storage.unavailable' && error.details['reason'] === 'commit_failed');
    assert.equal(broken.available, false);
    const later = await Promise.all(['after-1', 'after-2'].map((deliveryId) => writer.write(shopifyEvent(deliveryId))));

    assert.deepEqual(later.map((result) => result.stored), [true, true]);
    assert.deepEqual((await db.selectFrom('inbox_events').select('delivery_id').orderBy('queue_position').execute()).map((row) => row.delivery_id), ['after-1', 'after-2'], 'the refused event was not stored; the channel sends it again');
  });
}
