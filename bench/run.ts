import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { figuresLinePrefix, meetsTarget, targetAboveCeiling, type BenchFigure } from './figures.ts';

// Runs every benchmark of bench/, one after another, each in a process of its own, and prints ONE
// table at the end: each headline figure, the engine's CPU per operation, the raw limit of the same
// storage measured in the same run, their ratio, the ceiling this machine allows one engine process
// (bench/figures.ts), the target and whether it is met. Each benchmark
// still prints its own detailed tables as it goes; it hands its headline figures over on one line
// (`BENCH_FIGURES`, bench/figures.ts).
//
//   npm run bench                                   full sizes (about 11 minutes on the 2-core machine)
//   npm run bench -- --quick                        small sizes (about 2 minutes): what CI runs
//   npm run bench -- --postgres=postgres://...      adds the PostgreSQL figures (or BENCH_POSTGRES_URL)
//   npm run bench -- --only=webhook-ingest,scale-out --out=bench-table.md

interface PlannedRun {
  script: string;
  /** Arguments beyond --quick and --postgres. */
  args(quick: boolean): string[];
  /** Whether it takes --postgres=URL (and runs PostgreSQL figures with it). */
  postgres: boolean;
  /** Added to its figures' names, when the same script runs more than once. */
  label?: string;
  /** Which of its figures go into the table (all by default). */
  keep?: (figure: BenchFigure) => boolean;
}

const spreadHoldsOnly = (figure: BenchFigure) => figure.figure.startsWith('holds/s, spread');

/** The benchmarks, in the order they run. A new benchmark is a script in bench/ added here. */
const plannedRuns: PlannedRun[] = [
  { script: 'webhook-ingest.ts', args: () => [], postgres: true },
  { script: 'orders-end-to-end.ts', args: () => [], postgres: true },
  // Growth of an order's cost with the customers already held (issue #9: 10k → 1M).
  { script: 'orders-growth.ts', args: () => [], postgres: false },
  { script: 'scale-out.ts', args: () => [], postgres: true },
  { script: 'customer-lookup.ts', args: () => [], postgres: false },
  { script: 'stock.ts', args: () => [], postgres: false },
  // Growth of a hold's cost with the number of SKUs (issue #9: 10k → 1M).
  { script: 'stock.ts', args: (quick) => ['--phases=holds', `--skus=${quick ? 2_000 : 10_000}`], postgres: false, label: 'growth, small', keep: spreadHoldsOnly },
  { script: 'stock.ts', args: (quick) => ['--phases=holds', `--skus=${quick ? 20_000 : 1_000_000}`], postgres: false, label: 'growth, large', keep: spreadHoldsOnly },
  { script: 'cart-pricing.ts', args: () => [], postgres: false },
  { script: 'loyalty.ts', args: () => [], postgres: false },
];
const benchmarkMinutesMax = 30;

interface Options {
  quick: boolean;
  postgresUrl: string | undefined;
  only: string[] | undefined;
  out: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string) => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = ['--quick', '--postgres=', '--only=', '--out='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  return { quick: argv.includes('--quick'), postgresUrl: value('postgres') || process.env['BENCH_POSTGRES_URL'] || undefined, only: value('only')?.split(','), out: value('out') };
}

interface RunOutcome {
  code: number;
  figures: BenchFigure[];
  seconds: number;
}

/** Runs one benchmark, passing its output through, and collects its BENCH_FIGURES lines. */
function runBenchmark(run: PlannedRun, args: string[]): Promise<RunOutcome> {
  const path = join(import.meta.dirname, run.script);
  if (!existsSync(path)) throw new Error(`bench/run.ts lists ${run.script}, which is not in bench/`);
  console.log(`\n=== ${run.script} ${args.join(' ')}`.trimEnd());
  const startedAt = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const figures: BenchFigure[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith(figuresLinePrefix)) continue;
      const parsed = JSON.parse(line.slice(figuresLinePrefix.length)) as { figures: BenchFigure[] };
      for (const figure of parsed.figures.filter(run.keep ?? (() => true))) figures.push({ ...figure, value: figure.value ?? Number.NaN, figure: run.label ? `${figure.figure} (${run.label})` : figure.figure });
    }
  });
  // A bound on every benchmark, whatever happens to it.
  const timer = setTimeout(() => {
    console.error(`bench/run.ts: ${run.script} ran past ${benchmarkMinutesMax} minutes; stopping it`);
    child.kill('SIGTERM');
  }, benchmarkMinutesMax * 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? 1 : code ?? 1, figures, seconds: (performance.now() - startedAt) / 1000 });
    });
  });
}

