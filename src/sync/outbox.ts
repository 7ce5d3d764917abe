import type { Selectable } from 'kysely';
import { canSkipLockedRows, reuseQuery, type Db, type OutboxEventsTable, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { isoAfter, nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type OutboxEvent = Selectable<OutboxEventsTable>;
/**
 * A message this worker holds the lease on. `next_attempt_at` is when it fell due (the stored value
 * is the lease's end meanwhile), so a claim given back leaves it exactly as due as it was.
 */
export type ClaimedOutboxEvent = OutboxEvent & { claimed_by: string };

export interface OutboundMessage {
  destination: string;
  kind: string;
  /**
   * Messages with the same key supersede each other: while one is still pending, another is not
   * added, because delivery reads the latest state (a burst of 50 sales sends one stock figure).
   */
  coalesceKey: string | null;
  payload: Record<string, unknown>;
  /**
   * The circuit breaker the message travels on (docs/sync.md): the destination by default; a
   * destination with several independent endpoints (the merchant's webhook subscribers) names one.
   */
  circuitKey?: string;
}

// The statements every order runs (a stock push and a points mirror each, absorbed or added),
// built and compiled once: Kysely's building and compiling cost ~70 µs of CPU per statement
// (found by bench/orders-end-to-end.ts, issue #9).
type OutboxRow = { id: string; merchantId: string; destination: string; kind: string; coalesceKey: string | null; payload: string; now: string; circuitKey: string };
const insertOutboxRow = reuseQuery((db, param: ParameterPlaceholders<OutboxRow>) => db.insertInto('outbox_events').values({
  id: param('id'), merchant_id: param('merchantId'), destination: param('destination'), kind: param('kind'), coalesce_key: param('coalesceKey'), payload: param('payload'),
  status: 'pending', attempts: 0, next_attempt_at: param('now'), last_error: null, created_at: param('now'), delivered_at: null, circuit_key: param('circuitKey'),
}));

/**
 * The pending messages a transaction has added or absorbed into, by merchant and coalesce key,
 * with the changes absorbed since, for a transaction that defers its absorbs
 * (`deferOutboxAbsorbs`: the sync worker's whole batches). A worker batch of 50 orders absorbed
 * into the same few pending stock pushes again and again, an UPDATE each time (2.5 an order,
 * bench/orders-end-to-end.ts, issue #9). Once this transaction has added or absorbed into a
 * message, that row stays pending until it commits: on SQLite it holds the write lock, on
 * PostgreSQL the row's lock (an INSERT's row is not even visible), so no claim can take it
 * meanwhile. Later changes only count; the counts are added before the commit
 * (`flushOutboxAbsorbs`).
 */
const pendingByTransaction = new WeakMap<object, Map<string, { id: string; absorbed: number }>>();

/** Lets `tx` count its repeated absorbs instead of updating the message each time; `flushOutboxAbsorbs` before it commits. */
export function deferOutboxAbsorbs(tx: Queryable): void {
  pendingByTransaction.set(tx, new Map());
}

const addSuperseded = reuseQuery((db, param: ParameterPlaceholders<{ id: string; count: number }>) => db
  .updateTable('outbox_events')
  .set((eb) => ({ superseded: eb('superseded', '+', param('count')) }))
  .where('id', '=', param('id')));

/**
 * Writes the absorbs `tx` counted (one UPDATE per message), and forgets the messages: before the
 * commit, and before a writer removes outbox rows in the transaction (a merchant's data erased),
 * so that a later change adds a message anew instead of counting on one that is gone.
 */
export async function flushOutboxAbsorbs(tx: Queryable): Promise<void> {
  const pending = pendingByTransaction.get(tx);
  if (!pending) return;
  for (const held of pending.values()) if (held.absorbed > 0) await addSuperseded.execute(tx, { id: held.id, count: held.absorbed });
  pending.clear();
}

/** Appends a message to the outbox, in the caller's transaction. */
export async function enqueueOutbox(db: Queryable, merchantId: string, message: OutboundMessage): Promise<void> {
  const pending = message.coalesceKey ? pendingByTransaction.get(db) : undefined;
  const heldKey = `${merchantId}\u0000${message.coalesceKey}`;
  const held = pending?.get(heldKey);
  if (held) {
    held.absorbed += 1;
    return;
  }
  if (message.coalesceKey) {
    const absorbedBy = await absorbIntoPendingMessage(db, merchantId, message.coalesceKey);
    if (absorbedBy) {
      // The absorbing UPDATE counted this change itself.
      pending?.set(heldKey, { id: absorbedBy, absorbed: 0 });
      return;
    }
  }
  const id = newId('out');
  await insertOutboxRow.execute(db, {
    id, merchantId, destination: message.destination, kind: message.kind, coalesceKey: message.coalesceKey, payload: JSON.stringify(message.payload),
    now: nowIso(), circuitKey: message.circuitKey ?? message.destination,
  });
  pending?.set(heldKey, { id, absorbed: 0 });
}

// RETURNING the absorbing row tells whether one was pending, as the count of updated rows did.
const absorbPending = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; coalesceKey: string }>) => db
  .updateTable('outbox_events')
  .set((eb) => ({ superseded: eb('superseded', '+', 1) }))
  .where('merchant_id', '=', param('merchantId'))
  .where('coalesce_key', '=', param('coalesceKey'))
  .where('status', '=', 'pending')
  .returning('id'));

