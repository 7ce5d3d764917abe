import { Agent, request as httpRequest } from 'node:http';
import autocannon, { type AutocannonResult } from 'autocannon';
import { LatencyHistogram, latencyMsMax } from './latency-histogram.ts';
import { skuName } from './stock-data.ts';

// The load generator of the stock benchmark, run as a child process (`fork`) so that it never
// shares the engine's event loop. It receives one task over IPC, says when its counted part starts,
// sends back one result and exits. Three kinds of task:
// - `holds`: autocannon, closed loop, POST /v1/holds for a fixed time on SKUs picked at random;
// - `burst`: a fixed number of holds on one SKU sent at once (the last units), answers counted by status;
// - `sales`: POST /v1/pos/sales paced at a fixed rate (open loop), each acknowledgement timed.

interface TaskTarget {
  baseUrl: string;
  apiKey: string;
  locationId: string;
}

export interface HoldsTask extends TaskTarget {
  kind: 'holds';
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  skus: string[];
  /** Instead of a list, the loader's SKUs `${prefix}-000001` … of a set of `count` (a million SKUs need not travel as a list). */
  skuRange?: { prefix: string; count: number };
}

export interface BurstTask extends TaskTarget {
  kind: 'burst';
  connections: number;
  requests: number;
  sku: string;
}

export interface SalesTask extends TaskTarget {
  kind: 'sales';
  ratePerSecond: number;
  durationSeconds: number;
  /** Sales not yet answered above this are not sent (counted as not sent), so the pace never slips. */
  inFlightMax: number;
  skus: string[];
  saleIdPrefix: string;
}

export type StockLoadTask = HoldsTask | BurstTask | SalesTask;

export interface HoldsResult {
  responses2xx: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  statusCounts: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface BurstResult {
  statusCounts: Record<string, number>;
  /** Error codes of the refusals, e.g. `inventory.insufficient_stock`. */
  refusalCodes: Record<string, number>;
  errors: number;
  durationMs: number;
}

export interface SaleAck {
  saleId: string;
  sku: string;
  /** When the answer was read, in milliseconds since the epoch (performance.timeOrigin + now). */
  ackAtMs: number;
  status: number;
}

export interface SalesResult {
  planned: number;
  sent: number;
  notSent: number;
  /** Sales with no answer within the request timeout (the register gave up; the sale may still have been recorded). */
  timeouts: number;
  errors: number;
  /** The first few error messages, to say why. */
  errorSamples: string[];
  acks: SaleAck[];
  p50Ms: number;
  p99Ms: number;
  durationSeconds: number;
}

export type StockLoadMessage = { type: 'measuring' } | { type: 'result'; result: HoldsResult | BurstResult | SalesResult } | { type: 'error'; message: string };

// Past this the histogram stops telling latencies apart, so a request counts as timed out.
const requestTimeoutMs = latencyMsMax;
const runSlackMs = 30_000;
const pacingTickMs = 1;
const holdTtlSeconds = 3_600;
const errorSamplesMax = 5;

function assertLoopback(baseUrl: string): void {
  const host = new URL(baseUrl).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw new Error(`the load generator only targets loopback, not ${host}`);
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

async function fireHolds(task: HoldsTask, durationSeconds: number): Promise<HoldsResult> {
  const histogram = new LatencyHistogram();
  const statusCounts: Record<string, number> = {};
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon({
      url: task.baseUrl, connections: task.connections, pipelining: 1, duration: durationSeconds, timeout: requestTimeoutMs / 1000,
      headers: { authorization: `Bearer ${task.apiKey}`, 'content-type': 'application/json' },
      requests: [{
        method: 'POST', path: '/v1/holds',
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ location_id: task.locationId, sku: pickSku(task), quantity: 1, ttl_seconds: holdTtlSeconds }) }),
      }],
    }, (error, finished) => (error ? reject(error) : resolve(finished)));
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      increment(statusCounts, String(statusCode));
      if (statusCode >= 200 && statusCode < 300) histogram.record(responseTimeMs);
    });
    // A bound on the whole run, whatever happens to the server.
    setTimeout(() => instance.stop(), durationSeconds * 1000 + runSlackMs).unref();
  });
  return {
    responses2xx: histogram.count, requestsPerSecond: histogram.count / result.duration, p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99),
    statusCounts, non2xx: Object.entries(statusCounts).filter(([status]) => !status.startsWith('2')).reduce((sum, [, count]) => sum + count, 0),
    errors: result.errors, timeouts: result.timeouts,
  };
}

function pickSku(task: HoldsTask): string {
  if (task.skuRange) return skuName(task.skuRange.prefix, Math.floor(Math.random() * task.skuRange.count));
  return task.skus[Math.floor(Math.random() * task.skus.length)]!;
}