/** Growth rows derived from the two stock runs: CPU per hold and throughput, small to large. */
function deriveStockGrowth(figures: BenchFigure[]): BenchFigure[] {
  const find = (label: string) => figures.find((figure) => spreadHoldsOnly(figure) && figure.figure.endsWith(`(${label})`));
  const small = find('growth, small');
  const large = find('growth, large');
  if (!small?.cpuMicrosPerOperation || !large?.cpuMicrosPerOperation) return [];
  const sizes = (figure: BenchFigure) => /spread over ([\d,]+) SKUs/.exec(figure.figure)?.[1] ?? '?';
  return [
    { figure: `growth of CPU per hold, ${sizes(small)} → ${sizes(large)} SKUs`, value: large.cpuMicrosPerOperation / small.cpuMicrosPerOperation, unit: '×', target: { atMost: 1.5 }, note: `${Math.round(small.cpuMicrosPerOperation)} → ${Math.round(large.cpuMicrosPerOperation)} µs` },
    { figure: `throughput drop of holds, ${sizes(small)} → ${sizes(large)} SKUs`, value: small.value / large.value, unit: '×', target: { atMost: 1.5 }, note: `${Math.round(small.value)} → ${Math.round(large.value)}/s` },
  ];
}

const integer = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');
function formatValue(value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (unit === '×') return `${value.toFixed(2)}×`;
  if (unit === 'ms') return `${value < 10 ? value.toFixed(2) : integer(value)} ms`;
  return `${Math.abs(value) < 10 && !Number.isInteger(value) ? value.toFixed(2) : integer(value)}${unit === '/s' ? '/s' : unit ? ` ${unit}` : ''}`;
}

function formatTarget(figure: BenchFigure): string {
  if (!figure.target) return '';
  const parts = [];
  if (figure.target.atLeast !== undefined) parts.push(`≥ ${formatValue(figure.target.atLeast, figure.unit)}`);
  if (figure.target.atMost !== undefined) parts.push(`≤ ${formatValue(figure.target.atMost, figure.unit)}`);
  return parts.join(', ');
}

function tableRows(figures: BenchFigure[]): string[][] {
  return figures.map((figure) => {
    const met = meetsTarget(figure);
    const ratio = figure.raw !== undefined && Number.isFinite(figure.raw) && figure.raw > 0 && Number.isFinite(figure.value) ? `${(figure.value / figure.raw).toFixed(2)}×` : '';
    return [
      figure.figure + (figure.note ? ` (${figure.note})` : ''), formatValue(figure.value, figure.unit),
      figure.cpuMicrosPerOperation !== undefined ? integer(figure.cpuMicrosPerOperation) : '',
      figure.raw !== undefined ? `${formatValue(figure.raw, figure.unit)}${figure.rawWhat ? ` (${figure.rawWhat})` : ''}` : '', ratio,
      figure.ceiling !== undefined ? `${formatValue(figure.ceiling, figure.unit)}${figure.ceilingWhat ? ` (${figure.ceilingWhat})` : ''}` : '',
      formatTarget(figure), met === undefined ? '' : met ? 'met' : targetAboveCeiling(figure) ? 'NOT met (above the ceiling)' : 'NOT met',
    ];
  });
}

function machineLine(loadAtStart: number): string {
  let model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((candidate) => candidate.startsWith('model name'));
    if (line) model = line.split(':')[1]?.trim() ?? model;
  } catch { /* not Linux */ }
  return `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${model}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end`;
}

function printTable(figures: BenchFigure[], machine: string, out: string | undefined): void {
  const header = ['figure', 'value', 'CPU µs/op', 'raw limit, same storage, same run', 'engine/raw', 'ceiling on this machine', 'target', 'met?'];
  const rows = tableRows(figures);
  const markdown = [`Machine: ${machine}`, '', `| ${header.join(' | ')} |`, `| ${header.map((_, index) => (index === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
  console.log(`\n${'='.repeat(100)}\nAll figures of this run\n${'='.repeat(100)}\n${markdown}\n`);
  if (out) writeFileSync(out, `${markdown}\n`);
}

const options = parseOptions(process.argv.slice(2));
const loadAtStart = loadavg()[0] ?? Number.NaN;
const failed: string[] = [];
const figures: BenchFigure[] = [];
const durations: string[] = [];
for (const run of plannedRuns) {
  if (options.only && !options.only.some((name) => run.script.startsWith(name))) continue;
  const args = [...(options.quick ? ['--quick'] : []), ...(run.postgres && options.postgresUrl ? [`--postgres=${options.postgresUrl}`] : []), ...run.args(options.quick)];
  const outcome = await runBenchmark(run, args);
  figures.push(...outcome.figures);
  durations.push(`${run.script}${run.label ? ` (${run.label})` : ''} ${outcome.seconds.toFixed(0)} s`);
  if (outcome.code !== 0) failed.push(run.script + (run.label ? ` (${run.label})` : ''));
}
figures.push(...deriveStockGrowth(figures));
printTable(figures, machineLine(loadAtStart), options.out);
console.log(`durations: ${durations.join(', ')}`);
if (!options.postgresUrl) console.log('PostgreSQL figures: not measured (pass --postgres=URL or set BENCH_POSTGRES_URL)');
if (failed.length > 0) {
  console.error(`\nbench: failed: ${failed.join(', ')}`);
  process.exitCode = 1;
} else {
  console.log(`\nbench: ${durations.length} benchmark run(s) done`);
}
