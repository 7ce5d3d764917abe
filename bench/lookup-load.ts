import autocannon, { type AutocannonResult } from 'autocannon';
import { Agent, request } from 'node:http';
import { LatencyHistogram, latencyMsMax } from './latency-histogram.ts';

// The load generator of the lookup benchmark, run as a child process (`fork`) so that it never
// shares the engine's event loop. It receives a plan over IPC, fires autocannon at the engine on
// loopback once per lookup kind (every kind warmed up first, then each again before it is counted,
// neither counted), says when each counted run starts, sends back one result per kind and exits.

export interface LoadRun {
  kind: string;
  /** Request paths with their query strings, picked at random for every request. */
  paths: string[];
  /**
   * Requests a second offered at evenly spaced moments, whether or not earlier ones were answered
   * (an open loop, latency counted from the moment each was due); unset: autocannon asking as fast
   * as answered on every connection.
   */
  rate?: number;
}

export interface LoadPlan {
  baseUrl: string;
  apiKey: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  runs: LoadRun[];
}

export interface LoadResult {
  kind: string;
  responses: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

// Past this the histogram stops telling latencies apart, so a request counts as timed out.
const requestTimeoutSeconds = latencyMsMax / 1000;
const runSlackMs = 30_000;

function assertLoopback(baseUrl: string): void {
  const host = new URL(baseUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`the load generator only targets loopback, not ${host}`);
}

async function fire(plan: LoadPlan, run: LoadRun, durationSeconds: number): Promise<LoadResult> {
  const histogram = new LatencyHistogram();
  let non2xx = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon({
      url: plan.baseUrl,
      connections: plan.connections,
      pipelining: 1,
      duration: durationSeconds,
      timeout: requestTimeoutSeconds,
      headers: { authorization: `Bearer ${plan.apiKey}` },
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: run.paths[Math.floor(Math.random() * run.paths.length)]! }) }],
    }, (error, finished) => (error ? reject(error) : resolve(finished)));
    // autocannon's own histogram keeps whole milliseconds; the response event gives the exact time.
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      if (statusCode >= 200 && statusCode < 300) histogram.record(responseTimeMs);
      else non2xx += 1;
    });
    // A bound on the whole run, whatever happens to the server.
    setTimeout(() => instance.stop(), durationSeconds * 1000 + runSlackMs).unref();
  });
  return {
    kind: run.kind, responses: histogram.count, requestsPerSecond: histogram.count / result.duration,
    p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99), non2xx, errors: result.errors, timeouts: result.timeouts,
  };
}

/**
 * A steady rate: each request is due at start + i / rate and is sent then on a keep-alive socket,
 * however long the earlier ones take (autocannon's rate sends each connection's share for a second
 * at once and would measure its own bursts). Its latency runs from when it was sent to its answer:
 * on the 2-core machine this generator's own timer is sometimes late by 5-20 ms (measured), which
 * is not the engine's, and at a rate well under capacity nothing waits behind a slow answer.
 */
async function fireSteady(plan: LoadPlan, run: LoadRun & { rate: number }, durationSeconds: number): Promise<LoadResult> {
  const histogram = new LatencyHistogram();
  const agent = new Agent({ keepAlive: true, maxSockets: plan.connections });
  const url = new URL(plan.baseUrl);
  const total = Math.round(run.rate * durationSeconds);
  const startedAt = performance.now();
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let settled = 0;
  await new Promise<void>((resolve) => {
    const settle = () => {
      settled += 1;
      if (settled === total) resolve();
    };
    const send = () => {
      const sentAt = performance.now();
      const path = run.paths[Math.floor(Math.random() * run.paths.length)]!;
      const outgoing = request({ host: url.hostname, port: url.port, path, agent, headers: { authorization: `Bearer ${plan.apiKey}` }, timeout: requestTimeoutSeconds * 1000 }, (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300) histogram.record(performance.now() - sentAt);
          else non2xx += 1;
          settle();
        });
      });
      let timedOut = false;
      outgoing.on('timeout', () => {
        timedOut = true;
        outgoing.destroy();
      });
      outgoing.on('error', () => {
        if (timedOut) timeouts += 1;
        else errors += 1;
        settle();
      });
      outgoing.end();
    };
    let sent = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      while (sent < total && startedAt + (sent * 1000) / run.rate <= now) {
        send();
        sent += 1;
      }
      if (sent === total) clearInterval(tick);
    }, 1);
    // A bound on the whole run, whatever happens to the server.
    setTimeout(() => resolve(), durationSeconds * 1000 + runSlackMs).unref();
  });
  agent.destroy();
  const seconds = (performance.now() - startedAt) / 1000;
  return {
    kind: run.kind, responses: histogram.count, requestsPerSecond: histogram.count / seconds,
    p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99), non2xx, errors, timeouts: timeouts + (total - settled),
  };
}

process.once('message', (message) => {
  const plan = message as LoadPlan;
  void (async () => {
    assertLoopback(plan.baseUrl);
    // Every kind is warmed up before the first is counted: the kind measured first otherwise paid
    // for compiling the whole request path and collecting the loaded data's garbage (~200 µs of CPU
    // more per lookup at 10k customers, whichever kind came first).
    const fireRun = (run: LoadRun, seconds: number) => (run.rate ? fireSteady(plan, { ...run, rate: run.rate }, seconds) : fire(plan, run, seconds));
    if (plan.warmupSeconds > 0) for (const run of plan.runs) await fireRun(run, plan.warmupSeconds);
    for (const run of plan.runs) {
      if (plan.warmupSeconds > 0) await fireRun(run, plan.warmupSeconds);
      // Tells the parent when the counted run starts, so it can take the engine's CPU time over it.
      process.send?.({ type: 'measuring', kind: run.kind });
      process.send?.({ type: 'result', result: await fireRun(run, plan.durationSeconds) });
    }
    process.disconnect();
  })().catch((error: unknown) => {
    process.send?.({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) }, () => process.exit(1));
  });
});