/**
 * Lets a pending message with the same key absorb the change: its id, or undefined when none was
 * pending. It is an UPDATE rather than a read:
 * on PostgreSQL it holds the pending row's lock until the caller commits, so no worker can claim
 * the message and read the state before this change is visible (a claim skips the locked row and
 * takes it at a later round). When a claim locked the row first, the row is no longer pending once
 * the claim commits, the update matches nothing, and the caller adds a new message.
 */
async function absorbIntoPendingMessage(db: Queryable, merchantId: string, coalesceKey: string): Promise<string | undefined> {
  const absorbed = await absorbPending.execute(db, { merchantId, coalesceKey });
  return absorbed[0]?.id;
}

/**
 * Delay before the retry after each failed attempt, modelled on Svix's schedule: eleven attempts
 * over about 23.6 hours (85,055 s before jitter), then the message is dead. Each step is listed in
 * docs/sync.md; change both together.
 */
export const outboxRetryDelaysMs = [5_000, 30_000, 120_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000];
/** Every delay is moved by up to this fraction either way, so messages that failed together do not retry together. */
export const outboxRetryJitterFraction = 0.2;
export const outboxBatchSizeMax = 50;
/**
 * How long a claim holds a message. It is taken again before each delivery, so it bounds one
 * delivery, not a batch: longer than any deliverer's own time limit (10 s for the merchant's
 * webhooks), or a second worker could take the message while the first still delivers it.
 */
export const outboxLeaseMs = 60_000;

/**
 * The wait before the next attempt after `attempts` failed ones, or undefined when the schedule is
 * spent. `random` is in [0, 1); 0.5 gives the step itself.
 */
export function outboxRetryDelayMs(attempts: number, random: number): number | undefined {
  assert(Number.isSafeInteger(attempts) && attempts >= 1, `a retry follows at least one attempt (got ${attempts})`);
  assert(random >= 0 && random < 1, `random is in [0, 1) (got ${random})`);
  const baseDelayMs = outboxRetryDelaysMs[attempts - 1];
  if (baseDelayMs === undefined) return undefined;
  return Math.round(baseDelayMs * (1 + outboxRetryJitterFraction * (random * 2 - 1)));
}

/**
 * Claims a batch of due messages for `claimant` in one short transaction, skipping messages whose
 * circuit is open. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`, so workers in any
 * number of processes take disjoint batches without waiting for each other; on SQLite the
 * transaction begins IMMEDIATE, so claims take turns. A claim is a lease (`outboxLeaseMs`): a
 * worker that dies leaves its messages to fall due again when the lease ends.
 */
export async function claimDueOutboxEvents(db: Db, claimant: string, limit = outboxBatchSizeMax): Promise<ClaimedOutboxEvent[]> {
  assert(Number.isSafeInteger(limit) && limit >= 1 && limit <= outboxBatchSizeMax, `a claim takes 1 to ${outboxBatchSizeMax} messages (got ${limit})`);
  // An idle poll reads only: on SQLite a claim's transaction takes the write lock, which every
  // writer of every process waits for, so it is not taken when nothing is due.
  const anyDue = await db.selectFrom('outbox_events').select('id').where('status', 'in', ['pending', 'delivering']).where('next_attempt_at', '<=', nowIso()).limit(1).executeTakeFirst();
  if (!anyDue) return [];
  return db.transaction().execute(async (tx) => {
    const now = nowIso();
    const due = await tx
      .selectFrom('outbox_events')
      .selectAll()
      .where('status', 'in', ['pending', 'delivering'])
      .where('next_attempt_at', '<=', now)
      .where(({ not, exists, selectFrom }) => not(exists(
        selectFrom('channel_circuits')
          .select('channel_circuits.circuit_key')
          .whereRef('channel_circuits.merchant_id', '=', 'outbox_events.merchant_id')
          .whereRef('channel_circuits.circuit_key', '=', 'outbox_events.circuit_key')
          .where('channel_circuits.open_until', '>', now),
      )))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(limit)
      .$if(canSkipLockedRows(tx), (query) => query.forUpdate().skipLocked())
      .execute();
    if (due.length === 0) return [];
    await tx.updateTable('outbox_events').set({ status: 'delivering', claimed_by: claimant, next_attempt_at: isoAfter(outboxLeaseMs) }).where('id', 'in', due.map((row) => row.id)).execute();
    return due.map((row) => ({ ...row, status: 'delivering', claimed_by: claimant }));
  });
}

