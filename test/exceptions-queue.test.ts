import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestClock, installClock } from '../src/shared/clock.ts';
import { enqueueOutbox, raiseException, type ExceptionKind } from '../src/sync/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';
import { runContinuumCli } from './support/engine-processes.ts';
import { driveOutbox } from './support/outbox-time.ts';

// Issue #7's exceptions queue and replay, through the API (and `continuum replay`): an exception
// moves open → assigned / in progress → resolved | dismissed and back by reopening, each action
// only from the states it is allowed in, each written to the audit log and shown as the
// exception's history; the list filters and pages with a cursor. A failed sync offers a retry that
// replays its dead message, and the exception follows the delivery. Replay never copies a message.

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

async function raise(harness: TestEngine, kind: ExceptionKind, subject: string): Promise<string> {
  await raiseException(harness.engine.database.db, harness.demo.merchant.id, { kind, dedupeKey: `test:${kind}:${subject}`, subject, details: { note: `a ${kind} about ${subject}` } });
  const [row] = (await harness.request('GET', `/v1/exceptions?subject=${encodeURIComponent(subject)}`)).body.data;
  return row.id;
}

async function post(harness: TestEngine, url: string, body?: unknown) {
  return harness.request('POST', url, body === undefined ? {} : { body });
}

/** Runs `continuum replay` against the test's database and returns what it printed. */
function runReplayCli(harness: TestEngine, args: string[]) {
  return runContinuumCli(harness.databaseLocation, ['replay', ...args]);
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] an exception is assigned, dismissed, reopened and resolved by API, each action audited and shown as its history; wrong moves are 409s`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const id = await raise(harness, 'unmapped_sku', 'SKU-LOST-1');

    const fresh = (await harness.request('GET', `/v1/exceptions/${id}`)).body.data;
    assert.equal(fresh.state, 'open');
    assert.deepEqual(fresh.actions, ['assign', 'resolve', 'dismiss'], 'an unmapped SKU offers no retry');
    const assigned = await post(harness, `/v1/exceptions/${id}/assign`, { owner: 'ana@store.example' });
    assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
    assert.deepEqual([assigned.body.data.state, assigned.body.data.owner], ['assigned', 'ana@store.example']);
    const dismissed = await post(harness, `/v1/exceptions/${id}/dismiss`, { reason: 'the SKU was retired' });
    assert.deepEqual([dismissed.body.data.state, dismissed.body.data.resolution], ['dismissed', 'the SKU was retired']);
    assert.ok(dismissed.body.data.resolved_at);
    assert.deepEqual(dismissed.body.data.actions, ['reopen']);

    const dismissAgain = await post(harness, `/v1/exceptions/${id}/dismiss`, {});
    assert.equal(dismissAgain.status, 409, 'a closed exception is not dismissed twice');
    assert.equal(dismissAgain.body.error.code, 'exceptions.conflict');
    assert.equal((await post(harness, `/v1/exceptions/${id}/assign`, { owner: 'bob' })).status, 409, 'a closed exception takes no owner');

    const reopened = await post(harness, `/v1/exceptions/${id}/reopen`, { reason: 'the SKU is back' });
    assert.deepEqual([reopened.body.data.state, reopened.body.data.owner, reopened.body.data.resolution, reopened.body.data.resolved_at], ['assigned', 'ana@store.example', null, null], 'back to its owner');
    assert.equal((await post(harness, `/v1/exceptions/${id}/reopen`, {})).status, 409, 'an active exception is not reopened');
    const resolved = await post(harness, `/v1/exceptions/${id}/resolve`, { resolution: 'mapped to SKU-NEW-1' });
    assert.deepEqual([resolved.body.data.state, resolved.body.data.resolution], ['resolved', 'mapped to SKU-NEW-1']);

    const history = resolved.body.data.history as { action: string; actor: string; details: { from?: string; to?: string } }[];
    assert.deepEqual(history.map((entry) => `${entry.action}:${entry.details.from ?? ''}>${entry.details.to ?? ''}`), [
      'exceptions.raise:>', 'exceptions.assign:open>assigned', 'exceptions.dismiss:assigned>dismissed', 'exceptions.reopen:dismissed>assigned', 'exceptions.resolve:assigned>resolved',
    ]);
    assert.ok(history.slice(1).every((entry) => entry.actor.startsWith('api:')), 'each action names the key that took it');

    const other = await raise(harness, 'oversell', 'SKU-OVER-1');
    const retryOversell = await post(harness, `/v1/exceptions/${other}/retry`);
    assert.equal(retryOversell.status, 422, 'only a failed sync can be retried');
    assert.equal(retryOversell.body.error.code, 'exceptions.invalid_action');
    assert.equal((await post(harness, '/v1/exceptions/exc_missing/assign', { owner: 'x' })).status, 404);
    assert.equal((await post(harness, `/v1/exceptions/${other}/assign`, { owner: '' })).status, 400, 'an owner is named');
  });

  test(`[${dialect}] the exceptions list filters by state, kind, owner, subject and time, and pages newest first with a cursor`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const ids: string[] = [];
    for (let index = 0; index < 7; index += 1) ids.push(await raise(harness, index % 2 === 0 ? 'unmapped_sku' : 'oversell', `SUBJECT-${index}`));
    await post(harness, `/v1/exceptions/${ids[1]}/assign`, { owner: 'ana' });
    await post(harness, `/v1/exceptions/${ids[3]}/assign`, { owner: 'ana' });
    await post(harness, `/v1/exceptions/${ids[5]}/dismiss`, {});

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: { id: string }[]; next_cursor: string | null } } = await harness.request('GET', `/v1/exceptions?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(page.body.data.map((row) => row.id));
      cursor = page.body.next_cursor;
    } while (cursor && pages.length < 10);
    assert.deepEqual(pages.map((page) => page.length), [3, 3, 1]);
    assert.deepEqual(pages.flat(), [...ids].reverse(), 'every exception once, newest first');

    const idsOf = async (query: string) => (await harness.request('GET', `/v1/exceptions?${query}`)).body.data.map((row: { id: string }) => row.id).sort();
    assert.deepEqual(await idsOf('owner=ana'), [ids[1], ids[3]].sort());
    assert.deepEqual(await idsOf('state=assigned&kind=oversell'), [ids[1], ids[3]].sort());
    assert.deepEqual(await idsOf('state=dismissed'), [ids[5]]);
    assert.deepEqual(await idsOf('state=active&kind=oversell'), [ids[1], ids[3]].sort());
    assert.deepEqual(await idsOf('kind=unmapped_sku&state=open'), [ids[0], ids[2], ids[4], ids[6]].sort());
    assert.deepEqual(await idsOf('subject=SUBJECT-4'), [ids[4]]);
    assert.deepEqual(await idsOf(`since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), []);
    assert.equal((await idsOf('since=2000-01-01T00:00:00Z')).length, 7);

    const badCursor = await harness.request('GET', '/v1/exceptions?cursor=not-a-cursor');
    assert.equal(badCursor.status, 400);
    assert.equal(badCursor.body.error.details.field, 'cursor');
    assert.equal((await harness.request('GET', '/v1/exceptions?state=closed')).status, 400);
    assert.equal((await harness.request('GET', '/v1/exceptions?since=yesterday')).status, 400);
    assert.equal((await harness.request('GET', '/v1/exceptions?limit=1000')).status, 400);

    const metrics = (await harness.request('GET', '/metrics', { key: '' })).body as string;
    assert.match(metrics, /continuum_exceptions_active\{kind="unmapped_sku"\} 4/);
    assert.match(metrics, /continuum_exceptions_active\{kind="oversell"\} 2/, 'the dismissed one is not active');
  });

  test(`[${dialect}] a failed sync's retry replays its dead message; when it dies again the exception opens again, and when it is delivered it is resolved`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'RETRY-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    harness.fake.failNext(1_000_000_000, 503);
    const dies = () => driveOutbox(harness, clock, { untilMs: clock.nowMs() + 3 * dayMs, stopWhen: async () => (await harness.request('GET', '/v1/outbox?status=dead')).body.data.length > 0 });
    await dies();
    const [exception] = (await harness.request('GET', '/v1/exceptions?kind=sync_failed')).body.data;
    assert.ok(exception, 'the dead letter is raised');
    assert.deepEqual((await harness.request('GET', `/v1/exceptions/${exception.id}`)).body.data.actions, ['assign', 'resolve', 'dismiss', 'retry']);

    const retried = await post(harness, `/v1/exceptions/${exception.id}/retry`);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.deepEqual([retried.body.data.state, retried.body.data.replay.outcome], ['in_progress', 'requeued']);
    assert.equal((await post(harness, `/v1/exceptions/${exception.id}/retry`)).body.data.replay.outcome, 'already_pending', 'a second retry copies nothing');
    await dies();
    const reopened = (await harness.request('GET', `/v1/exceptions/${exception.id}`)).body.data;
    assert.equal(reopened.state, 'open', 'the replayed message died again: the case is open again');
    assert.equal((await harness.request('GET', '/v1/exceptions?kind=sync_failed')).body.data.length, 1, 'the same case, not a second one');

    harness.fake.failNext(0);
    assert.equal((await post(harness, `/v1/exceptions/${exception.id}/retry`)).status, 200);
    await driveOutbox(harness, clock, { untilMs: clock.nowMs() + hourMs, stopWhen: async () => (await harness.request('GET', '/v1/outbox?status=delivered')).body.data.some((row: { id: string }) => row.id === exception.subject) });
    const done = (await harness.request('GET', `/v1/exceptions/${exception.id}`)).body.data;
    assert.deepEqual([done.state, done.resolution], ['resolved', 'delivered on replay']);
    assert.deepEqual(done.history.map((entry: { action: string }) => entry.action), ['exceptions.raise', 'exceptions.retry', 'exceptions.retry', 'exceptions.reopen', 'exceptions.retry', 'exceptions.resolve']);
    const metrics = (await harness.request('GET', '/metrics', { key: '' })).body as string;
    assert.match(metrics, /continuum_outbox_dead_letters_total\{destination="shopify"\} 2/);
    assert.match(metrics, /continuum_outbox_replays_total\{destination="shopify"\} 2/);
  });

  test(`[${dialect}] replay re-queues a delivered or dead message as the same message, never copies a pending one, and defers to a newer pending message with the same key; continuum replay does the same`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    await harness.engine.worker.drain();
    const [delivered] = (await harness.request('GET', '/v1/outbox?status=delivered&kind=inventory.push&destination=shopify')).body.data;
    const requestsBefore = harness.fake.requests.length;

    const replayed = await post(harness, '/v1/outbox/replay', { id: delivered.id });
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    assert.deepEqual(replayed.body.data.map((result: { outcome: string; previous_status: string }) => [result.outcome, result.previous_status]), [['requeued', 'delivered']]);
    assert.equal((await post(harness, '/v1/outbox/replay', { id: delivered.id })).body.data[0].outcome, 'already_pending');
    await harness.engine.worker.drain();
    const again = (await harness.request('GET', '/v1/outbox?kind=inventory.push')).body.data.find((row: { id: string }) => row.id === delivered.id);
    assert.deepEqual([again.status, again.replays, again.attempts], ['delivered', 1, 0]);
    assert.equal(harness.fake.requests.slice(requestsBefore).filter((request) => request.operation.includes('inventorySetQuantities')).length, 1, 'delivered once more, once');

    // A dead push whose location and variant already have a newer pending push: replaying it would only repeat that one.
    await db.updateTable('outbox_events').set({ status: 'dead', attempts: 11, last_error: 'connectors.shopify.unavailable: 503' }).where('id', '=', delivered.id).execute();
    const payload = JSON.parse((await db.selectFrom('outbox_events').select('payload').where('id', '=', delivered.id).executeTakeFirstOrThrow()).payload) as { location_id: string; variant_id: string };
    await enqueueOutbox(db, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: `inventory.push:${payload.location_id}:${payload.variant_id}`, payload });
    const superseded = await post(harness, '/v1/outbox/replay', { destination: 'shopify' });
    assert.equal(superseded.body.data[0].outcome, 'superseded');
    assert.ok(superseded.body.data[0].pending_id);
    await harness.engine.worker.drain();

    assert.equal((await post(harness, '/v1/outbox/replay', {})).status, 400, 'an id, a destination or a kind is named');
    assert.equal((await post(harness, '/v1/outbox/replay', { id: delivered.id, kind: 'inventory.push' })).status, 400, 'an id goes alone');
    assert.equal((await post(harness, '/v1/outbox/replay', { id: 'out_missing' })).status, 404);
    assert.equal((await harness.request('POST', '/v1/outbox/replay', { body: { id: delivered.id }, key: 'ck_pos_test_key_for_the_journey' })).status, 403, 'replay needs an admin key');

    const cli = await runReplayCli(harness, ['--id', delivered.id]);
    assert.equal(cli.code, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { requeued: number; messages: { id: string; outcome: string }[] };
    assert.deepEqual([printed.requeued, printed.messages[0]?.id, printed.messages[0]?.outcome], [1, delivered.id, 'requeued']);
    const audit = await db.selectFrom('audit_log').select(['actor', 'action']).where('subject', '=', delivered.id).orderBy('created_at').execute();
    assert.deepEqual(audit.map((entry) => `${entry.actor} ${entry.action}`), [`api:${audit[0]!.actor.slice(4)} outbox.replay`, 'cli:replay outbox.replay']);
    const cliAgain = await runReplayCli(harness, ['--id', delivered.id]);
    assert.equal((JSON.parse(cliAgain.stdout) as { messages: { outcome: string }[] }).messages[0]?.outcome, 'already_pending');
  });
}
