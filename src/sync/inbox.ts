import { sql, type CompiledQuery, type Selectable } from 'kysely';
import { canSkipLockedRows, reuseQuery, type InboxEventsTable, type ParameterPlaceholders, type Queryable, type ReadPlus, type WriterThread } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { isoAfter, nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type InboxSource = 'shopify' | 'square' | 'pos';
export type InboxEvent = Selectable<InboxEventsTable>;

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
  /** What the event is about (`computeResourceKey`); its events are applied in the order received. Null or absent: unordered. */
  resourceKey?: string | null;
}

/** What storing one event came to: a new row, or a duplicate of a delivery already held (nothing new stored). */
export type StoredInboxEvent = { stored: true; id: string } | { stored: false; id: undefined };

/** The most events one insert statement stores: 17 values a row, far below both databases' limits on bound values. */
export const inboxStoreBatchMax = 500;

/**
 * A waiting event's position is below this; one that needs what a later event of its resource
 * brings is moved to its position plus this, behind every event of its resource that is not so
 * moved, now or later (`recordInboxFailure`). 2^52 + a position stays a safe integer.
 */
export const parkedPositionOffset = 2 ** 52;

/**
 * Error codes saying an event needs something a later event of its resource brings: a refund
 * delivered before its order. Such an event must not hold back that later event.
 */
export const prerequisiteMissingCodes: ReadonlySet<string> = new Set(['orders.not_yet_known']);

// The status of waiting rows, written as a literal so that SQLite can use the partial indexes of
// migration 0011 (which hold only these rows); a bound parameter would not match them. The queries
// also say `queue_position >= 0` (always true): with that range SQLite reads the waiting rows in
// queue order from the index and stops at the batch's end, where it would otherwise read every
// waiting row through the older (status, available_at) index and sort them.
const waiting = sql.lit('received');
const positionMin = 0;

/**
 * Stores inbound events durably in one statement, so one commit (one fsync) covers them all.
 * Dedupes exactly as one `storeInboxEvent` after another would, in the given order: a repeated
 * (merchant, source, delivery id), or (merchant, source, event key) where the event key is set, is
 * not stored, whether its twin was stored earlier or earlier in the same batch. Each event gets
 * the next queue position, so its resource's events are applied in this order.
 */
export async function storeInboxEvents(db: Queryable, events: readonly InboundEvent[]): Promise<StoredInboxEvent[]> {
  const lastPosition = await findLastWaitingPosition(db);
  const insert = inboxInsert(db, events, (index) => lastPosition + 1 + index);
  const inserted = await db.executeQuery<{ id: string }>({ ...insert.query, parameters: insert.parameters });
  return insert.resultsOf(inserted.rows);
}

/**
 * `storeInboxEvents` on the database's writer thread (src/db/writer-thread.ts), in one transaction
 * with the checks given: when one returns no row, nothing is stored and the keys of those that did
 * not are answered. The last waiting position is read in the same transaction, as there.
 */
export async function storeInboxEventsOnThread(db: Queryable, thread: WriterThread, events: readonly InboundEvent[], checks: { key: string; query: CompiledQuery }[]): Promise<{ stored: StoredInboxEvent[] } | { failedChecks: string[] }> {
  const insert = inboxInsert(db, events, (index): ReadPlus => ({ readPlus: 1 + index }));
  const outcome = await thread.run({
    checks: checks.map(({ key, query }) => ({ key, sql: query.sql, parameters: query.parameters })),
    read: compiledLastWaitingPosition(db),
    write: { sql: insert.query.sql, parameters: insert.parameters },
  });
  if (!outcome.written) return { failedChecks: outcome.failedChecks };
  return { stored: insert.resultsOf(outcome.rows as { id: string }[]) };
}

/**
 * The one statement that stores `events`, and how its returned rows read as each event's outcome.
 * Dedupes as described at `storeInboxEvents`; each event's queue position is `position(index)`.
 */
