import autocannon, { type AutocannonResult } from 'autocannon';
import { LatencyHistogram, latencyMsMax } from './latency-histogram.ts';

// The load generator of the lookup benchmark, run as a child process (`fork`) so that it never
// shares the engine's event loop. It receives a plan over IPC, fires autocannon at the engine on
// loopback once per lookup kind (every kind warmed up first, then each again before it is counted,
// neither counted), says when each counted run starts, sends back one result per kind and exits.

export interface LoadRun {
  kind: string;
  /** Request paths with their query strings, picked at random for every request. */
  paths: string[];
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

process.once('message', (message) => {
  const plan = message as LoadPlan;
  void (async () => {
    assertLoopback(plan.baseUrl);
    // Every kind is warmed up before the first is counted: the kind measured first otherwise paid
    // for compiling the whole request path and collecting the loaded data's garbage (~200 µs of CPU
    // more per lookup at 10k customers, whichever kind came first).
    if (plan.warmupSeconds > 0) for (const run of plan.runs) await fire(plan, run, plan.warmupSeconds);
    for (const run of plan.runs) {
      if (plan.warmupSeconds > 0) await fire(plan, run, plan.warmupSeconds);
      // Tells the parent when the counted run starts, so it can take the engine's CPU time over it.
      process.send?.({ type: 'measuring', kind: run.kind });
      process.send?.({ type: 'result', result: await fire(plan, run, plan.durationSeconds) });
    }
    process.disconnect();
  })().catch((error: unknown) => {
    process.send?.({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) }, () => process.exit(1));
  });
});
