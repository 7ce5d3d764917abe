import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Db, DialectName } from '../../src/db/index.ts';
import { seedDemoMerchant, type DemoMerchant } from '../../src/demo/demo-merchant.ts';
import { DIALECTS, openTestDatabase } from '../support/databases.ts';
import { testAdminKey, testPosKey, testShopDomain, testShopifySecret, testSquareMerchantRef, testSquareNotificationUrl, testSquareSignatureKey } from '../support/engine-harness.ts';
import { engineDatabaseUrl, findFreePort, spawnEngine, stopEngines, waitUntilHealthy, type EngineProcess } from '../support/engine-processes.ts';
import { findInvariantViolations, shopifyOrderBody, signedShopifyHeaders, waitFor } from './fault-support.ts';

// Issue #9: an engine process killed with SIGKILL at random moments under load (Shopify webhooks,
// register sales, returns to store credit and to the original payment), restarted on the same
// database, again and again. The load behaves as channels and registers do: every request is sent
// again until it is acknowledged, with the same ids. Proven afterwards: every acknowledgement the
// load got is in the database (an acknowledged webhook's order exists, an acknowledged sale is the
// order it named, an acknowledged return exists); every ledger balances and every stock level
// equals its movements; nothing was applied twice (one order per source ref, one earn per order,
// one movement per source key, one inbox row per delivery).
//
// FAULT_KILL_ROUNDS sets the kills (default 10, as issue #9 asks, so every CI run proves it: about
// 30 s per dialect on the 2-core machine); FAULT_SEED replays a run.

function readPositiveInteger(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer from 1 to ${max} (got "${raw}")`);
  return value;
}

const killRounds = readPositiveInteger('FAULT_KILL_ROUNDS', 10, 100);
const seed = readPositiveInteger('FAULT_SEED', Math.floor(Math.random() * 1_000_000) + 1, 2 ** 31);
const clientsCount = 6;
const customersCount = 8;
const loadMsBeforeKillMin = 300;
const loadMsBeforeKillMax = 1_500;
const requestTimeoutMs = 5_000;
const retryPauseMs = 50;
const acknowledgementWaitMsMax = 60_000;
const settleWaitMsMax = 60_000;
const testTimeoutMs = 60_000 + killRounds * 15_000;
const orderIdBase = 8_100_000_000_000;
const customerIdBase = 7_500_000_000_000;
const registerId = 'kill-register';

/** A small deterministic generator (mulberry32), so a failing run can be replayed with FAULT_SEED. */
function seededRandom(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Operation =
  | { kind: 'webhook'; index: number; orderId: number; body: Buffer; webhookId: string }
  | { kind: 'sale'; index: number; saleId: string; body: object }
  | { kind: 'return'; index: number; returnRef: string; body: object };

interface Acknowledgement {
  operation: Operation;
  status: number;
  body: any;
  /** Requests the operation took: more than one when a kill (or a 503) ate an answer. */
  attempts: number;
}

interface LoadState {
  baseUrl: string;
  storeId: string;
  stopping: boolean;
  nextIndex: number;
  acknowledged: Acknowledgement[];
  /** Sales acknowledged and not yet returned: what a return may take back. */
  returnable: { orderId: string; lineId: string }[];
  unexpected: string[];
  unansweredAttempts: number;
}

function customerOf(index: number): { email: string; shopifyId: number } {
  const number = index % customersCount;
  return { email: `crash${number}@example.com`, shopifyId: customerIdBase + number };
}

/** The next operation: webhooks and sales in turn, and a return of an acknowledged sale every fourth. */
function nextOperation(state: LoadState): Operation {
  const index = state.nextIndex++;
  const customer = customerOf(index);
  if (index % 4 === 3 && state.returnable.length > 0) {
    const sale = state.returnable.shift()!;
    const returnRef = `KR-${index}`;
    return { kind: 'return', index, returnRef, body: { order_id: sale.orderId, return_ref: returnRef, location_id: state.storeId, lines: [{ order_line_id: sale.lineId, quantity: 1 }], refund_method: index % 8 === 3 ? 'store_credit' : 'original' } };
  }
  if (index % 2 === 0) {
    const orderId = orderIdBase + index;
    return { kind: 'webhook', index, orderId, body: shopifyOrderBody(orderId, customer.shopifyId, customer.email), webhookId: `kill-order-${index}` };
  }
  const saleId = `K-${index}`;
  return { kind: 'sale', index, saleId, body: { sale_id: saleId, register_id: registerId, location_id: state.storeId, customer: { email: customer.email }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 2 }] } };
}

async function sendOnce(state: LoadState, operation: Operation): Promise<{ status: number; body: any }> {
  const request = operation.kind === 'webhook'
    ? { path: '/webhooks/shopify', headers: signedShopifyHeaders(operation.body, 'orders/create', operation.webhookId), body: new Uint8Array(operation.body) }
    : { path: operation.kind === 'sale' ? '/v1/pos/sales' : '/v1/returns', headers: { 'content-type': 'application/json', authorization: `Bearer ${testPosKey}` }, body: JSON.stringify(operation.body) };
  const response = await fetch(`${state.baseUrl}${request.path}`, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(requestTimeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* kept as text for the report */ }
  return { status: response.status, body };
}

/** Sends one operation until it is acknowledged (2xx), as a channel or a register would; 503 and lost connections are retried. */
async function untilAcknowledged(state: LoadState, operation: Operation): Promise<void> {
  const deadline = Date.now() + acknowledgementWaitMsMax;
  for (let attempts = 1; ; attempts += 1) {
    if (Date.now() > deadline) {
      state.unexpected.push(`${operation.kind} ${operation.index}: not acknowledged within ${acknowledgementWaitMsMax} ms`);
      return;
    }
    let answer: { status: number; body: any };
    try {
      answer = await sendOnce(state, operation);
    } catch {
      // The engine was killed under the request (its answer, if any, is lost), or is not up yet.
      state.unansweredAttempts += 1;
      await new Promise((resolve) => setTimeout(resolve, retryPauseMs));
      continue;
    }
    if (answer.status === 503) {
      await new Promise((resolve) => setTimeout(resolve, retryPauseMs));
      continue;
    }
    if (answer.status < 200 || answer.status >= 300) {
      state.unexpected.push(`${operation.kind} ${operation.index}: answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 400)}`);
      return;
    }
    state.acknowledged.push({ operation, status: answer.status, body: answer.body, attempts });
    if (operation.kind === 'sale') state.returnable.push({ orderId: answer.body.data.order.id, lineId: answer.body.data.order.lines[0].id });
    return;
  }
}

async function runClient(state: LoadState): Promise<void> {
  while (!state.stopping) await untilAcknowledged(state, nextOperation(state));
}

async function postAsAdmin(baseUrl: string, path: string, body: object): Promise<void> {
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${testAdminKey}` }, body: JSON.stringify(body), signal: AbortSignal.timeout(requestTimeoutMs) });
  assert.ok(response.ok, `${path}: ${response.status} ${await response.text()}`);
}

