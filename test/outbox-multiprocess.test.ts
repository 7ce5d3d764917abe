import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { DialectName } from '../src/db/index.ts';
import { createWebhookSubscription, emitMerchantEvent } from '../src/sync/index.ts';
import { DIALECTS } from './support/databases.ts';
import { openEngineCluster, waitUntilNoneLeft } from './support/engine-cluster.ts';
import { errorLines } from './support/engine-processes.ts';

// Issue #7's scale-out proof for the outbox: several `continuum serve` processes share one database
// and deliver one outbox. On PostgreSQL they claim messages `FOR UPDATE SKIP LOCKED`; on SQLite
// their claims take turns (transactions begin IMMEDIATE). While the engines run, the test adds
// events for two webhook subscribers in batches; the subscriber (a loopback server) counts the
// deliveries it accepted per `webhook-id`, which is the outbox message id. Every message must be
// accepted exactly once: none twice, none skipped. One message in twenty is refused on its first
// attempt, so retries are claimed across processes too.

const postgresProcessCount = 3;
const sqliteProcessCount = 2;
const eventBatches = 6;
const eventsPerBatch = 50;
const subscriberCount = 2;
const refusedEvery = 20;
const deliveryWaitMsMax = 90_000;
const pollIntervalMs = 200;
const testTimeoutMs = 150_000;

interface Subscriber {
  url: string;
  /** Accepted deliveries (2xx) per webhook-id. */
  accepted: Map<string, number>;
  refused: Set<string>;
  close(): Promise<void>;
}

/** The merchant's system: refuses the first attempt of every twentieth event, accepts everything else. */
async function startSubscriber(): Promise<Subscriber> {
  const accepted = new Map<string, number>();
  const refused = new Set<string>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    request.on('end', () => {
      const webhookId = String(request.headers['webhook-id']);
      const sequence = (JSON.parse(body) as { data: { sequence: number } }).data.sequence;
      if (sequence % refusedEvery === 0 && !refused.has(webhookId)) {
        refused.add(webhookId);
        response.writeHead(503).end();
        return;
      }
      accepted.set(webhookId, (accepted.get(webhookId) ?? 0) + 1);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, accepted, refused, close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }) };
}

async function runDeliveryRace(dialect: DialectName, processCount: number, t: TestContext): Promise<void> {
  const subscriber = await startSubscriber();
  const { database, demo, startEngines } = await openEngineCluster(dialect, t, { afterEnginesStop: () => subscriber.close() })
    .catch(async (error: unknown) => { await subscriber.close(); throw error; });
  const db = database.handle.db;
  for (let index = 0; index < subscriberCount; index += 1) {
    await createWebhookSubscription(db, demo.merchant.id, { url: `${subscriber.url}/${index}`, eventTypes: ['loyalty.points_earned'], secret: `whsec_${Buffer.from(`subscriber ${index} secret`).toString('base64')}` });
  }
  const engines = await startEngines(processCount, { WORKER_POLL_INTERVAL_MS: '50' });

  const startedAt = Date.now();
  for (let batch = 0; batch < eventBatches; batch += 1) {
    await db.transaction().execute(async (tx) => {
      for (let index = 0; index < eventsPerBatch; index += 1) {
        const sequence = batch * eventsPerBatch + index;
        await emitMerchantEvent(tx, demo.merchant.id, 'loyalty.points_earned', { sequence, points: sequence });
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const undelivered = async () => Number((await db.selectFrom('outbox_events').select((eb) => eb.fn.countAll<number>().as('count')).where('status', '<>', 'delivered').executeTakeFirstOrThrow()).count);
  await waitUntilNoneLeft(engines, undelivered, (count) => `${count} message(s) still not delivered`, { waitMsMax: deliveryWaitMsMax, pollMs: pollIntervalMs });

  const messages = await db.selectFrom('outbox_events').select(['id', 'claimed_by', 'attempts']).where('destination', '=', 'merchant_webhook').execute();
  const expected = eventBatches * eventsPerBatch * subscriberCount;
  assert.equal(messages.length, expected);
  const deliveredTwice = [...subscriber.accepted].filter(([, count]) => count !== 1);
  assert.deepEqual(deliveredTwice, [], 'no message accepted twice');
  assert.deepEqual([...subscriber.accepted.keys()].sort(), messages.map((message) => message.id).sort(), 'every message accepted, none skipped');
  assert.equal(subscriber.refused.size, expected / refusedEvery, 'the refused first attempts were retried');
  assert.ok(messages.filter((message) => subscriber.refused.has(message.id)).every((message) => message.attempts === 1), 'a refused message was delivered on its retry');

  const deliveringPids = new Set(messages.map((message) => message.claimed_by?.split(':')[1]));
  const enginePids = engines.map((engine) => String(engine.child.pid));
  t.diagnostic(`${expected} messages over ${processCount} processes in ${Date.now() - startedAt} ms; delivered per process: ${enginePids.map((pid) => messages.filter((message) => message.claimed_by?.split(':')[1] === pid).length).join(', ')}`);
  assert.deepEqual([...deliveringPids].sort(), [...enginePids].sort(), 'every process delivered some of the messages, and only they did');
  for (const engine of engines) assert.deepEqual(errorLines(engine).slice(0, 3), [], `engine ${engine.index} logged errors`);
}

for (const dialect of DIALECTS) {
  const processCount = dialect === 'postgres' ? postgresProcessCount : sqliteProcessCount;
  test(`[${dialect}] ${processCount} engine processes deliver ${eventBatches * eventsPerBatch * subscriberCount} webhook messages added while they run: each accepted exactly once, none skipped`, { timeout: testTimeoutMs }, async (t) => runDeliveryRace(dialect, processCount, t));
}
