import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// Runs every benchmark of bench/, one after another, each in a process of its own, passing
// `--quick` (and any other argument) through, and prints their tables as they come.
//
//   npm run bench              full sizes (minutes)
//   npm run bench -- --quick   small sizes (seconds), what CI runs to keep the benchmarks working

/** The benchmarks, in the order they run. A new benchmark is a script in bench/ added here. */
const benchmarks = ['customer-lookup.ts', 'stock.ts', 'loyalty.ts', 'cart-pricing.ts', 'webhook-ingest.ts'];
const benchmarkMinutesMax = 20;

function runBenchmark(script: string, args: string[]): Promise<number> {
  const path = join(import.meta.dirname, script);
  if (!existsSync(path)) throw new Error(`bench/run.ts lists ${script}, which is not in bench/`);
  console.log(`\n=== ${script} ${args.join(' ')}`.trimEnd());
  const child = spawn(process.execPath, ['--import', 'tsx', path, ...args], { stdio: 'inherit' });
  // A bound on every benchmark, whatever happens to it.
  const timer = setTimeout(() => {
    console.error(`bench/run.ts: ${script} ran past ${benchmarkMinutesMax} minutes; stopping it`);
    child.kill('SIGTERM');
  }, benchmarkMinutesMax * 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ? 1 : code ?? 1);
    });
  });
}

const args = process.argv.slice(2);
const failed: string[] = [];
for (const script of benchmarks) {
  if ((await runBenchmark(script, args)) !== 0) failed.push(script);
}
if (failed.length > 0) {
  console.error(`\nbench: failed: ${failed.join(', ')}`);
  process.exitCode = 1;
} else {
  console.log(`\nbench: ${benchmarks.length} benchmark(s) done`);
}