async function seedDatabase(dialect: DialectName, t: TestContext) {
  const database = await openTestDatabase(dialect);
  t.after(() => database.dispose());
  const demo = await seedDemoMerchant(database.handle.db, {
    shopDomain: testShopDomain, shopifySecret: testShopifySecret, shopifyAdminApiUrl: null, shopifyAccessToken: null,
    squareMerchantRef: testSquareMerchantRef, squareSignatureKey: testSquareSignatureKey, squareNotificationUrl: testSquareNotificationUrl, adminApiKey: testAdminKey, posApiKey: testPosKey,
  });
  return { database, demo };
}

/** Every acknowledgement the load got, looked up in the database; returns what is missing. */
async function findMissingAcknowledgements(db: Db, demo: DemoMerchant, acknowledged: Acknowledgement[]): Promise<string[]> {
  const missing: string[] = [];
  const orders = new Map((await db.selectFrom('orders').select(['id', 'source', 'source_ref']).where('merchant_id', '=', demo.merchant.id).execute()).map((row) => [`${row.source}:${row.source_ref}`, row.id]));
  const returns = new Set((await db.selectFrom('returns').select('id').where('merchant_id', '=', demo.merchant.id).execute()).map((row) => row.id));
  const deliveries = new Set((await db.selectFrom('inbox_events').select('delivery_id').where('merchant_id', '=', demo.merchant.id).execute()).map((row) => row.delivery_id));
  for (const ack of acknowledged) {
    const { operation } = ack;
    if (operation.kind === 'webhook') {
      if (!deliveries.has(operation.webhookId)) missing.push(`webhook ${operation.webhookId} acknowledged but not stored`);
      if (!orders.has(`shopify:${operation.orderId}`)) missing.push(`webhook ${operation.webhookId} acknowledged but its order ${operation.orderId} was never applied`);
    } else if (operation.kind === 'sale') {
      const orderId = orders.get(`pos:${registerId}:${operation.saleId}`);
      if (orderId !== ack.body.data.order.id) missing.push(`sale ${operation.saleId} acknowledged as ${ack.body.data.order.id}, held as ${orderId ?? 'nothing'}`);
    } else if (!returns.has(ack.body.data.id)) {
      missing.push(`return ${operation.returnRef} acknowledged as ${ack.body.data.id} but not held`);
    }
  }
  return missing;
}

