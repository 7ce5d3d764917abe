import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { sql } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import pino from 'pino';
import { migrateToLatest, openDatabase, type Db, type DialectName } from '../src/db/index.ts';
import { seedDemoMerchant, demoShopifyIds, type DemoOptions } from '../src/demo/demo-merchant.ts';
import { createEngine, type Engine } from '../src/engine.ts';
import { latencyMsMax } from './latency-histogram.ts';
import { measureRawReservations, type RawStockFigures } from './raw-stock.ts';
import { computeSalePushDelays, type CommittedSale, type SalePushDelays } from './sale-push-delay.ts';
import { startFakeShopifyChild, type FakeShopifyChild } from './fake-shopify-child.ts';
import type { PushCounts } from './shopify-push-recorder.ts';
import { loadStockSkus, type LoadedSku } from './stock-data.ts';
import type { BurstResult, HoldsResult, SalesResult, StockLoadMessage, StockLoadTask } from './stock-load.ts';
import { createBenchDatabase, type BenchDatabase } from './bench-database.ts';
import { reportFigures, type BenchFigure } from './figures.ts';

// Issue #5's speed targets, each against the raw storage limit measured in the same run:
// 1. cart holds (POST /v1/holds) per second on one hot SKU, with zero oversell: a closed-loop run
//    on a SKU with a large on hand, then the last N units fought over by 2N holds at once;
// 2. the same spread over 100k SKUs picked at random;
// 3. the delay from a register sale (POST /v1/pos/sales, paced at 1,000/s) to the Shopify push
//    that includes it, with the engine's own worker pushing to the fake Shopify Admin API;
// 4. the raw limit: better-sqlite3 with the engine's pragmas, one conditional UPDATE plus the
//    movement INSERT per transaction, as fast as it goes (and, for reference, 32 per transaction).
// The engine listens on loopback; the load comes from a child process (bench/stock-load.ts).
//
//   node --import tsx bench/stock.ts [--quick] [--skus=100000] [--duration=5] [--connections=32]
//        [--rate=1000] [--sale-seconds=10] [--plans=standard,plus,unlimited] [--phases=holds,push]
//        [--postgres=URL] [--keep]

type ShopifyPlan = 'standard' | 'advanced' | 'plus' | 'unlimited';
/** `holds`: targets 1, 2 and the raw limit; `push`: target 3. */
type BenchPhase = 'holds' | 'push';
const benchPhases: readonly BenchPhase[] = ['holds', 'push'];

// Restore rates from shared/reference/protocols.md B1; bucket sizes are 20 s of restore, as the
// 2000/100 reported for standard plans (the other sizes are not documented).
const shopifyPlanLimits: Record<ShopifyPlan, { restoreRate: number; maximumAvailable: number }> = {
  standard: { restoreRate: 100, maximumAvailable: 2_000 },
  advanced: { restoreRate: 200, maximumAvailable: 4_000 },
  plus: { restoreRate: 1_000, maximumAvailable: 20_000 },
  unlimited: { restoreRate: 1_000_000_000, maximumAvailable: 1_000_000_000 },
};

interface StockBenchOptions {
  quick: boolean;
  skuCount: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  oversellUnits: number;
  oversellRequests: number;
  saleRatePerSecond: number;
  saleSeconds: number;
  plans: ShopifyPlan[];
  phases: BenchPhase[];
  postgresUrl: string | undefined;
  keep: boolean;
}

const target = { holdsPerSecondMin: 1_000, salePushP99MsMax: 1_000, saleRatePerSecond: 1_000 };
const hotOnHand = 1_000_000;
const spreadOnHand = 1_000;
const saleSkuCount = 50;
const saleOnHand = 1_000_000;
// Sales waiting for an answer at most; past it the paced generator skips a sale (counted as not sent)
// rather than queue it, so an engine slower than the offered rate is measured at its own pace.
const saleInFlightMax = 64;
const saleInventoryItemIdBase = 9_100_000_000_000n;
const burstConnections = 100;
const workerPollIntervalMs = 50;
const groupCommitSize = 32;
const drainWaitMsMax = 60_000;
const drainPollMs = 50;
const connectionsMax = 256;
const durationSecondsMax = 60;
const skuCountMax = 1_000_000;
const saleRateMax = 5_000;
const demoKeys = { adminApiKey: 'ck_admin_bench_stock_only', posApiKey: 'ck_pos_bench_stock_only' };