function inboxInsert<Position>(db: Queryable, events: readonly InboundEvent[], position: (index: number) => Position) {
  assert(events.length >= 1 && events.length <= inboxStoreBatchMax, `an inbox batch holds 1 to ${inboxStoreBatchMax} events (got ${events.length})`);
  const now = nowIso();
  const ids = events.map(() => newId('evt'));
  const values = events.map((event, index): unknown[] => [
    ids[index], event.merchantId, event.source, event.topic, event.deliveryId, event.eventKey,
    JSON.stringify(event.headers), event.payload, 'received', 0, null,
    event.triggeredAt, now, now, null, event.resourceKey ?? null, position(index),
  ]);
  const query = compiledInboxInsert(db, events.length);
  // ON CONFLICT DO NOTHING skips a row that repeats a key of a row already there or inserted
  // before it by the same statement, on both databases; RETURNING names the rows inserted.
  return {
    query: query.query,
    parameters: query.slots.map(([row, column]) => values[row]![column]),
    resultsOf(rows: readonly { id: string }[]): StoredInboxEvent[] {
      const storedIds = new Set(rows.map((row) => row.id));
      return ids.map((id): StoredInboxEvent => (storedIds.has(id) ? { stored: true, id } : { stored: false, id: undefined }));
    },
  };
}

// The columns of an inbox row, in the order `storeInboxEvents` gives their values.
const inboxInsertColumns = [
  'id', 'merchant_id', 'source', 'topic', 'delivery_id', 'event_key', 'headers_json', 'payload', 'status', 'attempts', 'error',
  'triggered_at', 'available_at', 'received_at', 'processed_at', 'resource_key', 'queue_position',
] as const satisfies readonly (keyof InboxEventsTable)[];

interface CompiledInboxInsert {
  query: CompiledQuery<{ id: string }>;
  /** For each bound parameter of `query`, in order: the row and column whose value it takes. */
  slots: (readonly [row: number, column: number])[];
}

// Compiled inserts by dialect (its adapter) and row count. Building and compiling a 32-row insert
// with Kysely costs about 110 µs of CPU, 3.5 µs a webhook (measured by compiling it in a loop,
// issue #9); the statement's text depends only on the dialect and the row count, so it is compiled
// once each and only the values change. At most `inboxStoreBatchMax` entries per dialect.
const compiledInboxInserts = new WeakMap<object, Map<number, CompiledInboxInsert>>();

/**
 * The insert of `rowCount` inbox rows for this database's dialect, compiled once. Compiled with a
 * distinct marker as every value, so each bound parameter names the row and column it stands for,
 * whatever order the dialect's compiler binds them in.
 */
function compiledInboxInsert(db: Queryable, rowCount: number): CompiledInboxInsert {
  const executor = db.getExecutor();
  // A plugin sees (and may change) each query as it is compiled: with one, every batch is compiled.
  if (executor.plugins.length > 0) return compileInboxInsert(db, rowCount);
  let byRowCount = compiledInboxInserts.get(executor.adapter);
  if (!byRowCount) {
    byRowCount = new Map();
    compiledInboxInserts.set(executor.adapter, byRowCount);
  }
  const cached = byRowCount.get(rowCount);
  if (cached) return cached;
  const compiled = compileInboxInsert(db, rowCount);
  byRowCount.set(rowCount, compiled);
  return compiled;
}

function compileInboxInsert(db: Queryable, rowCount: number): CompiledInboxInsert {
  const marker = (row: number, column: number) => `\u0000inbox:${row}:${column}`;
  const rows = Array.from({ length: rowCount }, (_, row) => Object.fromEntries(inboxInsertColumns.map((name, column) => [name, marker(row, column)])));
  const query = db.insertInto('inbox_events').values(rows as never).onConflict((conflict) => conflict.doNothing()).returning('id').compile();
  const slots = query.parameters.map((parameter) => {
    const match = typeof parameter === 'string' ? /^\u0000inbox:(\d+):(\d+)$/.exec(parameter) : null;
    assert(match !== null, 'every bound value of the compiled inbox insert is a marker');
    return [Number(match[1]), Number(match[2])] as const;
  });
  assert(slots.length === rowCount * inboxInsertColumns.length, 'the compiled inbox insert binds every value once');
  return { query, slots };
}