async function killUnderLoad(dialect: DialectName, t: TestContext): Promise<void> {
  const random = seededRandom(seed);
  const { database, demo } = await seedDatabase(dialect, t);
  const databaseUrl = engineDatabaseUrl(database);
  const port = await findFreePort();
  const engines: EngineProcess[] = [];
  t.after(() => stopEngines(engines));
  const start = async (index: number) => {
    const engine = spawnEngine(index, databaseUrl, port, { WORKER_POLL_INTERVAL_MS: '50' });
    engines.push(engine);
    await waitUntilHealthy([engine]);
    return engine;
  };

  const state: LoadState = { baseUrl: `http://127.0.0.1:${port}`, storeId: demo.store.id, stopping: false, nextIndex: 0, acknowledged: [], returnable: [], unexpected: [], unansweredAttempts: 0 };
  let engine = await start(0);
  // Enough stock that no sale is refused: the faults, not the shelves, are under test.
  await postAsAdmin(state.baseUrl, '/v1/inventory/receive', { location_id: demo.store.id, sku: 'SKU-BEANIE-01', quantity: 100_000 });
  await postAsAdmin(state.baseUrl, '/v1/inventory/receive', { location_id: demo.warehouse.id, sku: 'SKU2006-001', quantity: 100_000 });
  const clients = Array.from({ length: clientsCount }, () => runClient(state));

  const kills: { afterMs: number; acknowledgedBefore: number }[] = [];
  for (let round = 1; round <= killRounds; round += 1) {
    const afterMs = Math.round(loadMsBeforeKillMin + random() * (loadMsBeforeKillMax - loadMsBeforeKillMin));
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    kills.push({ afterMs, acknowledgedBefore: state.acknowledged.length });
    engine.child.kill('SIGKILL');
    await engine.exited;
    engine = await start(round);
  }
  await new Promise((resolve) => setTimeout(resolve, loadMsBeforeKillMin));
  state.stopping = true;
  await Promise.all(clients);

  const db = database.handle.db;
  // The last engine's worker applies what the inbox holds (the killed ones applied some, or none).
  await waitFor(async () => Number((await db.selectFrom('inbox_events').select((eb) => eb.fn.countAll<number>().as('count')).where('status', '=', 'received').executeTakeFirstOrThrow()).count) === 0,
    settleWaitMsMax, async () => `inbox events still waiting: ${JSON.stringify(await db.selectFrom('inbox_events').select(['delivery_id', 'attempts', 'error']).where('status', '=', 'received').limit(5).execute())}`);
  await stopEngines(engines);

  const byKind = (kind: Operation['kind']) => state.acknowledged.filter((ack) => ack.operation.kind === kind);
  const replayed = state.acknowledged.filter((ack) => ack.attempts > 1);
  t.diagnostic(`seed ${seed}: ${killRounds} kills after ${kills.map((kill) => `${kill.afterMs} ms`).join(', ')}; ${byKind('webhook').length} webhooks, ${byKind('sale').length} sales and ${byKind('return').length} returns acknowledged; ${state.unansweredAttempts} requests unanswered (killed under them, or sent while the engine restarted), ${replayed.length} operations acknowledged on a later attempt (${replayed.filter((ack) => (ack.operation.kind === 'webhook' ? ack.body.duplicate === true : ack.status === 200)).length} of them found already recorded: committed, but the answer was lost)`);

  assert.deepEqual(state.unexpected, [], 'every operation was acknowledged with a 2xx in the end');
  assert.ok(byKind('webhook').length > 0 && byKind('sale').length > 0 && byKind('return').length > 0, 'the load reached every kind of operation');
  assert.ok(kills.every((kill, index) => index === 0 || kill.acknowledgedBefore > 0), 'the load was running at each kill');
  assert.deepEqual(await findMissingAcknowledgements(db, demo, state.acknowledged), [], 'everything acknowledged is there');
  assert.deepEqual(await findInvariantViolations(db), [], 'ledgers balance, stock equals movements, nothing applied twice');
  const failed = await db.selectFrom('inbox_events').select(['delivery_id', 'error']).where('status', '=', 'failed').execute();
  assert.deepEqual(failed, [], 'no inbox event failed');
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] an engine killed with SIGKILL ${killRounds} times under webhooks, sales and returns loses no acknowledged write, applies nothing twice, and its ledgers and stock balance`, { timeout: testTimeoutMs }, async (t) => {
    await killUnderLoad(dialect, t);
  });
}
