import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrateToLatest, openDatabase } from '../src/db/index.ts';
import { seedDemoMerchant } from '../src/demo/demo-merchant.ts';
import { engineDatabaseUrl, findFreePort, spawnEngine, stopEngines, waitUntilHealthy, type EngineProcess } from '../test/support/engine-processes.ts';
import { createBenchDatabase } from './bench-database.ts';
import { reportFigures, type BenchFigure } from './figures.ts';
import { idPlaceholder, type WebhookLoadMessage, type WebhookLoadPlan, type WebhookLoadResult } from './webhook-load.ts';

// Issue #9: does the engine scale out? Durable Shopify webhooks per second against 1, 2 and 4
// engine processes (`continuum serve`, worker off) sharing one PostgreSQL, each process driven by
// its own load generator (autocannon in a child process, the connections split evenly), every
// request a distinct signed `customers/create` event, answered 200 only after its commit. Printed:
// events/s summed over the processes, the worst process's p99, the engines' CPU per event (all
// processes, read from /proc), and the scaling against one process. The machine's cores are shared
// by the engines, PostgreSQL and the load generators: on 2 cores more processes cannot add CPU,
// only overlap the waits on PostgreSQL; the figures say how much.
//
//   node --import tsx bench/scale-out.ts --postgres=URL [--quick] [--processes=1,2,4] [--duration=5] [--connections=64]

interface Options {
  quick: boolean;
  postgresUrl: string | undefined;
  processCounts: number[];
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
}

const processesMax = 16;
const shop = { domain: 'bench-scale.myshopify.com', secret: 'bench-only-scale-secret' };
const fixture = { path: 'shopify/customers-create.json', topic: 'customers/create', resourceId: '706405506930370084' };
const clockTicksPerSecond = 100;

function parseOptions(argv: string[]): Options {
  const value = (name: string) => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = ['--quick', '--postgres=', '--processes=', '--duration=', '--connections='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  const quick = argv.includes('--quick');
  const processCounts = (value('processes') ?? (quick ? '1,2' : '1,2,4')).split(',').map(Number);
  if (processCounts.some((count) => !Number.isInteger(count) || count < 1 || count > processesMax)) throw new Error(`--processes: integers from 1 to ${processesMax}`);
  const durationSeconds = Number(value('duration') ?? (quick ? 1.5 : 5));
  const connections = Number(value('connections') ?? 64);
  return { quick, postgresUrl: value('postgres'), processCounts, durationSeconds, warmupSeconds: quick ? 0.5 : 1, connections };
}

/** CPU time of a process so far (user + system), in microseconds, from /proc; NaN where there is no /proc. */
function processCpuMicros(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond) * 1_000_000;
  } catch {
    return Number.NaN;
  }
}

interface LoadOutcome {
  results: WebhookLoadResult[];
  cpuMicros: number;
}

/** One load generator per engine, started together; CPU of the engines from the first counted moment to the last result. */
function driveAll(engines: EngineProcess[], plans: WebhookLoadPlan[]): Promise<LoadOutcome> {
  const results: WebhookLoadResult[] = [];
  let cpuAtStart: number | undefined;
  const cpuNow = () => engines.reduce((sum, engine) => sum + processCpuMicros(engine.child.pid), 0);
  return new Promise((resolve, reject) => {
    let exited = 0;
    plans.forEach((plan) => {
      const child = fork(join(import.meta.dirname, 'webhook-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (message: WebhookLoadMessage) => {
        if (message.type === 'measuring') cpuAtStart ??= cpuNow();
        else if (message.type === 'result') results.push(message.result);
        else reject(new Error(`load generator failed: ${message.message}`));
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`a load generator exited with ${code}`));
        exited += 1;
        if (exited === plans.length) resolve({ results, cpuMicros: cpuNow() - (cpuAtStart ?? Number.NaN) });
      });
      child.send(plan);
    });
  });
}

interface RunFigures {
  processes: number;
  eventsPerSecond: number;
  p99MsWorst: number;
  cpuMicrosPerEvent: number;
  acknowledged: number;
  stored: number;
  failures: number;
}