function parseOptions(argv: string[]): StockBenchOptions {
  const value = (name: string) => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = ['--quick', '--keep', '--skus=', '--duration=', '--connections=', '--rate=', '--sale-seconds=', '--plans=', '--phases=', '--postgres='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  const quick = argv.includes('--quick');
  const number = (name: string, fallback: number, min: number, max: number) => {
    const parsed = Number((value(name) ?? String(fallback)).replace(/_/g, ''));
    if (!(parsed >= min && parsed <= max)) throw new Error(`--${name} must be ${min} to ${max}`);
    return parsed;
  };
  const plans = (value('plans') ?? (quick ? 'standard' : 'standard,plus,unlimited')).split(',') as ShopifyPlan[];
  const unknownPlan = plans.find((plan) => !(plan in shopifyPlanLimits));
  if (unknownPlan !== undefined) throw new Error(`--plans: unknown plan ${unknownPlan}; known: ${Object.keys(shopifyPlanLimits).join(', ')}`);
  const phases = (value('phases') ?? benchPhases.join(',')).split(',') as BenchPhase[];
  if (phases.some((phase) => !benchPhases.includes(phase))) throw new Error(`--phases: known phases are ${benchPhases.join(', ')}`);
  const oversellUnits = quick ? 100 : 500;
  return {
    quick, plans, phases, postgresUrl: value('postgres'), keep: argv.includes('--keep'),
    skuCount: Math.round(number('skus', quick ? 2_000 : 100_000, 1, skuCountMax)),
    durationSeconds: number('duration', quick ? 1 : 5, 0.1, durationSecondsMax),
    warmupSeconds: quick ? 0.3 : 1,
    connections: Math.round(number('connections', 32, 1, connectionsMax)),
    oversellUnits, oversellRequests: oversellUnits * 2,
    saleRatePerSecond: number('rate', quick ? 200 : target.saleRatePerSecond, 1, saleRateMax),
    saleSeconds: number('sale-seconds', quick ? 2 : 10, 0.1, durationSecondsMax),
  };
}


function demoOptions(adminApiUrl: string | null, accessToken: string | null): DemoOptions {
  return {
    shopDomain: 'bench-stock.myshopify.com', shopifySecret: 'bench-only-shopify-secret', shopifyAdminApiUrl: adminApiUrl, shopifyAccessToken: accessToken,
    squareMerchantRef: 'BENCHSTOCKSQ', squareSignatureKey: 'bench-only-square-key', squareNotificationUrl: 'https://example.com/webhooks/square', ...demoKeys,
  };
}

interface SeededStore {
  merchantId: string;
  storeId: string;
  dialect: DialectName;
}

/** Migrates, seeds the demo merchant and bulk-loads SKU sets at its store, on a connection of its own. */
async function seedStore(database: BenchDatabase, demo: DemoOptions, skuSets: { prefix: string; count: number; onHand: number; shopifyInventoryItemIdBase?: bigint }[]) {
  const handle = openDatabase(database.url, database.postgresSchema ? { postgresSchema: database.postgresSchema } : {});
  try {
    await migrateToLatest(handle.db, handle.dialect);
    const { merchant, store } = await seedDemoMerchant(handle.db, demo);
    const loaded: LoadedSku[][] = [];
    let loadMs = 0;
    for (const set of skuSets) {
      const result = await loadStockSkus(handle.db, { merchantId: merchant.id, locationId: store.id, currency: merchant.currency, skuPrefix: set.prefix, count: set.count, onHand: set.onHand, ...(set.shopifyInventoryItemIdBase !== undefined ? { shopifyInventoryItemIdBase: set.shopifyInventoryItemIdBase } : {}) });
      loaded.push(result.skus);
      loadMs += result.loadMs;
    }
    // The engine never runs ANALYZE on SQLite, so neither does the benchmark; PostgreSQL's planner needs statistics.
    if (handle.dialect === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(handle.db);
    else await sql`analyze`.execute(handle.db);
    return { seeded: { merchantId: merchant.id, storeId: store.id, dialect: handle.dialect } satisfies SeededStore, loaded, loadMs };
  } finally {
    await handle.close();
  }
}

async function startEngine(database: BenchDatabase): Promise<{ engine: Engine; baseUrl: string }> {
  const engine = await createEngine({
    databaseUrl: database.url, ...(database.postgresSchema ? { postgresSchema: database.postgresSchema } : {}),
    logger: pino({ level: 'silent' }), startWorker: true, workerPollIntervalMs,
  });
  await engine.server.listen({ host: '127.0.0.1', port: 0 });
  return { engine, baseUrl: `http://127.0.0.1:${(engine.server.server.address() as AddressInfo).port}` };
}

/**
 * Runs one task in a forked load generator. Also returns, over the counted part, this process's CPU
 * time and its event loop's utilization (the share of time the one JavaScript thread was busy,
 * including the synchronous SQLite calls and their fsyncs): near 1 means the engine is saturated.
 */
function runLoad<Result>(task: StockLoadTask): Promise<{ result: Result; cpuMicros: number; eventLoopUtilization: number }> {
  const child = fork(join(import.meta.dirname, 'stock-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let cpuAtStart = process.cpuUsage();
  let loopAtStart: EventLoopUtilization = performance.eventLoopUtilization();
  let outcome: { result: Result; cpuMicros: number; eventLoopUtilization: number } | undefined;
  return new Promise((resolve, reject) => {
    child.on('message', (message: StockLoadMessage) => {
      if (message.type === 'measuring') {
        cpuAtStart = process.cpuUsage();
        loopAtStart = performance.eventLoopUtilization();
      } else if (message.type === 'result') {
        const cpu = process.cpuUsage(cpuAtStart);
        outcome = { result: message.result as Result, cpuMicros: cpu.user + cpu.system, eventLoopUtilization: performance.eventLoopUtilization(loopAtStart).utilization };
      } else reject(new Error(`load generator failed: ${message.message}`));
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && outcome ? resolve(outcome) : reject(new Error(`load generator exited with ${code} without a result`))));
    child.send(task);
  });
}

interface HoldsFigures extends HoldsResult {
  cpuMicrosPerRequest: number;
  eventLoopUtilization: number;
}

async function measureHolds(options: StockBenchOptions, baseUrl: string, storeId: string, skus: string[] | { prefix: string; count: number }): Promise<HoldsFigures> {
  const { result, cpuMicros, eventLoopUtilization } = await runLoad<HoldsResult>({
    kind: 'holds', baseUrl, apiKey: demoKeys.posApiKey, locationId: storeId, connections: options.connections,
    warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds, ...(Array.isArray(skus) ? { skus } : { skus: [], skuRange: skus }),
  });
  return { ...result, cpuMicrosPerRequest: cpuMicros / Math.max(1, result.responses2xx + result.non2xx), eventLoopUtilization };
}

interface OversellFigures {
  units: number;
  requests: number;
  created: number;
  refused: number;
  other: number;
  errors: number;
  /** Units held beyond what was there: answers of 201 beyond N, or reserved beyond on hand. */
  oversold: number;
  /** The lowest available over the movement log, in commit order (must never be below 0). */
  availableLow: number;
  consistent: boolean;
  problems: string[];
}

/** The last N units fought over by 2N holds at once: exactly N get 201, the rest 409, available never below 0. */
async function measureOversell(options: StockBenchOptions, engine: Engine, baseUrl: string, seeded: SeededStore, last: LoadedSku): Promise<OversellFigures> {
  const { result } = await runLoad<BurstResult>({ kind: 'burst', baseUrl, apiKey: demoKeys.posApiKey, locationId: seeded.storeId, connections: burstConnections, requests: options.oversellRequests, sku: last.sku });
  const db = engine.database.db;
  const level = await db.selectFrom('stock_levels').select(['on_hand', 'reserved', 'safety']).where('merchant_id', '=', seeded.merchantId).where('location_id', '=', seeded.storeId).where('variant_id', '=', last.variantId).executeTakeFirstOrThrow();
  const active = await db.selectFrom('reservations').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', seeded.merchantId).where('variant_id', '=', last.variantId).where('state', '=', 'active').executeTakeFirstOrThrow();
  const availableLow = await lowestAvailable(db, seeded, last.variantId);
  const created = result.statusCounts['201'] ?? 0;
  const refused = result.statusCounts['409'] ?? 0;
  const other = Object.entries(result.statusCounts).filter(([status]) => status !== '201' && status !== '409').reduce((sum, [, count]) => sum + count, 0);
  const available = Number(level.on_hand) - Number(level.reserved) - Number(level.safety);
  const oversold = Math.max(0, created - options.oversellUnits, Number(level.reserved) - options.oversellUnits, -available, -availableLow);
  const problems = [
    created !== options.oversellUnits ? `${created} holds answered 201, expected exactly ${options.oversellUnits}` : '',
    refused !== options.oversellRequests - options.oversellUnits ? `${refused} answered 409, expected ${options.oversellRequests - options.oversellUnits}` : '',
    other + result.errors > 0 ? `${other} other answers and ${result.errors} errors` : '',
    Number(active.count) !== created ? `${Number(active.count)} active reservations for ${created} answers of 201` : '',
    (result.refusalCodes['inventory.insufficient_stock'] ?? 0) !== refused ? `refusal codes ${JSON.stringify(result.refusalCodes)}` : '',
  ].filter((problem) => problem !== '');
  return { units: options.oversellUnits, requests: options.oversellRequests, created, refused, other, errors: result.errors, oversold, availableLow, consistent: problems.length === 0, problems };
}

/** Replays the variant's movements in commit order (rowid on SQLite; creation time on PostgreSQL) and returns the lowest available. */
async function lowestAvailable(db: Db, seeded: SeededStore, variantId: string): Promise<number> {
  const rows = await db.selectFrom('stock_movements').select(['on_hand_delta', 'reserved_delta'])
    .where('merchant_id', '=', seeded.merchantId).where('location_id', '=', seeded.storeId).where('variant_id', '=', variantId)
    .orderBy(seeded.dialect === 'sqlite' ? sql`rowid` : sql`created_at, id`).execute();
  let available = 0;
  let low = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    available += Number(row.on_hand_delta) - Number(row.reserved_delta);
    low = Math.min(low, available);
  }
  return low;
}

interface HoldsRunFigures {
  loadMs: number;
  hot: HoldsFigures;
  oversell: OversellFigures;
  spread: HoldsFigures;
  raw: { hot: RawStockFigures; spread: RawStockFigures; hotGrouped: RawStockFigures } | undefined;
}

/** Targets 1, 2 and 4: one database with a hot SKU, the last units and the spread SKUs; then the raw limit on it. */
async function benchmarkHolds(options: StockBenchOptions): Promise<HoldsRunFigures> {
  const database = await createBenchDatabase(options, 'stock_holds');
  try {
    const { seeded, loaded, loadMs } = await seedStore(database, demoOptions(null, null), [
      { prefix: 'HOT', count: 1, onHand: hotOnHand }, { prefix: 'LAST', count: 1, onHand: options.oversellUnits }, { prefix: 'SPREAD', count: options.skuCount, onHand: spreadOnHand },
    ]);
    const [[hot], [last]] = loaded as [[LoadedSku], [LoadedSku], LoadedSku[]];
    // The spread SKUs are named, not listed, from here on: a million objects need not stay in the
    // engine's process (and its garbage collector's work) while it is measured.
    loaded.splice(2);
    console.log(`holds database: ${count(options.skuCount + 2)} SKUs bulk-loaded in ${(loadMs / 1000).toFixed(1)} s`);
    const { engine, baseUrl } = await startEngine(database);
    let figures: Omit<HoldsRunFigures, 'raw' | 'loadMs'>;
    try {
      const hotFigures = await measureHolds(options, baseUrl, seeded.storeId, [hot.sku]);
      printHolds('one hot SKU', hotFigures);
      const oversell = await measureOversell(options, engine, baseUrl, seeded, last);
      console.log(`last ${oversell.units} units, ${oversell.requests} holds at once: ${oversell.created} × 201, ${oversell.refused} × 409, ${oversell.other + oversell.errors} other; lowest available ${oversell.availableLow}; oversold: ${oversell.oversold}`);
      for (const problem of oversell.problems) console.error(`  zero-oversell check: ${problem}`);
      const spreadFigures = await measureHolds(options, baseUrl, seeded.storeId, { prefix: 'SPREAD', count: options.skuCount });
      printHolds(`${count(options.skuCount)} SKUs at random`, spreadFigures);
      figures = { hot: hotFigures, oversell, spread: spreadFigures };
    } finally {
      await engine.close();
    }
    return { ...figures, loadMs, raw: database.sqlitePath ? measureRaw(options, database.sqlitePath, seeded, hot) : undefined };
  } finally {
    await database.dispose();
  }
}

/** The spread SKUs' variant ids, read back from the file (the engine is closed by then). */
function readSpreadVariantIds(path: string, merchantId: string): string[] {
  const database = new SqliteDatabase(path, { readonly: true });
  try {
    return database.prepare("select id from variants where merchant_id = ? and sku >= 'SPREAD-' and sku < 'SPREAD.'").pluck().all(merchantId) as string[];
  } finally {
    database.close();
  }
}

function measureRaw(options: StockBenchOptions, path: string, seeded: SeededStore, hot: LoadedSku) {
  const durationMs = options.durationSeconds * 1000;
  const spreadVariantIds = readSpreadVariantIds(path, seeded.merchantId);
  const plan = { path, merchantId: seeded.merchantId, locationId: seeded.storeId, durationMs };
  const raw = {
    hot: measureRawReservations({ ...plan, variantIds: [hot.variantId], perCommit: 1 }),
    spread: measureRawReservations({ ...plan, variantIds: spreadVariantIds, perCommit: 1 }),
    hotGrouped: measureRawReservations({ ...plan, variantIds: [hot.variantId], perCommit: groupCommitSize }),
  };
  for (const [label, figures] of Object.entries(raw)) {
    console.log(`raw ${label.padEnd(10)} ${count(figures.reservationsPerSecond)} reservations/s, commit p50 ${ms(figures.p50Ms)} ms p99 ${ms(figures.p99Ms)} ms, CPU ${count(figures.cpuMicrosPerReservation)} µs/reservation`);
  }
  return raw;
}

interface PushRunFigures {
  plan: ShopifyPlan;
  sales: SalesResult;
  acknowledgedPerSecond: number;
  cpuMicrosPerSale: number;
  eventLoopUtilization: number;
  delays: SalePushDelays;
  counts: PushCounts;
  drainedMs: number;
  drained: boolean;
}

/** Waits until the outbox holds nothing pending or being delivered, at most `drainWaitMsMax`; returns how long it took. */
async function waitForOutboxDrain(db: Db): Promise<{ drained: boolean; waitedMs: number }> {
  const startedAt = performance.now();
  while (performance.now() - startedAt < drainWaitMsMax) {
    const row = await db.selectFrom('outbox_events').select((eb) => eb.fn.countAll<number>().as('count')).where('status', 'in', ['pending', 'delivering']).executeTakeFirstOrThrow();
    if (Number(row.count) === 0) return { drained: true, waitedMs: performance.now() - startedAt };
    await new Promise((resolve) => setTimeout(resolve, drainPollMs));
  }
  return { drained: false, waitedMs: performance.now() - startedAt };
}

/** The available at the store right after each sale, from the sale movements in commit order. */
async function readCommittedSales(db: Db, seeded: SeededStore, skus: LoadedSku[]): Promise<Map<string, CommittedSale>> {
  const itemByVariant = new Map(skus.map((sku) => [sku.variantId, `gid://shopify/InventoryItem/${sku.shopifyInventoryItemId}`]));
  const rows = await db.selectFrom('stock_movements as m')
    .innerJoin('orders as o', (join) => join.onRef('o.id', '=', 'm.order_id').onRef('o.merchant_id', '=', 'm.merchant_id'))
    .select(['o.order_number', 'm.variant_id', 'm.on_hand_delta'])
    .where('m.merchant_id', '=', seeded.merchantId).where('m.location_id', '=', seeded.storeId).where('m.kind', '=', 'sale')
    .orderBy(seeded.dialect === 'sqlite' ? sql`m.rowid` : sql`m.created_at, m.id`).execute();
  const availableByVariant = new Map(skus.map((sku) => [sku.variantId, saleOnHand]));
  const committed = new Map<string, CommittedSale>();
  for (const row of rows) {
    const item = itemByVariant.get(row.variant_id);
    if (!item || row.order_number === null) continue;
    const available = availableByVariant.get(row.variant_id)! + Number(row.on_hand_delta);
    availableByVariant.set(row.variant_id, available);
    committed.set(row.order_number, { inventoryItemId: item, availableAfter: available });
  }
  return committed;
}

/** Target 3 for one Shopify plan: paced register sales, the engine's worker pushing to the fake Shopify. */
async function benchmarkSalePushDelay(options: StockBenchOptions, plan: ShopifyPlan): Promise<PushRunFigures> {
  const locationGid = `gid://shopify/Location/${demoShopifyIds.storeLocation}`;
  // The loader links SKU i to inventory item base + i.
  const itemGids = Array.from({ length: saleSkuCount }, (_, index) => `gid://shopify/InventoryItem/${saleInventoryItemIdBase + BigInt(index)}`);
  const fake = await startFakeShopifyChild(shopifyPlanLimits[plan], locationGid, itemGids, saleOnHand);
  const database = await createBenchDatabase(options, `stock_push_${plan}`);
  try {
    const { seeded, loaded } = await seedStore(database, demoOptions(fake.url, fake.token), [{ prefix: 'TILL', count: saleSkuCount, onHand: saleOnHand, shopifyInventoryItemIdBase: saleInventoryItemIdBase }]);
    const { engine, baseUrl } = await startEngine(database);
    try {
      // The demo's opening stock is pushed first, outside the measured run.
      await waitForOutboxDrain(engine.database.db);
      return await measureSalesAgainst(options, plan, { engine, baseUrl, fake, seeded, skus: loaded[0]! });
    } finally {
      await engine.close();
    }
  } finally {
    fake.kill();
    await database.dispose();
  }
}

async function measureSalesAgainst(options: StockBenchOptions, plan: ShopifyPlan, run: { engine: Engine; baseUrl: string; fake: FakeShopifyChild; seeded: SeededStore; skus: LoadedSku[] }): Promise<PushRunFigures> {
  const { result: sales, cpuMicros, eventLoopUtilization } = await runLoad<SalesResult>({
    kind: 'sales', baseUrl: run.baseUrl, apiKey: demoKeys.posApiKey, locationId: run.seeded.storeId, ratePerSecond: options.saleRatePerSecond,
    durationSeconds: options.saleSeconds, inFlightMax: saleInFlightMax, skus: run.skus.map((sku) => sku.sku), saleIdPrefix: `bench-${plan}`,
  });
  const drain = await waitForOutboxDrain(run.engine.database.db);
  const observed = await run.fake.stop();
  const committed = await readCommittedSales(run.engine.database.db, run.seeded, run.skus);
  const acknowledged = sales.acks.filter((ack) => ack.status === 201);
  const figures: PushRunFigures = {
    plan, sales, acknowledgedPerSecond: acknowledged.length / sales.durationSeconds, cpuMicrosPerSale: cpuMicros / Math.max(1, sales.acks.length), eventLoopUtilization,
    delays: computeSalePushDelays(acknowledged, committed, observed.pushes), counts: observed.counts, drainedMs: drain.waitedMs, drained: drain.drained,
  };
  printPushRun(options, figures);
  return figures;
}

const count = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
const percent = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)} %` : 'n/a');
const ratio = (value: number) => (Number.isFinite(value) && value > 0 ? `${value.toFixed(2)}×` : 'n/a');

function printHolds(label: string, figures: HoldsFigures): void {
  console.log(`holds, ${label}: ${count(figures.requestsPerSecond)}/s, p50 ${ms(figures.p50Ms)} ms, p99 ${ms(figures.p99Ms)} ms, non-2xx ${figures.non2xx} ${JSON.stringify(figures.statusCounts)}, errors ${figures.errors + figures.timeouts}, engine CPU ${count(figures.cpuMicrosPerRequest)} µs/request, event loop ${percent(figures.eventLoopUtilization)} busy`);
}

function printPushRun(options: StockBenchOptions, figures: PushRunFigures): void {
  const { sales, delays, counts } = figures;
  const pushes = counts.mutations['executed'] ?? 0;
  console.log(`sales → Shopify (${figures.plan} plan limits): offered ${count(options.saleRatePerSecond)}/s for ${options.saleSeconds} s; sent ${count(sales.sent)}, not sent ${count(sales.notSent)} (skipped while ${saleInFlightMax} were unanswered), acknowledged ${count(figures.acknowledgedPerSecond)}/s, ${count(sales.timeouts)} unanswered after ${latencyMsMax / 1000} s, sale p50 ${ms(sales.p50Ms)} ms p99 ${ms(sales.p99Ms)} ms, engine CPU ${count(figures.cpuMicrosPerSale)} µs/sale (its pushes included), event loop ${percent(figures.eventLoopUtilization)} busy`);
  console.log(`  sale-to-push delay p50 ${ms(delays.p50Ms)} ms, p99 ${ms(delays.p99Ms)} ms, max ${ms(delays.maxMs)} ms over ${count(delays.sales)} sales (${delays.pushedBeforeAck} pushed before the register read the answer, ${delays.unpushed} never pushed)`);
  console.log(`  pushes: ${count(pushes)} executed for ${count(delays.sales)} sales (${ratio(delays.sales / Math.max(1, pushes))} coalescing), ${counts.stale} stale, ${JSON.stringify(counts.mutations)}, ${counts.reads} reads; outbox ${figures.drained ? 'drained' : 'NOT drained'} ${count(figures.drainedMs)} ms after the last sale`);
}

function holdsRows(options: StockBenchOptions, holds: HoldsRunFigures): Record<string, string>[] {
  const raw = holds.raw;
  const rawHot = raw?.hot.reservationsPerSecond ?? Number.NaN;
  const rawSpread = raw?.spread.reservationsPerSecond ?? Number.NaN;
  return [
    { figure: 'holds/s, one hot SKU', value: count(holds.hot.requestsPerSecond), target: `≥ ${count(target.holdsPerSecondMin)}`, 'raw limit': count(rawHot), ratio: ratio(holds.hot.requestsPerSecond / rawHot) },
    { figure: 'holds p50 / p99 ms, one hot SKU', value: `${ms(holds.hot.p50Ms)} / ${ms(holds.hot.p99Ms)}`, target: '', 'raw limit': raw ? `${ms(raw.hot.p50Ms)} / ${ms(raw.hot.p99Ms)}` : 'n/a', ratio: '' },
    { figure: `oversold, last ${holds.oversell.units} units × ${holds.oversell.requests} holds`, value: String(holds.oversell.oversold), target: '0', 'raw limit': '', ratio: '' },
    { figure: `holds/s, ${count(options.skuCount)} SKUs`, value: count(holds.spread.requestsPerSecond), target: `≥ ${count(target.holdsPerSecondMin)}`, 'raw limit': count(rawSpread), ratio: ratio(holds.spread.requestsPerSecond / rawSpread) },
    { figure: `holds p99 ms, ${count(options.skuCount)} SKUs`, value: ms(holds.spread.p99Ms), target: '', 'raw limit': raw ? ms(raw.spread.p99Ms) : 'n/a', ratio: '' },
    { figure: 'CPU µs per hold, one hot SKU', value: count(holds.hot.cpuMicrosPerRequest), target: '', 'raw limit': raw ? count(raw.hot.cpuMicrosPerReservation) : 'n/a', ratio: raw ? ratio(holds.hot.cpuMicrosPerRequest / raw.hot.cpuMicrosPerReservation) : 'n/a' },
    { figure: `raw, ${groupCommitSize} reservations per commit (reference)`, value: '', target: '', 'raw limit': raw ? count(raw.hotGrouped.reservationsPerSecond) : 'n/a', ratio: '' },
  ];
}

function pushRows(options: StockBenchOptions, run: PushRunFigures, rawHot: number): Record<string, string>[] {
  const pushes = run.counts.mutations['executed'] ?? 0;
  return [
    { figure: `POS sales acknowledged/s (${run.plan})`, value: `${count(run.acknowledgedPerSecond)}${run.sales.timeouts > 0 ? ` (${count(run.sales.timeouts)} unanswered)` : ''}`, target: `${count(options.saleRatePerSecond)} offered`, 'raw limit': count(rawHot), ratio: ratio(run.acknowledgedPerSecond / rawHot) },
    { figure: `sale-to-push p50 / p99 ms (${run.plan})`, value: `${ms(run.delays.p50Ms)} / ${ms(run.delays.p99Ms)}`, target: `p99 ≤ ${count(target.salePushP99MsMax)}`, 'raw limit': '', ratio: '' },
    { figure: `pushes / sales (${run.plan})`, value: `${count(pushes)} / ${count(run.delays.sales)}`, target: 'fewer pushes', 'raw limit': '', ratio: '' },
  ];
}

function printSummary(options: StockBenchOptions, holds: HoldsRunFigures | undefined, pushRuns: PushRunFigures[]): void {
  const rawHot = holds?.raw?.hot.reservationsPerSecond ?? Number.NaN;
  const rows = [...(holds ? holdsRows(options, holds) : []), ...pushRuns.flatMap((run) => pushRows(options, run, rawHot))];
  const rawNote = holds?.raw ? '' : options.postgresUrl ? '; not measured on PostgreSQL' : '; measured with the holds phase only';
  console.log(`\nIssue #5 stock figures (raw limit: better-sqlite3, same pragmas, one conditional UPDATE + movement INSERT per transaction${rawNote}):`);
  console.table(rows);
}

