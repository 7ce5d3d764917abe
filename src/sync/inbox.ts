import type { InboxEventsTable, Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type InboxSource = 'shopify' | 'square' | 'pos';
export type InboxEvent = InboxEventsTable;

export interface InboundEvent {
  merchantId: string;
  source: InboxSource;
  topic: string;
  /** The channel's per-delivery id (Shopify `X-Shopify-Webhook-Id`, Square `event_id`). */
  deliveryId: string;
  /** A second dedupe key for the same event delivered under another delivery id, scoped by topic. */
  eventKey: string | null;
  headers: Record<string, string>;
  /** The raw body exactly as received, so any event can be re-processed. */
  payload: string;
  triggeredAt: string | null;
}

/**
 * Stores an inbound event durably. Returns `stored: false` for a duplicate delivery, which the caller
 * acknowledges without storing anything new.
 */
export async function storeInboxEvent(db: Queryable, event: InboundEvent): Promise<{ stored: boolean; id: string | undefined }> {
  const now = nowIso();
  const inserted = await db
    .insertInto('inbox_events')
    .values({
      id: newId('evt'), merchant_id: event.merchantId, source: event.source, topic: event.topic, delivery_id: event.deliveryId, event_key: event.eventKey,
      headers_json: JSON.stringify(event.headers), payload: event.payload, status: 'received', attempts: 0, error: null,
      triggered_at: event.triggeredAt, available_at: now, received_at: now, processed_at: null,
    })
    .onConflict((conflict) => conflict.doNothing())
    .returning('id')
    .executeTakeFirst();
  return { stored: inserted !== undefined, id: inserted?.id };
}

export const inboxBatchSizeMax = 100;

/** Events due for processing, oldest first, in a bounded batch. */
export async function listDueInboxEvents(db: Queryable, limit = inboxBatchSizeMax): Promise<InboxEvent[]> {
  return db.selectFrom('inbox_events').selectAll().where('status', '=', 'received').where('available_at', '<=', nowIso()).orderBy('received_at').orderBy('id').limit(Math.min(limit, inboxBatchSizeMax)).execute();
}

/**
 * Claims an event inside the transaction that applies it: only one worker's update matches, and on
 * PostgreSQL the row lock makes a second worker wait and then find it already done.
 */
export async function claimInboxEvent(db: Queryable, id: string, outcome: 'processed' | 'ignored', note: string | null = null): Promise<boolean> {
  const result = await db.updateTable('inbox_events').set({ status: outcome, processed_at: nowIso(), error: note }).where('id', '=', id).where('status', '=', 'received').executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export const inboxAttemptsMax = 8;

/** Records a failed attempt; retries later with backoff, or parks the event as failed after the last. */
export async function recordInboxFailure(db: Queryable, event: InboxEvent, error: string): Promise<'retry' | 'failed'> {
  const attempts = event.attempts + 1;
  const giveUp = attempts >= inboxAttemptsMax;
  const delayMs = Math.min(2 ** attempts * 1000, 15 * 60 * 1000);
  await db
    .updateTable('inbox_events')
    .set({ attempts, error, status: giveUp ? 'failed' : 'received', available_at: new Date(Date.now() + delayMs).toISOString() })
    .where('id', '=', event.id)
    .execute();
  return giveUp ? 'failed' : 'retry';
}

export async function countInboxByStatus(db: Queryable, merchantId: string): Promise<Record<string, number>> {
  const rows = await db.selectFrom('inbox_events').select(['status']).select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).groupBy('status').execute();
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}
