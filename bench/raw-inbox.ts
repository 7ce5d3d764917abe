import SqliteDatabase from 'better-sqlite3';
import { LatencyHistogram } from './latency-histogram.ts';

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
  const database = new SqliteDatabase(plan.path, { fileMustExist: true });
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.pragma('busy_timeout = 5000');
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