/** The headline figures for bench/run.ts. The spread figure is named so run.ts can derive growth between two runs. */
function stockFigures(options: StockBenchOptions, holds: HoldsRunFigures | undefined, pushRuns: PushRunFigures[]): BenchFigure[] {
  const storage = options.postgresUrl ? 'PostgreSQL' : 'SQLite';
  const figures: BenchFigure[] = [];
  if (holds) {
    const raw = holds.raw;
    figures.push(
      { figure: `holds/s on one hot SKU, ${storage}`, value: holds.hot.requestsPerSecond, unit: '/s', cpuMicrosPerOperation: holds.hot.cpuMicrosPerRequest, target: { atLeast: target.holdsPerSecondMin }, ...(raw ? { raw: raw.hot.reservationsPerSecond, rawWhat: 'conditional UPDATE + movement, 1 per commit' } : {}), note: `p99 ${ms(holds.hot.p99Ms)} ms${raw ? `; raw ${count(raw.hotGrouped.reservationsPerSecond)}/s at ${groupCommitSize} per commit` : ''}` },
      { figure: `units oversold, last ${holds.oversell.units} units × ${holds.oversell.requests} holds at once`, value: holds.oversell.oversold, unit: 'units', target: { atMost: 0 } },
      { figure: `holds/s, spread over ${count(options.skuCount)} SKUs`, value: holds.spread.requestsPerSecond, unit: '/s', cpuMicrosPerOperation: holds.spread.cpuMicrosPerRequest, ...(raw ? { raw: raw.spread.reservationsPerSecond, rawWhat: 'conditional UPDATE + movement, 1 per commit' } : {}), note: `p99 ${ms(holds.spread.p99Ms)} ms${raw ? `; raw CPU ${count(raw.spread.cpuMicrosPerReservation)} µs` : ''}` },
    );
  }
  for (const run of pushRuns) {
    figures.push({
      figure: `sale-to-push delay p99, ${count(options.saleRatePerSecond)} sales/s offered, Shopify ${run.plan} plan`, value: run.delays.p99Ms, unit: 'ms', cpuMicrosPerOperation: run.cpuMicrosPerSale, target: { atMost: target.salePushP99MsMax },
      note: `${count(run.acknowledgedPerSecond)} sales/s acknowledged, p50 ${ms(run.delays.p50Ms)} ms, ${count(run.counts.mutations['executed'] ?? 0)} pushes for ${count(run.delays.sales)} sales`,
    });
  }
  return figures;
}

