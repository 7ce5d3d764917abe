import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { DialectName } from '../src/db/index.ts';
import type { DemoMerchant } from '../src/demo/demo-merchant.ts';
import { DIALECTS, type TestDatabase } from './support/databases.ts';
import { openEngineCluster } from './support/engine-cluster.ts';
import { testAdminKey, testPosKey } from './support/engine-harness.ts';
import { errorLines, type EngineProcess } from './support/engine-processes.ts';

// Issue #5's proof that stock is never oversold when the buyers reach different engine processes.
// The in-process race in pickup-and-stock.test.ts shares one connection pool (on SQLite, one
// connection), so it cannot show that the conditional UPDATE holds between processes. Here real
// `continuum serve` processes share one database, and 200 buyers, half at the register and half
// online for pickup, reach them round-robin at the same moment for the last 10 units.
//
// Starting several engines takes seconds, so this file runs only when PostgreSQL is among the test
// dialects (the full matrix); its SQLite pass then runs the same race against a real process.

const sku = 'SKU-BEANIE-01';
const unitsOnHand = 10;
const buyerCount = 200;
const postgresProcessCount = 4;
const sqliteProcessCountMax = 8;
// Two engines share one SQLite file: its transactions begin IMMEDIATE (src/db/database.ts), so a
// second process waits for the write lock instead of failing with SQLITE_BUSY. Regression: with a
// deferred BEGIN, 52 to 82 of the 200 buyers got 500 here. TEST_RACE_SQLITE_PROCESSES overrides it.
const sqliteProcessCount = readProcessCount(process.env['TEST_RACE_SQLITE_PROCESSES'], 2);
const requestTimeoutMs = 20_000;
const testTimeoutMs = 60_000;
const failuresShownMax = 3;
const failureOutputCharsMax = 2_000;

function readProcessCount(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > sqliteProcessCountMax) {
    throw new Error(`TEST_RACE_SQLITE_PROCESSES must be an integer from 1 to ${sqliteProcessCountMax} (got "${raw}")`);
  }
  return value;
}

interface Answer {
  buyer: number;
  kind: 'register' | 'pickup';
  saleId: string;
  engine: number;
  status: number;
  body: any;
}

