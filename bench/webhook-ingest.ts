import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { sql } from 'kysely';
import Fastify from 'fastify';
import pino from 'pino';
import { migrateToLatest, openDatabase } from '../src/db/index.ts';
import { seedDemoMerchant } from '../src/demo/demo-merchant.ts';
import { createEngine, type Engine } from '../src/engine.ts';
import { createBenchDatabase, type BenchDatabase } from './bench-database.ts';
import { measureRawInboxInserts, measureRawPostgresInboxInserts, type RawInboxFigures } from './raw-inbox.ts';
import { idPlaceholder, type WebhookLoadMessage, type WebhookLoadPlan, type WebhookLoadResult } from './webhook-load.ts';
import { ceilingOf, reportFigures } from './figures.ts';

// Issue #9's ingest target: durable Shopify webhooks per second and the p99 of their acknowledgement
// (signature verified over the raw bytes, JSON checked, resource key read, deduped, stored and
// committed, then answered 200), over real HTTP to the engine on loopback, each request a distinct
// signed event; next to it the raw storage limit measured in the same run on the same database:
// inbox rows inserted with better-sqlite3 and the engine's pragmas, or with one pg connection and a
// prepared multi-row INSERT (bench/raw-inbox.ts), one transaction per row and in batches, and a bare
// Fastify server answering the same requests (the HTTP floor).
// The engine runs without its worker: this measures taking events in, not applying them.
//
// The engine is measured at each number of concurrent deliveries given (64, 128 and 256 in a full run):
// every request waits for the commit of its batch, so the rate one set of connections gets is about
// connections ÷ latency, and with too few the engine waits for requests rather than the reverse.
// The figure is the highest rate whose acknowledgement p99 stays within the target, and its
// connections; every count's rate is printed.
//
//   node --import tsx bench/webhook-ingest.ts [--quick] [--topics=customers,orders] [--duration=5]
//        [--connections=64,128,256] [--raw-batch=64] [--postgres=postgres://...] [--keep]

type Topic = 'customers' | 'orders';

interface BenchOptions {
  quick: boolean;
  topics: Topic[];
  durationSeconds: number;
  warmupSeconds: number;
  /** Concurrent deliveries, one engine run each. */
  connections: number[];
  rawBatch: number;
  postgresUrl: string | undefined;
  keep: boolean;
}

// The fixtures are the real payload shapes; every occurrence of the resource id becomes the
// placeholder, so each request carries its own resource (and so its own resource key).
const topicFixtures: Record<Topic, { topic: string; fixture: string; resourceId: string }> = {
  customers: { topic: 'customers/create', fixture: 'shopify/customers-create.json', resourceId: '706405506930370084' },
  orders: { topic: 'orders/create', fixture: 'shopify/orders-create.json', resourceId: '820982911946154508' },
};

const target = { eventsPerSecondMin: 10_000, p99MsMax: 50 };
const shop = { domain: 'bench-ingest.myshopify.com', secret: 'bench-only-ingest-secret' };
const connectionsMax = 512;
const durationSecondsMax = 60;
const rawBatchMax = 1_000;