function countStatuses(sales: SalesResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const ack of sales.acks) counts[String(ack.status)] = (counts[String(ack.status)] ?? 0) + 1;
  return counts;
}

/** Why the benchmark process fails: oversell, a failed exactness check, refused or failed requests while stock lasted, sales never pushed. */
function listFailures(holds: HoldsRunFigures | undefined, pushRuns: PushRunFigures[]): string[] {
  const failures: string[] = [];
  if (holds && holds.oversell.oversold > 0) failures.push(`OVERSOLD ${holds.oversell.oversold} unit(s)`);
  if (holds && !holds.oversell.consistent) failures.push(`zero-oversell check: ${holds.oversell.problems.join('; ')}`);
  for (const [label, figures] of holds ? ([['hot SKU', holds.hot], ['spread SKUs', holds.spread]] as const) : []) {
    if (figures.responses2xx === 0 || figures.non2xx + figures.errors + figures.timeouts > 0) failures.push(`holds on the ${label}: ${figures.responses2xx} answers of 2xx, ${figures.non2xx} non-2xx, ${figures.errors + figures.timeouts} errors while stock lasted`);
  }
  for (const run of pushRuns) {
    const failedSales = run.sales.acks.filter((ack) => ack.status !== 201).length + run.sales.errors;
    if (failedSales > 0) failures.push(`${run.plan}: ${failedSales} sales not acknowledged with 201 (${JSON.stringify(countStatuses(run.sales))}, ${run.sales.errors} errors ${JSON.stringify(run.sales.errorSamples)})`);
    if (run.delays.unpushed > 0 || !run.drained) failures.push(`${run.plan}: ${run.delays.unpushed} sales never reached Shopify${run.drained ? '' : ' (the outbox did not drain)'}`);
  }
  return failures;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const storage = options.postgresUrl ? 'PostgreSQL' : 'SQLite (WAL, every commit synced)';
  console.log(`stock: ${storage}; ${count(options.skuCount)} SKUs; holds ${options.durationSeconds} s, ${options.connections} connections; sales ${count(options.saleRatePerSecond)}/s for ${options.saleSeconds} s over ${saleSkuCount} SKUs; Shopify plans ${options.plans.join(', ')}`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at start`);
  const holds = options.phases.includes('holds') ? await benchmarkHolds(options) : undefined;
  const pushRuns: PushRunFigures[] = [];
  if (options.phases.includes('push')) for (const plan of options.plans) pushRuns.push(await benchmarkSalePushDelay(options, plan));
  printSummary(options, holds, pushRuns);
  if (holds) console.log(`oversold: ${holds.oversell.oversold}`);
  reportFigures('stock', stockFigures(options, holds, pushRuns));
  console.log(`load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end`);
  const failures = listFailures(holds, pushRuns);
  if (failures.length > 0) {
    console.error(`\nstock: ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

await main();
