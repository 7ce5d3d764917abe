import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Queryable } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { nowMs } from '../shared/clock.ts';

// The inbox keeps each webhook's raw body (13 KB for a Shopify order) and the outbox each message
// sent, forever unless something removes them: a shop taking 5,000 webhooks a day grows by about
// 9 GB a year of bodies whose content is already in orders, customers, stock and the ledger. Once
// applied, an inbound event is needed only to refuse its redelivery, and the channels stop
// redelivering within days (Shopify 48 hours at most, Square 72; older deliveries are refused by
// the replay window anyway, src/config.ts). A delivered message is needed only to replay it. So
// rows settled longer ago than the retention are deleted; what waits, failed or died stays until a
// person or the worker settles it. Every canonical record keeps its own idempotency key, so an
// event delivered again after its row is gone is still applied once. The API's Idempotency-Keys
// (each with the response it answered) go by the same age: a client retries a write within
// minutes, not weeks, and the write's own ids (sale ids, return refs) still make it safe after.

/** How long applied inbox events and delivered outbox messages are kept, by default. */
export const defaultSyncRetentionDays = 30;
/** Shorter would delete events the channels may still redeliver (Square: 72 hours) with margin. */
export const syncRetentionDaysMin = 7;
const dayMs = 86_400_000;
/** Rows deleted per statement: each delete is one short write, and requests are served between them. */
export const pruneBatchSize = 250;
/** Batches per table per run: a run does a bounded amount of work; the next run goes on. */
const pruneBatchesPerRun = 80;

export interface PruneResult {
  inboxEvents: number;
  outboxEvents: number;
  idempotencyKeys: number;
}

/**
 * Deletes, for every merchant, inbox events applied (`processed`, `ignored`), outbox messages
 * delivered and Idempotency-Keys made more than `retentionDays` ago, oldest first, in batches of
 * `pruneBatchSize`.
 */
export async function pruneSettledSyncRows(db: Queryable, retentionDays: number): Promise<PruneResult> {
  assert(Number.isSafeInteger(retentionDays) && retentionDays >= syncRetentionDaysMin, `sync rows are kept at least ${syncRetentionDaysMin} days`);
  const cutoffIso = new Date(nowMs() - retentionDays * dayMs).toISOString();
  const merchants = await db.selectFrom('merchants').select('merchant_id').execute();
  const result: PruneResult = { inboxEvents: 0, outboxEvents: 0, idempotencyKeys: 0 };
  for (const { merchant_id: merchantId } of merchants) {
    result.inboxEvents += await pruneInBatches(() => deleteAppliedInboxEvents(db, merchantId, cutoffIso));
    result.outboxEvents += await pruneInBatches(() => deleteDeliveredOutboxEvents(db, merchantId, cutoffIso));
    result.idempotencyKeys += await pruneInBatches(() => deleteOldIdempotencyKeys(db, merchantId, cutoffIso));
  }
  return result;
}

async function pruneInBatches(deleteBatch: () => Promise<number>): Promise<number> {
  let deleted = 0;
  for (let batch = 0; batch < pruneBatchesPerRun; batch += 1) {
    const count = await deleteBatch();
    deleted += count;
    if (count < pruneBatchSize) break;
    // On SQLite every statement runs on the event loop: let waiting requests in between batches.
    await nextTurn();
  }
  return deleted;
}

// Each batch is chosen oldest first through the time indexes of migration 0019 (the ORDER BY and
// LIMIT keep SQLite's planner on them), and the delete checks the row is still settled: an outbox
// message replayed meanwhile is pending again and stays.
async function deleteAppliedInboxEvents(db: Queryable, merchantId: string, cutoffIso: string): Promise<number> {
  const settled = ['processed', 'ignored'];
  const ids = await db.selectFrom('inbox_events').select('id')
    .where('merchant_id', '=', merchantId).where('processed_at', '<', cutoffIso).where('status', 'in', settled)
    .orderBy('processed_at').limit(pruneBatchSize).execute();
  if (ids.length === 0) return 0;
  const deleted = await db.deleteFrom('inbox_events')
    .where('id', 'in', ids.map((row) => row.id)).where('status', 'in', settled).where('processed_at', '<', cutoffIso).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

async function deleteDeliveredOutboxEvents(db: Queryable, merchantId: string, cutoffIso: string): Promise<number> {
  const ids = await db.selectFrom('outbox_events').select('id')
    .where('merchant_id', '=', merchantId).where('delivered_at', '<', cutoffIso).where('status', '=', 'delivered')
    .orderBy('delivered_at').limit(pruneBatchSize).execute();
  if (ids.length === 0) return 0;
  const deleted = await db.deleteFrom('outbox_events')
    .where('id', 'in', ids.map((row) => row.id)).where('status', '=', 'delivered').where('delivered_at', '<', cutoffIso).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

async function deleteOldIdempotencyKeys(db: Queryable, merchantId: string, cutoffIso: string): Promise<number> {
  const keys = await db.selectFrom('idempotency_keys').select('key')
    .where('merchant_id', '=', merchantId).where('created_at', '<', cutoffIso).orderBy('created_at').limit(pruneBatchSize).execute();
  if (keys.length === 0) return 0;
  const deleted = await db.deleteFrom('idempotency_keys')
    .where('merchant_id', '=', merchantId).where('key', 'in', keys.map((row) => row.key)).where('created_at', '<', cutoffIso).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
