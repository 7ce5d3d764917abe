import { readFileSync } from 'node:fs';
import pg from 'pg';
import { LatencyHistogram } from './latency-histogram.ts';
import { openRawSqlite } from './bench-database.ts';

// The raw storage limit of webhook ingest: plain better-sqlite3 on the benchmark's own database
// file, with the engine's durability (WAL, every commit on disk: here synchronous=FULL), inserting
// inbox rows like the engine's (same columns and indexes, a body and headers of the same size), a
// statement prepared once. No HTTP, no signature, no JSON, no Kysely: what one core and this disk
// can commit. `perCommit` 1 is one transaction (one fsync) per event; more shows what committing
// several events at once allows.

export interface RawInboxPlan {
  path: string;
  merchantId: string;
  /** The raw body stored with each row. */
  payload: string;
  /** The headers stored with each row, as the engine stores them (JSON). */
  headersJson: string;
  durationMs: number;
  /** Rows per transaction (1 = one commit each). */
  perCommit: number;
}

export interface RawInboxFigures {
  perCommit: number;
  rows: number;
  rowsPerSecond: number;
  /** Latency of one transaction (of `perCommit` rows). */
  commitP50Ms: number;
  commitP99Ms: number;
  /** Process CPU time (all threads) per row, in microseconds. */
  cpuMicrosPerRow: number;
}

const perCommitMax = 1_000;
const durationMsMax = 120_000;