function parseOptions(argv: string[]): BenchOptions {
  const value = (name: string) => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = ['--quick', '--keep', '--topics=', '--duration=', '--connections=', '--raw-batch=', '--postgres='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  const quick = argv.includes('--quick');
  const number = (name: string, fallback: number, min: number, max: number) => {
    const parsed = Number(value(name) ?? String(fallback));
    if (!(parsed >= min && parsed <= max)) throw new Error(`--${name} must be ${min} to ${max}`);
    return parsed;
  };
  const topics = (value('topics') ?? (quick ? 'customers' : 'customers,orders')).split(',') as Topic[];
  if (topics.some((topic) => !(topic in topicFixtures))) throw new Error(`--topics: known topics are ${Object.keys(topicFixtures).join(', ')}`);
  return {
    quick, topics, postgresUrl: value('postgres'), keep: argv.includes('--keep'),
    durationSeconds: number('duration', quick ? 1 : 5, 0.1, durationSecondsMax),
    warmupSeconds: quick ? 0.3 : 1,
    connections: (value('connections') ?? (quick ? '64' : '64,128,256')).split(',').map((text) => {
      const connections = Number(text);
      if (!Number.isInteger(connections) || connections < 1 || connections > connectionsMax) throw new Error(`--connections: each is 1 to ${connectionsMax} (got ${text})`);
      return connections;
    }),
    rawBatch: Math.round(number('raw-batch', 64, 2, rawBatchMax)),
  };
}

function templateOf(topic: Topic): string {
  const { fixture, resourceId } = topicFixtures[topic];
  return readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', fixture), 'utf8').replaceAll(resourceId, idPlaceholder);
}

async function seed(database: BenchDatabase): Promise<string> {
  const handle = openDatabase(database.url, database.postgresSchema ? { postgresSchema: database.postgresSchema } : {});
  try {
    await migrateToLatest(handle.db, handle.dialect);
    const { merchant } = await seedDemoMerchant(handle.db, {
      shopDomain: shop.domain, shopifySecret: shop.secret, shopifyAdminApiUrl: null, shopifyAccessToken: null,
      squareMerchantRef: 'BENCHINGESTSQ', squareSignatureKey: 'bench-only-square-key', squareNotificationUrl: 'https://example.com/webhooks/square', adminApiKey: 'ck_admin_bench_ingest_only',
    });
    return merchant.id;
  } finally {
    await handle.close();
  }
}

interface EngineFigures extends WebhookLoadResult {
  connections: number;
  cpuMicrosPerEvent: number;
  eventLoopUtilization: number;
  eventsPerCommit: number;
  rowsStored: number;
}

/** The events per commit the group committer made over the counted run, from the engine's own metric. */
async function readCommitHistogram(engine: Engine | undefined): Promise<{ sum: number; count: number }> {
  if (!engine) return { sum: 0, count: 0 };
  const metric = await engine.metrics.inboxCommitEvents.get();
  const sum = metric.values.find((entry) => entry.metricName === 'continuum_inbox_commit_events_sum')?.value ?? 0;
  const count = metric.values.find((entry) => entry.metricName === 'continuum_inbox_commit_events_count')?.value ?? 0;
  return { sum, count };
}

function runLoad(plan: WebhookLoadPlan, engine: Engine | undefined): Promise<Omit<EngineFigures, 'rowsStored' | 'connections'>> {
  const child = fork(join(import.meta.dirname, 'webhook-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let cpuAtStart = process.cpuUsage();
  let loopAtStart: EventLoopUtilization = performance.eventLoopUtilization();
  let commitsAtStart = Promise.resolve({ sum: 0, count: 0 });
  let outcome: Promise<Omit<EngineFigures, 'rowsStored' | 'connections'>> | undefined;
  return new Promise((resolve, reject) => {
    child.on('message', (message: WebhookLoadMessage) => {
      if (message.type === 'measuring') {
        cpuAtStart = process.cpuUsage();
        loopAtStart = performance.eventLoopUtilization();
        commitsAtStart = readCommitHistogram(engine);
      } else if (message.type === 'result') {
        const cpu = process.cpuUsage(cpuAtStart);
        const eventLoopUtilization = performance.eventLoopUtilization(loopAtStart).utilization;
        const { result } = message;
        outcome = Promise.all([commitsAtStart, readCommitHistogram(engine)]).then(([before, after]) => ({
          ...result, cpuMicrosPerEvent: (cpu.user + cpu.system) / Math.max(1, result.acknowledged + result.non2xx), eventLoopUtilization,
          eventsPerCommit: (after.sum - before.sum) / Math.max(1, after.count - before.count),
        }));
      } else reject(new Error(`load generator failed: ${message.message}`));
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && outcome ? outcome.then(resolve, reject) : reject(new Error(`load generator exited with ${code} without a result`))));
    child.send(plan);
  });
}

async function measureEngine(options: BenchOptions, database: BenchDatabase, topic: Topic, connections: number): Promise<EngineFigures> {
  const engine = await createEngine({ databaseUrl: database.url, ...(database.postgresSchema ? { postgresSchema: database.postgresSchema } : {}), logger: pino({ level: 'silent' }), startWorker: false });
  try {
    await engine.server.listen({ host: '127.0.0.1', port: 0 });
    const baseUrl = `http://127.0.0.1:${(engine.server.server.address() as AddressInfo).port}`;
    const rowsBefore = await countInboxRows(engine);
    const figures = await runLoad({
      baseUrl, shopDomain: shop.domain, secret: shop.secret, topic: topicFixtures[topic].topic, template: templateOf(topic),
      connections, warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds, runTag: `${topic}-${connections}-${process.pid}-${Date.now()}`,
    }, engine);
    return { ...figures, connections, rowsStored: (await countInboxRows(engine)) - rowsBefore };
  } finally {
    await engine.close();
  }
}

/**
 * The HTTP floor: a bare Fastify server in this process answering the same requests with the same
 * answer, with no signature check, no parsing and no storage. What Node's HTTP server and Fastify
 * cost on this machine under this load generator; the engine cannot be faster than this.
 */
async function measureHttpFloor(options: BenchOptions, topic: Topic, connections: number): Promise<Omit<EngineFigures, 'rowsStored'>> {
  const server = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  server.post('/webhooks/shopify', async () => ({ received: true, duplicate: false }));
  try {
    await server.listen({ host: '127.0.0.1', port: 0 });
    const baseUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    return {
      connections,
      ...await runLoad({
        baseUrl, shopDomain: shop.domain, secret: shop.secret, topic: topicFixtures[topic].topic, template: templateOf(topic),
        connections, warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds, runTag: `floor-${topic}-${process.pid}-${Date.now()}`,
      }, undefined),
    };
  } finally {
    await server.close();
  }
}

async function countInboxRows(engine: Engine): Promise<number> {
  const row = await engine.database.db.selectFrom('inbox_events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}

async function measureRaw(options: BenchOptions, database: BenchDatabase, merchantId: string, topic: Topic): Promise<{ single: RawInboxFigures; batched: RawInboxFigures }> {
  const payload = templateOf(topic).replaceAll(idPlaceholder, '4000000000000001');
  // The headers as the engine keeps them: the request's, as JSON, about 500 bytes.
  const headersJson = JSON.stringify({
    host: '127.0.0.1:40000', 'content-type': 'application/json', 'content-length': String(payload.length), 'x-shopify-topic': topicFixtures[topic].topic,
    'x-shopify-shop-domain': shop.domain, 'x-shopify-api-version': '2026-04', 'x-shopify-webhook-id': `${topic}-00000-0000000000000-counted-000000`,
    'x-shopify-event-id': `event-${topic}-00000-0000000000000-counted-000000`, 'x-shopify-triggered-at': new Date().toISOString(), 'x-shopify-hmac-sha256': 'x'.repeat(44),
  });
  const plan = { merchantId, payload, headersJson, durationMs: options.durationSeconds * 1000 };
  if (database.postgresSchema) {
    const postgres = { ...plan, url: database.url, schema: database.postgresSchema };
    return { single: await measureRawPostgresInboxInserts({ ...postgres, perCommit: 1 }), batched: await measureRawPostgresInboxInserts({ ...postgres, perCommit: options.rawBatch }) };
  }
  assert(database.sqlitePath !== undefined, 'a bench database is a SQLite file or a PostgreSQL schema');
  const sqlite = { ...plan, path: database.sqlitePath };
  return { single: measureRawInboxInserts({ ...sqlite, perCommit: 1 }), batched: measureRawInboxInserts({ ...sqlite, perCommit: options.rawBatch }) };
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
const ratio = (value: number) => (Number.isFinite(value) && value > 0 ? `${value.toFixed(2)}×` : 'n/a');

interface TopicFigures {
  topic: Topic;
  storage: string;
  /** One run per number of connections. */
  engines: EngineFigures[];
  /** The run the figure reports: the highest rate with p99 within the target, else the lowest p99. */
  engine: EngineFigures;
  raw: { single: RawInboxFigures; batched: RawInboxFigures };
  httpFloor: Omit<EngineFigures, 'rowsStored'>;
}

/** The run a topic's figure reports: the highest rate whose p99 meets the target, else the lowest p99. */
function reportedRun(engines: EngineFigures[]): EngineFigures {
  const withinTarget = engines.filter((engine) => engine.p99Ms <= target.p99MsMax);
  const byRate = (left: EngineFigures, right: EngineFigures) => right.acknowledgedPerSecond - left.acknowledgedPerSecond;
  const [best] = withinTarget.length > 0 ? [...withinTarget].sort(byRate) : [...engines].sort((left, right) => left.p99Ms - right.p99Ms);
  assert(best !== undefined, 'at least one run');
  return best;
}

function printTopic(figures: TopicFigures): void {
  const { engine, raw } = figures;
  console.log(`\n${topicFixtures[figures.topic].topic} on ${figures.storage}: ${count(engine.bodyBytes)}-byte bodies, each request a distinct signed event`);
  console.table(figures.engines.map((run) => ({
    connections: run.connections, 'events/s': count(run.acknowledgedPerSecond), 'p50 ms': ms(run.p50Ms), 'p99 ms': ms(run.p99Ms),
    'CPU µs/event': count(run.cpuMicrosPerEvent), 'event loop busy': `${Math.round(run.eventLoopUtilization * 100)} %`, 'events/commit': run.eventsPerCommit.toFixed(1),
    'non-2xx': run.non2xx, errors: run.errors + run.timeouts, reported: run === engine ? '←' : '',
  })));
  const floor = figures.httpFloor;
  console.log(`HTTP floor at ${floor.connections} connections (bare Fastify answering the same requests, nothing verified or stored): ${count(floor.acknowledgedPerSecond)} requests/s, p99 ${ms(floor.p99Ms)} ms, CPU ${count(floor.cpuMicrosPerEvent)} µs/request; engine/floor ${ratio(engine.acknowledgedPerSecond / floor.acknowledgedPerSecond)}`);
  const storage = figures.storage.startsWith('SQLite') ? 'SQLite' : 'PostgreSQL';
  console.table([raw.single, raw.batched].map((rawFigures) => ({
    [`raw ${storage} inserts`]: rawFigures.perCommit === 1 ? 'one row per transaction' : `${rawFigures.perCommit} rows per transaction`,
    'rows/s': count(rawFigures.rowsPerSecond), 'commit p50 ms': ms(rawFigures.commitP50Ms), 'commit p99 ms': ms(rawFigures.commitP99Ms),
    [storage === 'PostgreSQL' ? 'CPU µs/row (client + server)' : 'CPU µs/row']: count(rawFigures.cpuMicrosPerRow),
    'engine/raw': ratio(engine.acknowledgedPerSecond / rawFigures.rowsPerSecond),
  })));
}

function checkRun(engine: EngineFigures): string[] {
  const problems: string[] = [];
  if (engine.acknowledged === 0) problems.push('no event was acknowledged');
  if (engine.non2xx + engine.errors + engine.timeouts > 0) problems.push(`${engine.non2xx} non-2xx answers, ${engine.errors} errors, ${engine.timeouts} timeouts`);
  // Every 2xx was answered after its commit: the rows stored cover every acknowledgement of the run
  // (warm-up included); the only rows beyond are requests still in flight when the run stopped.
  if (engine.rowsStored < engine.acknowledged) problems.push(`${engine.acknowledged} events acknowledged but only ${engine.rowsStored} rows stored`);
  return problems;
}

async function benchmarkTopic(options: BenchOptions, topic: Topic, postgresUrl: string | undefined): Promise<TopicFigures> {
  const database = await createBenchDatabase({ postgresUrl, keep: options.keep }, `ingest_${topic}`);
  try {
    const merchantId = await seed(database);
    const engines: EngineFigures[] = [];
    for (const connections of options.connections) engines.push(await measureEngine(options, database, topic, connections));
    const engine = reportedRun(engines);
    const raw = await measureRaw(options, database, merchantId, topic);
    if (database.sqlitePath) {
      const handle = openDatabase(database.url);
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(handle.db);
      await handle.close();
    }
    const httpFloor = await measureHttpFloor(options, topic, engine.connections);
    return { topic, storage: postgresUrl ? 'PostgreSQL' : 'SQLite (WAL, every commit synced)', engines, engine, raw, httpFloor };
  } finally {
    await database.dispose();
  }
}

function printTarget(all: TopicFigures[]): void {
  console.log(`\nIssue #9 target: ≥ ${count(target.eventsPerSecondMin)} durable webhooks/s with p99 ≤ ${target.p99MsMax} ms`);
  for (const figures of all) {
    const { engine } = figures;
    const met = engine.acknowledgedPerSecond >= target.eventsPerSecondMin && engine.p99Ms <= target.p99MsMax;
    console.log(`  ${topicFixtures[figures.topic].topic.padEnd(16)} ${figures.storage.padEnd(31)} ${count(engine.acknowledgedPerSecond).padStart(7)}/s, p99 ${ms(engine.p99Ms)} ms at ${engine.connections} connections: ${met ? 'met' : 'NOT met'}`);
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`webhook-ingest: topics ${options.topics.join(', ')}; ${options.durationSeconds} s counted after ${options.warmupSeconds} s of warm-up, ${options.connections.join(' and ')} connections, pipelining 1; worker off`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at start`);
  const all: TopicFigures[] = [];
  const storages = [undefined, ...(options.postgresUrl ? [options.postgresUrl] : [])];
  for (const postgresUrl of storages) {
    for (const topic of options.topics) {
      const figures = await benchmarkTopic(options, topic, postgresUrl);
      printTopic(figures);
      all.push(figures);
    }
  }
  printTarget(all);
  console.log(`machine load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end`);
  reportFigures('webhook-ingest', all.flatMap((figures) => {
    const storage = figures.storage.startsWith('SQLite') ? 'SQLite' : 'PostgreSQL';
    const topic = topicFixtures[figures.topic].topic;
    const { engine, raw, httpFloor } = figures;
    return [
      {
        figure: `durable webhooks/s, ${topic} (${count(engine.bodyBytes)} B), ${storage}`, value: engine.acknowledgedPerSecond, unit: '/s', cpuMicrosPerOperation: engine.cpuMicrosPerEvent, target: { atLeast: target.eventsPerSecondMin },
        raw: raw.single.rowsPerSecond, rawWhat: 'inbox rows, 1 per commit',
        ceiling: ceilingOf(httpFloor.cpuMicrosPerEvent, raw.batched.cpuMicrosPerRow),
        ceilingWhat: `bare Fastify ${count(httpFloor.cpuMicrosPerEvent)} + raw row at ${raw.batched.perCommit} per commit ${count(raw.batched.cpuMicrosPerRow)} µs CPU${storage === 'PostgreSQL' ? ' (client and server)' : ''}`,
        note: `at ${engine.connections} connections${figures.engines.filter((run) => run !== engine).map((run) => `; at ${run.connections}: ${count(run.acknowledgedPerSecond)}/s, p99 ${ms(run.p99Ms)} ms`).join('')}; ${engine.eventsPerCommit.toFixed(0)} events/commit; raw ${count(raw.batched.rowsPerSecond)}/s at ${raw.batched.perCommit} per commit; bare Fastify ${count(httpFloor.acknowledgedPerSecond)}/s`,
      },
      { figure: `webhook acknowledgement p99, ${topic}, ${storage}`, value: engine.p99Ms, unit: 'ms', target: { atMost: target.p99MsMax }, note: `p50 ${ms(engine.p50Ms)} ms, ${engine.connections} connections` },
    ];
  }));
  const failed = all.flatMap((figures) => figures.engines.flatMap((run) => checkRun(run).map((problem) => `${figures.topic} on ${figures.storage} at ${run.connections} connections: ${problem}`)));
  if (failed.length > 0) {
    for (const problem of failed) console.error(`webhook-ingest: ${problem}`);
    process.exitCode = 1;
  }
}

await main();