async function runHolds(task: HoldsTask): Promise<HoldsResult> {
  if (task.warmupSeconds > 0) await fireHolds(task, task.warmupSeconds);
  process.send?.({ type: 'measuring' } satisfies StockLoadMessage);
  return fireHolds(task, task.durationSeconds);
}

/** One POST with a JSON body over a keep-alive agent; resolves with the status and the parsed body. */
function postJson(agent: Agent, task: TaskTarget, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(new URL(path, task.baseUrl), {
      method: 'POST', agent, timeout: requestTimeoutMs,
      headers: { authorization: `Bearer ${task.apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = raw;
        try { parsed = JSON.parse(raw); } catch { /* keep the text */ }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(Object.assign(new Error(`no answer within ${requestTimeoutMs} ms`), { name: 'TimeoutError' })));
    outgoing.on('error', reject);
    outgoing.end(text);
  });
}

async function runBurst(task: BurstTask): Promise<BurstResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: task.connections });
  const statusCounts: Record<string, number> = {};
  const refusalCodes: Record<string, number> = {};
  let errors = 0;
  process.send?.({ type: 'measuring' } satisfies StockLoadMessage);
  const startedAt = performance.now();
  const body = { location_id: task.locationId, sku: task.sku, quantity: 1, ttl_seconds: holdTtlSeconds };
  await Promise.all(Array.from({ length: task.requests }, async () => {
    try {
      const answer = await postJson(agent, task, '/v1/holds', body);
      increment(statusCounts, String(answer.status));
      const code = (answer.body as { error?: { code?: string } } | null)?.error?.code;
      if (answer.status >= 400) increment(refusalCodes, code ?? 'none');
    } catch {
      errors += 1;
    }
  }));
  agent.destroy();
  return { statusCounts, refusalCodes, errors, durationMs: performance.now() - startedAt };
}

async function runSales(task: SalesTask): Promise<SalesResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: task.inFlightMax });
  const planned = Math.round(task.ratePerSecond * task.durationSeconds);
  const histogram = new LatencyHistogram();
  const acks: SaleAck[] = [];
  let issued = 0;
  let sent = 0;
  let notSent = 0;
  let errors = 0;
  let timeouts = 0;
  const errorSamples: string[] = [];
  let inFlight = 0;
  let startedAt = performance.now();
  const send = (index: number) => {
    const saleId = `${task.saleIdPrefix}-${index}`;
    const sku = task.skus[index % task.skus.length]!;
    const sentAt = performance.now();
    inFlight += 1;
    sent += 1;
    postJson(agent, task, '/v1/pos/sales', { sale_id: saleId, register_id: 'bench-till', location_id: task.locationId, lines: [{ sku, quantity: 1 }] }).then((answer) => {
      const answeredAt = performance.now();
      acks.push({ saleId, sku, ackAtMs: performance.timeOrigin + answeredAt, status: answer.status });
      if (answer.status === 201) histogram.record(answeredAt - sentAt);
    }, (error: unknown) => {
      if (error instanceof Error && error.name === 'TimeoutError') {
        timeouts += 1;
        return;
      }
      errors += 1;
      if (errorSamples.length < errorSamplesMax) errorSamples.push(`${error instanceof Error ? error.message : String(error)} (sent ${Math.round(sentAt - startedAt)} ms into the run)`);
    }).finally(() => { inFlight -= 1; });
  };
  process.send?.({ type: 'measuring' } satisfies StockLoadMessage);
  startedAt = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(planned, Math.floor(((performance.now() - startedAt) / 1000) * task.ratePerSecond) + 1);
      for (; issued < due; issued += 1) {
        if (inFlight >= task.inFlightMax) notSent += 1;
        else send(issued);
      }
      if (issued < planned) setTimeout(tick, pacingTickMs);
      else resolve();
    };
    tick();
  });
  // Every request has a timeout, so this wait is bounded.
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  agent.destroy();
  return { planned, sent, notSent, timeouts, errors, errorSamples, acks, p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99), durationSeconds: (performance.now() - startedAt) / 1000 };
}

async function runTask(task: StockLoadTask): Promise<HoldsResult | BurstResult | SalesResult> {
  assertLoopback(task.baseUrl);
  switch (task.kind) {
    case 'holds': return runHolds(task);
    case 'burst': return runBurst(task);
    case 'sales': return runSales(task);
  }
}

process.once('message', (message) => {
  void runTask(message as StockLoadTask).then(
    (result) => process.send?.({ type: 'result', result } satisfies StockLoadMessage, () => process.disconnect()),
    (error: unknown) => process.send?.({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies StockLoadMessage, () => process.exit(1)),
  );
});