/** Renews the lease just before a delivery; false when it was lost (it ran out and another worker took the message). */
export async function renewOutboxLease(db: Queryable, event: ClaimedOutboxEvent): Promise<boolean> {
  const result = await db.updateTable('outbox_events').set({ next_attempt_at: isoAfter(outboxLeaseMs) }).where('id', '=', event.id).where('status', '=', 'delivering').where('claimed_by', '=', event.claimed_by).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives a claimed message back untouched: not attempted, so not counted (its circuit opened meanwhile). */
export async function releaseOutboxClaim(db: Queryable, event: ClaimedOutboxEvent): Promise<void> {
  await db.updateTable('outbox_events').set({ status: 'pending', next_attempt_at: event.next_attempt_at, claimed_by: null }).where('id', '=', event.id).where('status', '=', 'delivering').where('claimed_by', '=', event.claimed_by).execute();
}

/**
 * Records several deliveries: one UPDATE for the messages of one claim with the same note (most
 * have none) rather than one each, in one transaction when there are several such groups. Returns
 * the ids recorded; a message whose lease was lost meanwhile is not among them.
 */
export async function markOutboxEventsDelivered(db: Db, deliveries: readonly { event: ClaimedOutboxEvent; note: string | null }[]): Promise<Set<string>> {
  const groups = new Map<string, { claimedBy: string; note: string | null; ids: string[] }>();
  for (const { event, note } of deliveries) {
    const key = JSON.stringify([event.claimed_by, note]);
    const group = groups.get(key) ?? { claimedBy: event.claimed_by, note, ids: [] };
    group.ids.push(event.id);
    groups.set(key, group);
  }
  const mark = async (queryable: Queryable) => {
    const marked = new Set<string>();
    for (const group of groups.values()) {
      const rows = await queryable.updateTable('outbox_events').set({ status: 'delivered', delivered_at: nowIso(), last_error: group.note })
        .where('id', 'in', group.ids).where('status', '=', 'delivering').where('claimed_by', '=', group.claimedBy).returning('id').execute();
      for (const row of rows) marked.add(row.id);
    }
    return marked;
  };
  return groups.size <= 1 ? mark(db) : db.transaction().execute(mark);
}

/**
 * Records a failed attempt: schedules the next with backoff and jitter, or marks the message dead
 * after the last. 'lost' when the lease was lost meanwhile and nothing was recorded.
 */
export async function recordOutboxFailure(db: Queryable, event: ClaimedOutboxEvent, error: string, random: () => number = Math.random): Promise<'retry' | 'dead' | 'lost'> {
  const attempts = event.attempts + 1;
  const delayMs = outboxRetryDelayMs(attempts, random());
  const outcome = delayMs === undefined ? 'dead' : 'retry';
  const result = await db
    .updateTable('outbox_events')
    // A dead message is never due again, so its next_attempt_at says when it was given up: sync
    // health counts the dead by that hour (a message retried for a day died long after it was queued).
    .set({ status: delayMs === undefined ? 'dead' : 'pending', attempts, last_error: error, next_attempt_at: delayMs === undefined ? nowIso() : isoAfter(delayMs) })
    .where('id', '=', event.id)
    .where('status', '=', 'delivering')
    .where('claimed_by', '=', event.claimed_by)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1 ? outcome : 'lost';
}

/**
 * A merchant's outbox by status: every message that waits (`pending`, `delivering`) or died, and
 * those delivered in the period given (through `outbox_events_by_delivered`, migration 0019), not
 * every message ever sent (see `countInboxByStatus`).
 */
export async function countOutboxByStatus(db: Queryable, merchantId: string, deliveredIn: { fromIso: string; toIso: string }): Promise<Record<string, number>> {
  const open = await db.selectFrom('outbox_events').select(['status']).select((eb) => eb.fn.countAll<number>().as('count'))
    .where('merchant_id', '=', merchantId).where('status', 'in', ['pending', 'delivering', 'dead']).groupBy('status').execute();
  const delivered = await db.selectFrom('outbox_events').select(['status']).select((eb) => eb.fn.countAll<number>().as('count'))
    .where('merchant_id', '=', merchantId).where('delivered_at', '>=', deliveredIn.fromIso).where('delivered_at', '<=', deliveredIn.toIso)
    .where('status', '=', 'delivered').groupBy('status').execute();
  return Object.fromEntries([...open, ...delivered].map((row) => [row.status, Number(row.count)]));
}

export const outboxListSizeMax = 500;

/** A merchant's messages, newest first, at most `outboxListSizeMax`. */
export async function listOutboxEvents(db: Queryable, merchantId: string, filter: { status?: string; destination?: string; kind?: string } = {}): Promise<OutboxEvent[]> {
  let query = db.selectFrom('outbox_events').selectAll().where('merchant_id', '=', merchantId);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.destination) query = query.where('destination', '=', filter.destination);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(outboxListSizeMax).execute();
}
