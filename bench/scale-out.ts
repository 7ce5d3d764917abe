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
// only overlap the waits on PostgreSQL; the figures say how much (with the machine's busy share over
// the run and the load generators' own CPU, so a machine already saturated by one process shows).
// With --sqlite the processes share one SQLite file (WAL) instead: only one of them writes at a
// time, and one waiting for the write lock waits on its event loop (SQLite's busy handler).
//
//   node --import tsx bench/scale-out.ts (--postgres=URL | --sqlite) [--quick] [--processes=1,2,4] [--duration=5] [--connections=64]

interface Options {
  quick: boolean;
  postgresUrl: string | undefined;
  /** Measure engine processes sharing one SQLite file (WAL) instead of PostgreSQL. */
  sqlite: boolean;
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
  const known = ['--quick', '--postgres=', '--sqlite', '--processes=', '--duration=', '--connections='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  const quick = argv.includes('--quick');
  const processCounts = (value('processes') ?? (quick ? '1,2' : '1,2,4')).split(',').map(Number);
  if (processCounts.some((count) => !Number.isInteger(count) || count < 1 || count > processesMax)) throw new Error(`--processes: integers from 1 to ${processesMax}`);
  const durationSeconds = Number(value('duration') ?? (quick ? 1.5 : 5));
  const connections = Number(value('connections') ?? 64);
  return { quick, postgresUrl: value('postgres'), sqlite: argv.includes('--sqlite'), processCounts, durationSeconds, warmupSeconds: quick ? 0.5 : 1, connections };
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

/** CPU time of the whole machine so far, busy and in all (every core), in microseconds, from /proc/stat; NaN where there is none. */
function machineCpuMicros(): { busy: number; all: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const all = fields.reduce((sum, value) => sum + value, 0);
    // idle and iowait are the time no process ran.
    const busy = all - fields[3]! - fields[4]!;
    return { busy: (busy / clockTicksPerSecond) * 1_000_000, all: (all / clockTicksPerSecond) * 1_000_000 };
  } catch {
    return { busy: Number.NaN, all: Number.NaN };
  }
}

interface LoadOutcome {
  results: WebhookLoadResult[];
  /** CPU of the engines over the counted run. */
  cpuMicros: number;
  /** CPU of the load generators over the counted run (up to their last sample before exit). */
  loadCpuMicros: number;
  /** Share of the machine's CPU time busy over the counted run, all processes (PostgreSQL, other work) included. */
  machineBusyShare: number;
}

/**
 * One load generator per engine, started together; CPU of the engines, of the load generators and
 * of the machine from the first counted moment to the last result. Where the machine was busy all
 * the time, more engine processes can only share the same cores (the scale-out figure then says
 * more about the machine than about the engine).
 */
function driveAll(engines: EngineProcess[], plans: WebhookLoadPlan[]): Promise<LoadOutcome> {
  const results: WebhookLoadResult[] = [];
  const loadPids: number[] = [];
  let cpuAtStart: number | undefined;
  let loadCpuAtStart: number | undefined;
  let machineAtStart: { busy: number; all: number } | undefined;
  const loadCpuAtResult = new Map<number, number>();
  const cpuNow = () => engines.reduce((sum, engine) => sum + processCpuMicros(engine.child.pid), 0);
  const loadCpuNow = () => loadPids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
  return new Promise((resolve, reject) => {
    let exited = 0;
    let machineAtEnd: { busy: number; all: number } | undefined;
    plans.forEach((plan) => {
      const child = fork(join(import.meta.dirname, 'webhook-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      if (child.pid !== undefined) loadPids.push(child.pid);
      child.on('message', (message: WebhookLoadMessage) => {
        if (message.type === 'measuring') {
          cpuAtStart ??= cpuNow();
          loadCpuAtStart ??= loadCpuNow();
          machineAtStart ??= machineCpuMicros();
        } else if (message.type === 'result') {
          results.push(message.result);
          if (child.pid !== undefined) loadCpuAtResult.set(child.pid, processCpuMicros(child.pid));
          if (results.length === plans.length) machineAtEnd = machineCpuMicros();
        } else reject(new Error(`load generator failed: ${message.message}`));
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`a load generator exited with ${code}`));
        exited += 1;
        if (exited < plans.length) return;
        const end = machineAtEnd ?? machineCpuMicros();
        const start = machineAtStart ?? { busy: Number.NaN, all: Number.NaN };
        const loadCpuAtEnd = [...loadCpuAtResult.values()].reduce((sum, micros) => sum + micros, 0);
        resolve({
          results, cpuMicros: cpuNow() - (cpuAtStart ?? Number.NaN), loadCpuMicros: loadCpuAtEnd - (loadCpuAtStart ?? Number.NaN),
          machineBusyShare: (end.busy - start.busy) / (end.all - start.all),
        });
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
  /** The load generators' CPU per event: what the engines' requests cost the machine on the sending side. */
  loadCpuMicrosPerEvent: number;
  machineBusyShare: number;
  acknowledged: number;
  stored: number;
  failures: number;
}

async function countInboxRows(url: string): Promise<number> {
  if (!url.startsWith('postgres')) {
    const handle = openDatabase(url);
    try {
      const row = await handle.db.selectFrom('inbox_events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
      return Number(row.count);
    } finally {
      await handle.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query('select count(*) as count from inbox_events')).rows[0].count);
  } finally {
    await client.end();
  }
}

async function runWith(options: Options, postgresUrl: string | undefined, processes: number): Promise<RunFigures> {
  const database = await createBenchDatabase({ postgresUrl, keep: false }, `scale_${processes}`);
  const engines: EngineProcess[] = [];
  try {
    const handle = openDatabase(database.url, database.postgresSchema ? { postgresSchema: database.postgresSchema } : {});
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
    const { results, cpuMicros, loadCpuMicros, machineBusyShare } = await driveAll(engines, engines.map((engine, index) => ({
      baseUrl: engine.baseUrl, shopDomain: shop.domain, secret: shop.secret, topic: fixture.topic, template, connections: perEngine,
      // Each process warms its own JIT, and each gets 1/N of the requests (and of the cores): N times
      // the warm-up gives every process about as many warm-up requests as a single one gets.
      warmupSeconds: options.warmupSeconds * processes, durationSeconds: options.durationSeconds, runTag: `scale-${processes}-${index}-${process.pid}-${Date.now()}`,
    })));
    const stored = await countInboxRows(url);
    const acknowledged = results.reduce((sum, result) => sum + result.acknowledged, 0);
    return {
      processes, eventsPerSecond: results.reduce((sum, result) => sum + result.acknowledgedPerSecond, 0), p99MsWorst: Math.max(...results.map((result) => result.p99Ms)),
      cpuMicrosPerEvent: cpuMicros / Math.max(1, acknowledged), loadCpuMicrosPerEvent: loadCpuMicros / Math.max(1, acknowledged), machineBusyShare, acknowledged, stored, failures: results.reduce((sum, result) => sum + result.non2xx + result.errors + result.timeouts, 0),
    };
  } finally {
    await stopEngines(engines);
    await database.dispose();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const storage = options.sqlite ? 'one SQLite file' : 'one PostgreSQL';
  console.log(`scale-out: durable webhooks/s against ${options.processCounts.join(', ')} engine processes on ${storage}; ${options.connections} connections in all, ${options.durationSeconds} s counted`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at start`);
  if (!options.postgresUrl && !options.sqlite) {
    console.log('scale-out: no --postgres=URL: not measured');
    reportFigures('scale-out', options.processCounts.map((processes) => ({ figure: `durable webhooks/s, ${processes} engine process${processes > 1 ? 'es' : ''} on one PostgreSQL`, value: Number.NaN, unit: '/s', note: 'not measured: no PostgreSQL' })));
    return;
  }
  const runs: RunFigures[] = [];
  for (const processes of options.processCounts) {
    const run = await runWith(options, options.sqlite ? undefined : options.postgresUrl, processes);
    runs.push(run);
    console.log(`${processes} process(es): ${Math.round(run.eventsPerSecond)} events/s, worst p99 ${run.p99MsWorst.toFixed(1)} ms, engines' CPU ${Math.round(run.cpuMicrosPerEvent)} µs/event, load generators' ${Math.round(run.loadCpuMicrosPerEvent)} µs/event, machine ${Math.round(run.machineBusyShare * 100)} % busy, ${run.acknowledged} acknowledged, ${run.stored} stored, ${run.failures} failures; load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)}`);
  }
  const single = runs.find((run) => run.processes === 1);
  reportFigures('scale-out', runs.map((run): BenchFigure => ({
    figure: `durable webhooks/s, ${run.processes} engine process${run.processes > 1 ? 'es' : ''} on ${storage}`, value: run.eventsPerSecond, unit: '/s', cpuMicrosPerOperation: run.cpuMicrosPerEvent,
    note: `p99 ${run.p99MsWorst.toFixed(0)} ms, machine ${Math.round(run.machineBusyShare * 100)} % busy${single && run !== single ? `, ${(run.eventsPerSecond / single.eventsPerSecond).toFixed(2)}× one process` : ''}`,
  })));
  const broken = runs.filter((run) => run.failures > 0 || run.stored < run.acknowledged);
  if (broken.length > 0) {
    for (const run of broken) console.error(`scale-out: ${run.processes} processes: ${run.failures} failed requests, ${run.stored} stored for ${run.acknowledged} acknowledged`);
    process.exitCode = 1;
  }
}

await main();
