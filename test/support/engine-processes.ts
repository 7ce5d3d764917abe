import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

// Real `continuum serve` processes for tests that need several engines on one database (the
// race, inbox and outbox multi-process tests, through engine-cluster.ts, and the kill -9 test;
// engineDatabaseUrl for CLI processes too).
// pg reads libpq's `options` from the connection string, so every pooled connection of a process
// starts with the test's schema as its search_path.

const binPath = join(import.meta.dirname, '..', '..', 'bin', 'continuum.mjs');
const startupWaitMsMax = 30_000;
const healthPollIntervalMs = 100;
const stopWaitMsMax = 5_000;
const outputKeptCharsMax = 16_000;

export interface EngineProcess {
  index: number;
  baseUrl: string;
  child: ChildProcess;
  /** The last characters the process wrote to stdout and stderr. */
  output(): string;
  /** Resolves when the process has exited (at once if it already has). */
  exited: Promise<void>;
}

/** A port nobody listens on now: the OS picks one for a throwaway server, which then closes. */
export async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object', 'a listening server has an address');
  return address.port;
}

/** The DATABASE_URL an engine or CLI process needs to see the test's database (PostgreSQL: its schema). */
export function engineDatabaseUrl(database: { url: string; postgresSchema?: string | undefined }): string {
  if (!database.postgresSchema) return database.url;
  const url = new URL(database.url);
  url.searchParams.set('options', `-c search_path=${database.postgresSchema}`);
  return url.toString();
}

/** Runs a `continuum` command against a test's database and returns what it printed. */
export async function runContinuumCli(database: { url: string; postgresSchema?: string | undefined }, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [binPath, ...args], { env: { ...process.env, DATABASE_URL: engineDatabaseUrl(database), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

export function spawnEngine(index: number, databaseUrl: string, port: number, env: Record<string, string> = {}): EngineProcess {
  const child = spawn(process.execPath, [binPath, 'serve'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', WORKER: 'on', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-outputKeptCharsMax);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return { index, baseUrl: `http://127.0.0.1:${port}`, child, output: () => output, exited };
}

function hasExited(engine: EngineProcess): boolean {
  return engine.child.exitCode !== null || engine.child.signalCode !== null;
}

/** Waits until every engine answers GET /healthz; fails with the output of one that does not. */
export async function waitUntilHealthy(engines: EngineProcess[]): Promise<void> {
  const deadline = Date.now() + startupWaitMsMax;
  const pending = new Set(engines);
  while (pending.size > 0) {
    for (const engine of pending) {
      if (hasExited(engine)) assert.fail(`engine ${engine.index} exited (code ${engine.child.exitCode}, signal ${engine.child.signalCode}) before it was healthy; its output:\n${engine.output()}`);
      const healthy = await fetch(`${engine.baseUrl}/healthz`, { signal: AbortSignal.timeout(healthPollIntervalMs * 10) }).then((response) => response.ok, () => false);
      if (healthy) pending.delete(engine);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      const first = [...pending][0]!;
      assert.fail(`engine ${first.index} (of ${pending.size} not up) did not answer /healthz within ${startupWaitMsMax} ms; its output:\n${first.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, healthPollIntervalMs));
  }
}

/** SIGTERM (the engine's clean stop), then SIGKILL for any process still running after a bound. */
export async function stopEngines(engines: EngineProcess[]): Promise<void> {
  for (const engine of engines) if (!hasExited(engine)) engine.child.kill('SIGTERM');
  const allExited = Promise.all(engines.map((engine) => engine.exited));
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), stopWaitMsMax); });
  const outcome = await Promise.race([allExited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'exited') return;
  for (const engine of engines) if (!hasExited(engine)) engine.child.kill('SIGKILL');
  await allExited;
}

/** The lines an engine logged at pino's error level or above (50 error, 60 fatal). */
export function errorLines(engine: EngineProcess): string[] {
  return engine.output().split('\n').filter((line) => /"level":\s*(5|6)0\b/.test(line));
}