async function send(engine: EngineProcess, method: 'GET' | 'POST', path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${engine.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  const text = await response.text();
  return { status: response.status, body: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

/**
 * One buyer, at the store's register or online for pickup at the same store. Buyers go to the engines
 * round-robin, and the kind flips every round, so each engine serves as many of one kind as the other.
 */
async function buy(engines: EngineProcess[], buyer: number, runId: string, storeId: string): Promise<Answer> {
  const engine = engines[buyer % engines.length]!;
  const kind = Math.floor(buyer / engines.length) % 2 === 0 ? 'register' : 'pickup';
  const saleId = `RACE-${runId}-${buyer}`;
  const body = { sale_id: saleId, location_id: storeId, lines: [{ sku, quantity: 1 }] };
  const answer = await send(engine, 'POST', kind === 'register' ? '/v1/pos/sales' : '/v1/pickups', testPosKey, body);
  return { buyer, kind, saleId, engine: engine.index, ...answer };
}

/** `201×10, 409×190`: how many answers had each status. */
function describeStatuses(answers: Answer[]): string {
  const counts = new Map<number, number>();
  for (const answer of answers) counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(', ');
}

/** The orders row a buyer's sale makes: register sales and pickups are keyed apart (record-pos-sale.ts). */
function sourceRefOf(answer: Answer): string {
  return `${answer.kind}:${answer.saleId}`;
}

/** After the race: the figures every engine serves and the rows underneath agree with the 10 sales made. */
async function assertStockAndOrders(database: TestDatabase, engines: EngineProcess[], demo: DemoMerchant, answers: Answer[]): Promise<void> {
  const storeId = demo.store.id;
  const sold = answers.filter((answer) => answer.status === 201);
  const levels = await send(engines[engines.length - 1]!, 'GET', `/v1/inventory?sku=${sku}`, testAdminKey);
  assert.equal(levels.status, 200, JSON.stringify(levels.body));
  const level = levels.body.data.find((row: { location_id: string }) => row.location_id === storeId);
  assert.equal(level.available, 0);
  assert.equal(level.on_hand - level.reserved, 0, 'every unit left on the shelf is reserved for a pickup');
  const pickupsSold = sold.filter((answer) => answer.kind === 'pickup').length;
  assert.deepEqual([level.on_hand, level.reserved], [pickupsSold, pickupsSold], 'register sales took units off the shelf; pickups reserved theirs');

  // The cached level is the sum of the append-only movements: no update was lost between processes.
  const db = database.handle.db;
  const variant = await db.selectFrom('variants').select('id').where('merchant_id', '=', demo.merchant.id).where('sku', '=', sku).executeTakeFirstOrThrow();
  const movements = await db.selectFrom('stock_movements').select(['on_hand_delta', 'reserved_delta'])
    .where('merchant_id', '=', demo.merchant.id).where('location_id', '=', storeId).where('variant_id', '=', variant.id).execute();
  assert.equal(movements.reduce((sum, movement) => sum + movement.on_hand_delta, 0), level.on_hand, 'on hand is the sum of its movements');
  assert.equal(movements.reduce((sum, movement) => sum + movement.reserved_delta, 0), level.reserved, 'reserved is the sum of its movements');

  const orders = await db.selectFrom('orders').select('source_ref').where('merchant_id', '=', demo.merchant.id).where('source_ref', 'in', answers.map(sourceRefOf)).execute();
  assert.deepEqual(orders.map((order) => order.source_ref).sort(), sold.map(sourceRefOf).sort(), 'an order for each sale made, none for a refused one');
}

async function runRace(dialect: DialectName, processCount: number, t: TestContext): Promise<void> {
  const { database, demo, startEngines } = await openEngineCluster(dialect, t);
  const startedAt = Date.now();
  const engines = await startEngines(processCount);
  const count = await send(engines[0]!, 'POST', '/v1/inventory/count', testAdminKey, { location_id: demo.store.id, sku, on_hand: unitsOnHand, reference: 'race-multiprocess' });
  assert.equal(count.status, 200, JSON.stringify(count.body));
  assert.deepEqual([count.body.data.on_hand, count.body.data.reserved], [unitsOnHand, 0]);

  const raceStartedAt = Date.now();
  const runId = raceStartedAt.toString(36);
  const answers = await Promise.all(Array.from({ length: buyerCount }, (_, buyer) => buy(engines, buyer, runId, demo.store.id)));
  const soldPickups = answers.filter((answer) => answer.status === 201 && answer.kind === 'pickup').length;
  t.diagnostic(`${processCount} engine(s) up in ${raceStartedAt - startedAt} ms; ${buyerCount} buyers answered in ${Date.now() - raceStartedAt} ms: ${describeStatuses(answers)}; ${soldPickups} of the sales were pickups`);

  const failed = answers.filter((answer) => answer.status !== 201 && answer.status !== 409);
  assert.deepEqual(failed.slice(0, failuresShownMax), [], `${failed.length} buyer(s) got neither 201 nor 409 (${describeStatuses(answers)}); the end of each engine's output:\n${engines.map((engine) => `--- engine ${engine.index}\n${engine.output().slice(-failureOutputCharsMax)}`).join('\n')}`);
  assert.equal(answers.filter((answer) => answer.status === 201).length, unitsOnHand, `exactly the units on hand are sold (${describeStatuses(answers)})`);
  const refused = answers.filter((answer) => answer.status === 409);
  assert.equal(refused.length, buyerCount - unitsOnHand);
  assert.deepEqual([...new Set(refused.map((answer) => answer.body.error?.code))], ['inventory.insufficient_stock']);
  await assertStockAndOrders(database, engines, demo, answers);
  for (const engine of engines) assert.deepEqual(errorLines(engine).slice(0, failuresShownMax), [], `engine ${engine.index} logged errors`);
}

for (const dialect of DIALECTS) {
  const processCount = dialect === 'postgres' ? postgresProcessCount : sqliteProcessCount;
  test(
    `[${dialect}] 200 buyers at once across the register and online, spread over ${processCount} engine process(es) sharing one database, for 10 units: exactly 10 sold`,
    { timeout: testTimeoutMs },
    async (t) => runRace(dialect, processCount, t),
  );
}

// Registers on different engine processes redeeming the same points at the same moment: the
// redemption is one conditional update, so exactly as many succeed as the points cover.
const pointsOnAccount = 300;
const redeemers = 40;

async function runRedemptionRace(dialect: DialectName, processCount: number, t: TestContext): Promise<void> {
  const { demo, startEngines } = await openEngineCluster(dialect, t);
  const engines = await startEngines(processCount);
  const enrolled = await send(engines[0]!, 'POST', '/v1/customers', testPosKey, { email: 'race.redeemer@example.com' });
  assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
  const customerId: string = enrolled.body.data.id;
  const adjusted = await send(engines[0]!, 'POST', `/v1/customers/${customerId}/loyalty/adjustments`, testAdminKey, { points: pointsOnAccount, reason: 'race test opening balance' });
  assert.equal(adjusted.status, 201, JSON.stringify(adjusted.body));

  const runId = Date.now().toString(36);
  const answers = await Promise.all(Array.from({ length: redeemers }, (_, index) => send(engines[index % engines.length]!, 'POST', '/v1/pos/sales', testPosKey, {
    sale_id: `redeem-${runId}-${index}`, register_id: `register-${index % engines.length}`, location_id: demo.store.id, customer: { customer_id: customerId },
    lines: [{ sku: 'SKU-WALLET-01', quantity: 1, unit_price_minor: 1000 }], rewards: ['5-OFF'],
  })));
  const statuses = answers.map((answer) => answer.status);
  const covered = pointsOnAccount / 100;
  assert.equal(statuses.filter((status) => status === 201).length, covered, `exactly ${covered} redemptions of 100 points succeed (${JSON.stringify(statuses)})`);
  assert.ok(answers.filter((answer) => answer.status !== 201).every((answer) => answer.status === 409 && ['loyalty.insufficient_points', 'inventory.insufficient_stock'].includes(answer.body.error?.code)), JSON.stringify(answers.find((answer) => answer.status !== 201 && answer.status !== 409)?.body));
  const loyalty = await send(engines[0]!, 'GET', `/v1/customers/${customerId}/loyalty`, testAdminKey);
  // Each successful sale paid 5.00 after the 5.00 reward and earned 5 points at the demo's 1 point per 1.00.
  assert.equal(loyalty.body.data.available, pointsOnAccount - covered * 100 + covered * 5, 'every point spent once, none twice; never below zero through redemption');
  for (const engine of engines) assert.deepEqual(errorLines(engine).slice(0, failuresShownMax), [], `engine ${engine.index} logged errors`);
}

for (const dialect of DIALECTS) {
  const processCount = dialect === 'postgres' ? postgresProcessCount : sqliteProcessCount;
  test(`[${dialect}] ${redeemers} registers on ${processCount} engine process(es) redeeming the same points at once: exactly the points on the account are spent`, { timeout: testTimeoutMs }, async (t) => runRedemptionRace(dialect, processCount, t));
}