/** Inserts rows for `plan.durationMs`, one transaction of `plan.perCommit` after another. */
export function measureRawInboxInserts(plan: RawInboxPlan): RawInboxFigures {
  if (!Number.isInteger(plan.perCommit) || plan.perCommit < 1 || plan.perCommit > perCommitMax) throw new Error(`perCommit must be 1 to ${perCommitMax}`);
  if (!(plan.durationMs > 0 && plan.durationMs <= durationMsMax)) throw new Error(`durationMs must be 0 to ${durationMsMax}`);
  const database = openRawSqlite(plan.path);
  try {
    const insert = database.prepare(`insert into inbox_events
      (id, merchant_id, source, topic, delivery_id, event_key, headers_json, payload, status, attempts, error, triggered_at, available_at, received_at, processed_at, resource_key, queue_position)
      values (?, ?, 'shopify', 'customers/create', ?, ?, ?, ?, 'received', 0, null, ?, ?, ?, null, ?, ?)`);
    const runTag = `${process.pid}-${Date.now()}-${plan.perCommit}`;
    let sequence = 0;
    const commit = database.transaction(() => {
      const now = new Date().toISOString();
      for (let index = 0; index < plan.perCommit; index += 1) {
        sequence += 1;
        const id = `evt_raw_${runTag}_${String(sequence).padStart(9, '0')}`;
        insert.run(id, plan.merchantId, `raw-${runTag}-${sequence}`, `customers/create:raw-${runTag}-${sequence}`, plan.headersJson, plan.payload, now, now, now, `shopify:customer:raw${sequence}`, sequence);
      }
    });
    const histogram = new LatencyHistogram();
    const cpuAtStart = process.cpuUsage();
    const startedAt = performance.now();
    const endsAt = startedAt + plan.durationMs;
    for (let now = startedAt; now < endsAt; ) {
      commit();
      const finishedAt = performance.now();
      histogram.record(finishedAt - now);
      now = finishedAt;
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    return {
      perCommit: plan.perCommit, rows: sequence, rowsPerSecond: sequence / seconds,
      commitP50Ms: histogram.percentileMs(50), commitP99Ms: histogram.percentileMs(99), cpuMicrosPerRow: (cpu.user + cpu.system) / Math.max(1, sequence),
    };
  } finally {
    database.close();
  }
}

export interface RawPostgresInboxPlan extends Omit<RawInboxPlan, 'path'> {
  url: string;
  /** The benchmark's schema (bench-database.ts). */
  schema: string;
}

/** PostgreSQL's raw figures: CPU per row counts this client's and the server's backend (its `/proc` entry, same machine). */
export interface RawPostgresInboxFigures extends RawInboxFigures {
  serverCpuMicrosPerRow: number | undefined;
}

/** A process's CPU time so far in µs, from `/proc` (undefined where it cannot be read: another machine). */
function processCpuMicros(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime (fields 14 and 15 of stat, here 12 and 13 after the command), in clock ticks of 1/100 s on Linux.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/**
 * The same on PostgreSQL: one connection, a multi-row INSERT of `perCommit` rows prepared once
 * (a named statement), each batch in its own transaction with the server's default durability
 * (synchronous_commit on: COMMIT returns once the log is flushed).
 */
export async function measureRawPostgresInboxInserts(plan: RawPostgresInboxPlan): Promise<RawPostgresInboxFigures> {
  if (!Number.isInteger(plan.perCommit) || plan.perCommit < 1 || plan.perCommit > perCommitMax) throw new Error(`perCommit must be 1 to ${perCommitMax}`);
  if (!(plan.durationMs > 0 && plan.durationMs <= durationMsMax)) throw new Error(`durationMs must be 0 to ${durationMsMax}`);
  const client = new pg.Client({ connectionString: plan.url, options: `-c search_path=${plan.schema}` });
  await client.connect();
  try {
    const columns = 11;
    const rowsSql = Array.from({ length: plan.perCommit }, (_, row) => {
      const slot = (column: number) => `$${row * columns + column}`;
      return `(${slot(1)}, ${slot(2)}, 'shopify', 'customers/create', ${slot(3)}, ${slot(4)}, ${slot(5)}, ${slot(6)}, 'received', 0, null, ${slot(7)}, ${slot(8)}, ${slot(9)}, null, ${slot(10)}, ${slot(11)})`;
    });
    const text = `insert into inbox_events
      (id, merchant_id, source, topic, delivery_id, event_key, headers_json, payload, status, attempts, error, triggered_at, available_at, received_at, processed_at, resource_key, queue_position)
      values ${rowsSql.join(', ')}`;
    const backendPid = Number((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
    const runTag = `${process.pid}-${Date.now()}-${plan.perCommit}`;
    let sequence = 0;
    const histogram = new LatencyHistogram();
    const cpuAtStart = process.cpuUsage();
    const serverCpuAtStart = processCpuMicros(backendPid);
    const startedAt = performance.now();
    const endsAt = startedAt + plan.durationMs;
    for (let now = startedAt; now < endsAt; ) {
      const values: unknown[] = [];
      const at = new Date().toISOString();
      for (let index = 0; index < plan.perCommit; index += 1) {
        sequence += 1;
        values.push(`evt_raw_${runTag}_${String(sequence).padStart(9, '0')}`, plan.merchantId, `raw-${runTag}-${sequence}`, `customers/create:raw-${runTag}-${sequence}`, plan.headersJson, plan.payload, at, at, at, `shopify:customer:raw${sequence}`, sequence);
      }
      await client.query('begin');
      await client.query({ name: `raw_inbox_${plan.perCommit}`, text, values });
      await client.query('commit');
      const finishedAt = performance.now();
      histogram.record(finishedAt - now);
      now = finishedAt;
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    const serverCpuAtEnd = processCpuMicros(backendPid);
    const serverCpuMicrosPerRow = serverCpuAtStart === undefined || serverCpuAtEnd === undefined ? undefined : (serverCpuAtEnd - serverCpuAtStart) / Math.max(1, sequence);
    return {
      perCommit: plan.perCommit, rows: sequence, rowsPerSecond: sequence / seconds,
      commitP50Ms: histogram.percentileMs(50), commitP99Ms: histogram.percentileMs(99),
      cpuMicrosPerRow: (cpu.user + cpu.system) / Math.max(1, sequence) + (serverCpuMicrosPerRow ?? 0), serverCpuMicrosPerRow,
    };
  } finally {
    await client.end();
  }
}
