import type { OutboxEventsTable, Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type OutboxEvent = OutboxEventsTable;

export interface OutboundMessage {
  destination: string;
  kind: string;
  /**
   * Messages with the same key supersede each other: while one is still pending, another is not
   * added, because delivery reads the latest state (a burst of 50 sales sends one stock figure).
   */
  coalesceKey: string | null;
  payload: Record<string, unknown>;
}

/** Appends a message to the outbox, in the caller's transaction. */
export async function enqueueOutbox(db: Queryable, merchantId: string, message: OutboundMessage): Promise<void> {
  if (message.coalesceKey) {
    const pending = await db.selectFrom('outbox_events').select('id').where('merchant_id', '=', merchantId).where('coalesce_key', '=', message.coalesceKey).where('status', '=', 'pending').executeTakeFirst();
    if (pending) return;
  }
  const now = nowIso();
  await db
    .insertInto('outbox_events')
    .values({ id: newId('out'), merchant_id: merchantId, destination: message.destination, kind: message.kind, coalesce_key: message.coalesceKey, payload: JSON.stringify(message.payload), status: 'pending', attempts: 0, next_attempt_at: now, last_error: null, created_at: now, delivered_at: null })
    .execute();
}

// Retry schedule after each failed attempt, modelled on Svix's: about a day in total, then dead.
export const outboxRetryDelaysMs = [5_000, 30_000, 120_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000];
export const outboxBatchSizeMax = 50;
const deliveryLeaseMs = 60_000;
const jitterFraction = 0.2;

export async function listDueOutboxEvents(db: Queryable, limit = outboxBatchSizeMax): Promise<OutboxEvent[]> {
  return db
    .selectFrom('outbox_events')
    .selectAll()
    .where('status', 'in', ['pending', 'delivering'])
    .where('next_attempt_at', '<=', nowIso())
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(Math.min(limit, outboxBatchSizeMax))
    .execute();
}

/**
 * Takes a lease on a message before delivering it. A worker that dies mid-delivery leaves the lease
 * to expire, and the message becomes due again.
 */
export async function leaseOutboxEvent(db: Queryable, event: OutboxEvent): Promise<boolean> {
  const result = await db
    .updateTable('outbox_events')
    .set({ status: 'delivering', next_attempt_at: new Date(Date.now() + deliveryLeaseMs).toISOString() })
    .where('id', '=', event.id)
    .where('status', '=', event.status)
    .where('next_attempt_at', '=', event.next_attempt_at)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markOutboxDelivered(db: Queryable, id: string, note: string | null = null): Promise<void> {
  await db.updateTable('outbox_events').set({ status: 'delivered', delivered_at: nowIso(), last_error: note }).where('id', '=', id).execute();
}

/** Schedules the next attempt with backoff and jitter, or marks the message dead after the last. */
export async function recordOutboxFailure(db: Queryable, event: OutboxEvent, error: string): Promise<'retry' | 'dead'> {
  const attempts = event.attempts + 1;
  const baseDelayMs = outboxRetryDelaysMs[attempts - 1];
  if (baseDelayMs === undefined) {
    await db.updateTable('outbox_events').set({ status: 'dead', attempts, last_error: error }).where('id', '=', event.id).execute();
    return 'dead';
  }
  const jitterMs = baseDelayMs * jitterFraction * (Math.random() * 2 - 1);
  const nextAttemptAt = new Date(Date.now() + baseDelayMs + jitterMs).toISOString();
  await db.updateTable('outbox_events').set({ status: 'pending', attempts, last_error: error, next_attempt_at: nextAttemptAt }).where('id', '=', event.id).execute();
  return 'retry';
}

export async function countOutboxByStatus(db: Queryable, merchantId: string): Promise<Record<string, number>> {
  const rows = await db.selectFrom('outbox_events').select(['status']).select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).groupBy('status').execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}

export async function listOutboxEvents(db: Queryable, merchantId: string, filter: { status?: string; destination?: string } = {}) {
  let query = db.selectFrom('outbox_events').selectAll().where('merchant_id', '=', merchantId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.destination) query = query.where('destination', '=', filter.destination);
  return query.orderBy('created_at', 'desc').limit(500).execute();
}
