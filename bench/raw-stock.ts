import { LatencyHistogram } from './latency-histogram.ts';
import { openRawSqlite } from './bench-database.ts';

// The raw storage limit of a reservation: plain better-sqlite3 on the benchmark's own database
// file, with the engine's durability (WAL, every commit on disk: here synchronous=FULL), one
// conditional UPDATE of the stock level that refuses to go below zero plus the INSERT of its
// movement row, statements prepared once. No HTTP, no JSON, no Kysely, no outbox: what one core and
// this disk can commit. With `perCommit` 1 (one transaction each, as the engine does) every
// reservation waits for its own fsync; a larger `perCommit` shows what committing several
// reservations at once (group commit) would allow.

export interface RawStockPlan {
  path: string;
  merchantId: string;
  locationId: string;
  /** Each reservation takes a variant at random from these. */
  variantIds: string[];
  durationMs: number;
  /** Reservations per transaction (1 = one commit each). */
  perCommit: number;
}

export interface RawStockFigures {
  reservations: number;
  reservationsPerSecond: number;
  refused: number;
  /** Latency of one transaction (of `perCommit` reservations). */
  p50Ms: number;
  p99Ms: number;
  /** Process CPU time (all threads) per reservation, in microseconds. */
  cpuMicrosPerReservation: number;
}

const perCommitMax = 1_000;
const durationMsMax = 120_000;

/** Runs reservations for `plan.durationMs`, one transaction of `plan.perCommit` after another. */
export function measureRawReservations(plan: RawStockPlan): RawStockFigures {
  if (plan.variantIds.length === 0) throw new Error('no variants to reserve');
  if (!Number.isInteger(plan.perCommit) || plan.perCommit < 1 || plan.perCommit > perCommitMax) throw new Error(`perCommit must be 1 to ${perCommitMax}`);
  if (!(plan.durationMs > 0 && plan.durationMs <= durationMsMax)) throw new Error(`durationMs must be 0 to ${durationMsMax}`);
  const database = openRawSqlite(plan.path);
  try {
    const reserve = database.prepare(`update stock_levels set reserved = reserved + 1, updated_at = ?
      where merchant_id = ? and location_id = ? and variant_id = ? and on_hand - reserved - safety >= 1`);
    const appendMovement = database.prepare(`insert into stock_movements
      (id, merchant_id, location_id, variant_id, kind, on_hand_delta, reserved_delta, source_key, reason, actor, order_id, created_at)
      values (?, ?, ?, ?, 'reserve', 0, 1, ?, 'Held for a cart', 'bench:raw', null, ?)`);
    let refused = 0;
    let sequence = 0;
    const runTag = `${process.pid}-${Date.now()}`;
    const commit = database.transaction(() => {
      for (let index = 0; index < plan.perCommit; index += 1) {
        const variantId = plan.variantIds[Math.floor(Math.random() * plan.variantIds.length)]!;
        const now = new Date().toISOString();
        if (reserve.run(now, plan.merchantId, plan.locationId, variantId).changes !== 1) {
          refused += 1;
          continue;
        }
        sequence += 1;
        const id = `mov_raw_${runTag}_${String(sequence).padStart(9, '0')}`;
        appendMovement.run(id, plan.merchantId, plan.locationId, variantId, `bench:raw:${id}`, now);
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
      reservations: sequence, reservationsPerSecond: sequence / seconds, refused,
      p50Ms: histogram.percentileMs(50), p99Ms: histogram.percentileMs(99),
      cpuMicrosPerReservation: (cpu.user + cpu.system) / Math.max(1, sequence),
    };
  } finally {
    database.close();
  }
}
