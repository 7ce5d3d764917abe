import type { Queryable } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { writeAudit } from './exceptions.ts';
import type { OutboxEvent } from './outbox.ts';

// Replay puts a dead (or delivered) message back in the queue as it is: the same row, so the same
// id (the channels' idempotency key and the merchant webhook's `webhook-id`), its attempts reset,
// an audit entry naming who replayed it. It never makes a second copy of a message that is pending.

export type ReplayOutcome =
  /** Back in the queue, due now. */
  | 'requeued'
  /** It is pending or being delivered already; nothing changed. */
  | 'already_pending'
  /** A newer pending message with the same coalesce key delivers the latest state; nothing changed. */
  | 'superseded';

export interface ReplayResult {
  id: string;
  destination: string;
  kind: string;
  previous_status: string;
  outcome: ReplayOutcome;
  /** For `superseded`: the pending message that carries the latest state. */
  pending_id?: string;
}

export interface ReplaySelection {
  /** One message, dead or delivered. */
  id?: string;
  /** Otherwise every dead message of this destination and/or kind. */
  destination?: string;
  kind?: string;
}

/** Dead messages replayed by one call at most; call again for the next ones (they are pending by then). */
export const replayBatchSizeMax = 500;
const replayableStatuses = ['dead', 'delivered'];

async function findPendingSibling(db: Queryable, message: OutboxEvent): Promise<string | undefined> {
  if (!message.coalesce_key) return undefined;
  const sibling = await db.selectFrom('outbox_events').select('id').where('merchant_id', '=', message.merchant_id).where('coalesce_key', '=', message.coalesce_key).where('status', 'in', ['pending', 'delivering']).where('id', '<>', message.id).executeTakeFirst();
  return sibling?.id;
}

/** Re-queues one message that is not pending, in the caller's transaction, and audits it. */
async function requeueMessage(db: Queryable, message: OutboxEvent, actor: string): Promise<ReplayResult> {
  const base = { id: message.id, destination: message.destination, kind: message.kind, previous_status: message.status };
  assert(replayableStatuses.includes(message.status), `message ${message.id} is ${message.status}, not dead or delivered`);
  const pendingId = await findPendingSibling(db, message);
  if (pendingId) return { ...base, outcome: 'superseded', pending_id: pendingId };
  const requeued = await db
    .updateTable('outbox_events')
    .set((eb) => ({ status: 'pending', attempts: 0, next_attempt_at: nowIso(), last_error: null, delivered_at: null, claimed_by: null, replays: eb('replays', '+', 1) }))
    .where('merchant_id', '=', message.merchant_id)
    .where('id', '=', message.id)
    .where('status', '=', message.status)
    .executeTakeFirst();
  // Another replay (or a worker) changed it since it was read: it is pending now, or about to be.
  if (Number(requeued.numUpdatedRows) !== 1) return { ...base, outcome: 'already_pending' };
  await writeAudit(db, message.merchant_id, {
    actor, action: 'outbox.replay', subject: message.id,
    details: { destination: message.destination, kind: message.kind, previous_status: message.status, attempts: message.attempts, last_error: message.last_error },
  });
  return { ...base, outcome: 'requeued' };
}

/** Replays one message by id: a dead or delivered one is re-queued; a pending one is left as it is. */
export async function replayOutboxMessage(db: Queryable, merchantId: string, id: string, actor: string): Promise<ReplayResult> {
  const message = await db.selectFrom('outbox_events').selectAll().where('merchant_id', '=', merchantId).where('id', '=', id).executeTakeFirst();
  if (!message) throw new AppError('sync.outbox_message_not_found', `No outbox message ${id}`, { id });
  if (!replayableStatuses.includes(message.status)) return { id, destination: message.destination, kind: message.kind, previous_status: message.status, outcome: 'already_pending' };
  return requeueMessage(db, message, actor);
}

/**
 * Replays a message by id, or the dead messages of a destination and/or kind, oldest first, at
 * most `replayBatchSizeMax` per call (`more` says whether dead ones are left). Run it in a
 * transaction: either every message of the batch is re-queued and audited, or none.
 */
export async function replayOutbox(db: Queryable, merchantId: string, selection: ReplaySelection, actor: string): Promise<{ replayed: ReplayResult[]; more: boolean }> {
  if (selection.id) return { replayed: [await replayOutboxMessage(db, merchantId, selection.id, actor)], more: false };
  if (!selection.destination && !selection.kind) throw new AppError('request.invalid', 'Name a message id, or a destination and/or kind of dead messages to replay', { field: 'id', rule: 'required' });
  let query = db.selectFrom('outbox_events').selectAll().where('merchant_id', '=', merchantId).where('status', '=', 'dead');
  if (selection.destination) query = query.where('destination', '=', selection.destination);
  if (selection.kind) query = query.where('kind', '=', selection.kind);
  const dead = await query.orderBy('created_at').orderBy('id').limit(replayBatchSizeMax + 1).execute();
  const replayed: ReplayResult[] = [];
  for (const message of dead.slice(0, replayBatchSizeMax)) replayed.push(await requeueMessage(db, message, actor));
  return { replayed, more: dead.length > replayBatchSizeMax };
}