async function runWith(options: Options, postgresUrl: string, processes: number): Promise<RunFigures> {
  const database = await createBenchDatabase({ postgresUrl, keep: false }, `scale_${processes}`);
  const engines: EngineProcess[] = [];
  try {
    const handle = openDatabase(database.url, { postgresSchema: database.postgresSchema! });
    try {
      await migrateToLatest(handle.db, handle.dialect);
      await seedDemoMerchant(handle.db, {
        shopDomain: shop.domain, shopifySecret: shop.secret, shopifyAdminApiUrl: null, shopifyAccessToken: null,
        squareMerchantRef: 'BENCHSCALESQ', squareSignatureKey: 'bench-only-square-key', squareNotificationUrl: 'https://example.com/webhooks/square', adminApiKey: 'ck_admin_bench_scale_only',
      });
    } finally {
      await handle.close();
    }
    const url = engineDatabaseUrl({ url: database.url, postgresSchema: database.postgresSchema });
    for (let index = 0; index < processes; index += 1) engines.push(spawnEngine(index, url, await findFreePort(), { WORKER: 'off', LOG_LEVEL: 'error' }));
    await waitUntilHealthy(engines);
    const template = readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', fixture.path), 'utf8').replaceAll(fixture.resourceId, idPlaceholder);
    const perEngine = Math.max(1, Math.round(options.connections / processes));
    const { results, cpuMicros } = await driveAll(engines, engines.map((engine, index) => ({
      baseUrl: engine.baseUrl, shopDomain: shop.domain, secret: shop.secret, topic: fixture.topic, template, connections: perEngine,
      warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds, runTag: `scale-${processes}-${index}-${process.pid}-${Date.now()}`,
    })));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const stored = Number((await client.query('select count(*) as count from inbox_events')).rows[0].count);
    await client.end();
    const acknowledged = results.reduce((sum, result) => sum + result.acknowledged, 0);
    return {
      processes, eventsPerSecond: results.reduce((sum, result) => sum + result.acknowledgedPerSecond, 0), p99MsWorst: Math.max(...results.map((result) => result.p99Ms)),
      cpuMicrosPerEvent: cpuMicros / Math.max(1, acknowledged), acknowledged, stored, failures: results.reduce((sum, result) => sum + result.non2xx + result.errors + result.timeouts, 0),
    };
  } finally {
    await stopEngines(engines);
    await database.dispose();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`scale-out: durable webhooks/s against ${options.processCounts.join(', ')} engine processes on one PostgreSQL; ${options.connections} connections in all, ${options.durationSeconds} s counted`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at start`);
  if (!options.postgresUrl) {
    console.log('scale-out: no --postgres=URL: not measured');
    reportFigures('scale-out', options.processCounts.map((processes) => ({ figure: `durable webhooks/s, ${processes} engine process${processes > 1 ? 'es' : ''} on one PostgreSQL`, value: Number.NaN, unit: '/s', note: 'not measured: no PostgreSQL' })));
    return;
  }
  const runs: RunFigures[] = [];
  for (const processes of options.processCounts) {
    const run = await runWith(options, options.postgresUrl, processes);
    runs.push(run);
    console.log(`${processes} process(es): ${Math.round(run.eventsPerSecond)} events/s, worst p99 ${run.p99MsWorst.toFixed(1)} ms, engines' CPU ${Math.round(run.cpuMicrosPerEvent)} µs/event, ${run.acknowledged} acknowledged, ${run.stored} stored, ${run.failures} failures; load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)}`);
  }
  const single = runs.find((run) => run.processes === 1);
  reportFigures('scale-out', runs.map((run): BenchFigure => ({
    figure: `durable webhooks/s, ${run.processes} engine process${run.processes > 1 ? 'es' : ''} on one PostgreSQL`, value: run.eventsPerSecond, unit: '/s', cpuMicrosPerOperation: run.cpuMicrosPerEvent,
    note: `p99 ${run.p99MsWorst.toFixed(0)} ms${single && run !== single ? `, ${(run.eventsPerSecond / single.eventsPerSecond).toFixed(2)}× one process` : ''}`,
  })));
  const broken = runs.filter((run) => run.failures > 0 || run.stored < run.acknowledged);
  if (broken.length > 0) {
    for (const run of broken) console.error(`scale-out: ${run.processes} processes: ${run.failures} failed requests, ${run.stored} stored for ${run.acknowledged} acknowledged`);
    process.exitCode = 1;
  }
}

await main();