/**
 * Stores one inbound event durably. Returns `stored: false` for a duplicate delivery, which the caller
 * acknowledges without storing anything new. Webhooks go through the group committer
 * (`inbox-writer.ts`), which stores the events of concurrent requests together.
 */
export async function storeInboxEvent(db: Queryable, event: InboundEvent): Promise<StoredInboxEvent> {
  const [result] = await storeInboxEvents(db, [event]);
  assert(result !== undefined, 'one event stored gives one result');
  return result;
}

/**
 * The highest position among the waiting events (parked ones aside), 0 when none waits. Read before
 * the insert and not locked: an event stored after another was committed always lands behind it;
 * two stored at the same moment may share a position, and the id breaks the tie.
 */
async function findLastWaitingPosition(db: Queryable): Promise<number> {
  const row = await lastWaitingPositionQuery(db).executeTakeFirst();
  return row ? Number(row.queue_position) : 0;
}

// Compiled once per dialect (as the insert below): compiling it again for every batch was ~1 % of
// the event loop under a stream of webhooks (bench/webhook-ingest.ts, issue #9).
const compiledLastWaitingPositions = new WeakMap<object, CompiledQuery>();

function compiledLastWaitingPosition(db: Queryable): CompiledQuery {
  const executor = db.getExecutor();
  if (executor.plugins.length > 0) return lastWaitingPositionQuery(db).compile();
  let compiled = compiledLastWaitingPositions.get(executor.adapter);
  if (!compiled) {
    compiled = lastWaitingPositionQuery(db).compile();
    compiledLastWaitingPositions.set(executor.adapter, compiled);
  }
  return compiled;
}

function lastWaitingPositionQuery(db: Queryable) {
  return db.selectFrom('inbox_events').select('queue_position')
    .where('status', '=', waiting).where('queue_position', '>=', positionMin).where('queue_position', '<', parkedPositionOffset)
    .orderBy('queue_position', 'desc').limit(1);
}

export const inboxBatchSizeMax = 100;

/**
 * Events due for processing, in queue order, in a bounded batch. An event waits while an earlier
 * event of its resource still waits (for its turn or for a retry): the events of one resource are
 * applied one at a time in the order received, and the events of other resources go on meanwhile.
 * A batch therefore holds at most one event per resource.
 */
export async function listDueInboxEvents(db: Queryable, limit = inboxBatchSizeMax): Promise<InboxEvent[]> {
  return db.selectFrom('inbox_events as e').selectAll('e')
    .where('e.status', '=', waiting)
    .where('e.queue_position', '>=', positionMin)
    .where('e.available_at', '<=', nowIso())
    .where((eb) => eb.not(eb.exists(
      eb.selectFrom('inbox_events as earlier').select('earlier.id')
        .where('earlier.status', '=', waiting)
        .whereRef('earlier.merchant_id', '=', 'e.merchant_id')
        .whereRef('earlier.resource_key', '=', 'e.resource_key')
        // (position, id) as one row value, so the index gives the range directly on both databases.
        .where((inner) => inner(inner.refTuple('earlier.queue_position', 'earlier.id'), '<', inner.refTuple('e.queue_position', 'e.id'))),
    )))
    .orderBy('e.queue_position').orderBy('e.id')
    .limit(Math.min(limit, inboxBatchSizeMax))
    .execute();
}

/**
 * Claims an event inside the transaction that applies it: only one worker's update matches. On
 * PostgreSQL the row is locked with SKIP LOCKED in the same statement, so a worker of another
 * process that is applying it right now is passed by at once (its commit or rollback settles the
 * row) instead of waited for; on SQLite transactions already take turns.
 */
type ClaimParameters = { id: string; outcome: 'processed' | 'ignored'; now: string; note: string | null };
const claimReceivedEvent = reuseQuery((db, param: ParameterPlaceholders<ClaimParameters>) => db
  .updateTable('inbox_events').set({ status: param('outcome'), processed_at: param('now'), error: param('note') })
  .where('id', '=', param('id')).where('status', '=', 'received').where('available_at', '<=', param('now')));
// One statement rather than a locking SELECT and then the UPDATE: one round trip less for every
// event applied (bench/orders-end-to-end.ts counts statements per order).
const claimUnlockedReceivedEvent = reuseQuery((db, param: ParameterPlaceholders<ClaimParameters>) => db
  .updateTable('inbox_events').set({ status: param('outcome'), processed_at: param('now'), error: param('note') })
  .where('id', '=', (eb) => eb.selectFrom('inbox_events as unlocked').select('unlocked.id')
    .where('unlocked.id', '=', param('id')).where('unlocked.status', '=', 'received').where('unlocked.available_at', '<=', param('now'))
    .forUpdate().skipLocked())
  .where('status', '=', 'received').where('available_at', '<=', param('now')));

export async function claimInboxEvent(db: Queryable, id: string, outcome: 'processed' | 'ignored', note: string | null = null): Promise<boolean> {
  const claim = canSkipLockedRows(db) ? claimUnlockedReceivedEvent : claimReceivedEvent;
  const result = await claim.run(db, { id, outcome, now: nowIso(), note });
  return Number(result.numAffectedRows) === 1;
}

export const inboxAttemptsMax = 8;
const retryDelayMsMax = 15 * 60 * 1000;

/**
 * Records a failed attempt: retried later with backoff, or marked failed after the last. While it
 * waits for the retry, the later events of its resource wait too, unless the failure says the event
 * needs what a later event brings (`park`): it then moves behind its resource's other events.
 * Returns 'retry' also when another worker recorded this attempt first (nothing more to do).
 */
export async function recordInboxFailure(db: Queryable, event: InboxEvent, error: string, options: { park?: boolean } = {}): Promise<'retry' | 'failed'> {
  const attempts = event.attempts + 1;
  const giveUp = attempts >= inboxAttemptsMax;
  const delayMs = Math.min(2 ** attempts * 1000, retryDelayMsMax);
  const position = Number(event.queue_position);
  const park = options.park === true && event.resource_key !== null && position < parkedPositionOffset;
  const result = await db
    .updateTable('inbox_events')
    .set({ attempts, error, status: giveUp ? 'failed' : 'received', available_at: isoAfter(delayMs), ...(park ? { queue_position: position + parkedPositionOffset } : {}) })
    .where('id', '=', event.id)
    .where('status', '=', 'received')
    .where('attempts', '=', event.attempts)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return 'retry';
  return giveUp ? 'failed' : 'retry';
}

/**
 * A merchant's inbox by status: every event that waits (`received`) or failed, and the events
 * settled (`processed`, `ignored`) in the period given. Counting every settled event ever received
 * read the whole table: 2 s at a million rows on SQLite, the engine's one event loop held (issue
 * #9). The period is read through `inbox_events_by_processed` (migration 0019), bounded on both
 * sides for SQLite's planner; what waits or failed through the due index, grouped by status.
 */
export async function countInboxByStatus(db: Queryable, merchantId: string, settledIn: { fromIso: string; toIso: string }): Promise<Record<string, number>> {
  const open = await db.selectFrom('inbox_events').select(['status']).select((eb) => eb.fn.countAll<number>().as('count'))
    .where('status', 'in', ['received', 'failed']).where('merchant_id', '=', merchantId).groupBy('status').execute();
  const settled = await db.selectFrom('inbox_events').select(['status']).select((eb) => eb.fn.countAll<number>().as('count'))
    .where('merchant_id', '=', merchantId).where('processed_at', '>=', settledIn.fromIso).where('processed_at', '<=', settledIn.toIso)
    .where('status', 'in', ['processed', 'ignored']).groupBy('status').execute();
  return Object.fromEntries([...open, ...settled].map((row) => [row.status, Number(row.count)]));
}
