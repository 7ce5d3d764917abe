import type { Selectable } from 'kysely';
import type { ExceptionsTable, Queryable } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso, toIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { emitMerchantEvent } from './merchant-events.ts';

export type ExceptionKind = 'possible_duplicate' | 'unmapped_sku' | 'oversell' | 'sync_failed' | 'inbox_failed' | 'stale_event' | 'offline_conflict' | 'referral_review' | 'reward_code_reused' | 'promotion_limit_exceeded' | 'channel_drift';

/**
 * An exception's lifecycle: open → assigned (it has an owner) / in_progress (a retry is under way)
 * → resolved | dismissed, and a closed one can be reopened. The first three are active.
 */
export const exceptionStates = ['open', 'assigned', 'in_progress', 'resolved', 'dismissed'] as const;
export type ExceptionState = (typeof exceptionStates)[number];
export const activeExceptionStates: readonly ExceptionState[] = ['open', 'assigned', 'in_progress'];
export const closedExceptionStates: readonly ExceptionState[] = ['resolved', 'dismissed'];

export type ExceptionRow = Selectable<ExceptionsTable>;

export interface RaisedException {
  kind: ExceptionKind;
  /** Raising the same exception twice (a replayed event) keeps one; the key says what "same" is. */
  dedupeKey: string;
  subject: string;
  details: Record<string, unknown>;
}

/** Puts a case a person must decide into the exceptions queue, once. True when it was new. */
export async function raiseException(db: Queryable, merchantId: string, exception: RaisedException): Promise<boolean> {
  const now = nowIso();
  const inserted = await db
    .insertInto('exceptions')
    .values({ id: newId('exc'), merchant_id: merchantId, kind: exception.kind, dedupe_key: exception.dedupeKey, subject: exception.subject, state: 'open', details_json: JSON.stringify(exception.details), resolution: null, created_at: now, resolved_at: null, owner: null, updated_at: now })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'dedupe_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) await emitMerchantEvent(db, merchantId, 'exception.raised', { exception_id: inserted.id, kind: exception.kind, subject: exception.subject });
  return inserted !== undefined;
}

/**
 * Raises the exception, or opens the one raised before under the same key again when it was
 * closed or a retry was under way (a message replayed by a person died again), with the new details
 * and an audit entry. True when a person has a new or reopened case.
 */
export async function raiseOrReopenException(db: Queryable, merchantId: string, exception: RaisedException, actor: string): Promise<boolean> {
  if (await raiseException(db, merchantId, exception)) return true;
  const reopened = await db
    .updateTable('exceptions')
    .set({ state: 'open', details_json: JSON.stringify(exception.details), resolution: null, resolved_at: null, updated_at: nowIso() })
    .where('merchant_id', '=', merchantId)
    .where('dedupe_key', '=', exception.dedupeKey)
    .where('state', 'in', ['in_progress', ...closedExceptionStates])
    .returning(['id', 'state'])
    .executeTakeFirst();
  if (!reopened) return false;
  await writeAudit(db, merchantId, { actor, action: 'exceptions.reopen', subject: reopened.id, details: { kind: exception.kind, reason: 'raised again', details: exception.details } });
  return true;
}

export interface ExceptionFilter {
  state?: ExceptionState | 'active';
  kind?: string;
  owner?: string;
  subject?: string;
  /** Raised at or after this time (ISO-8601). */
  since?: string;
  /** Where the previous page ended (`next_cursor` of the previous answer). */
  cursor?: string;
  limit?: number;
}

export const exceptionsPageSizeDefault = 50;
export const exceptionsPageSizeMax = 200;

export interface ExceptionSummary {
  id: string;
  kind: string;
  subject: string;
  state: string;
  owner: string | null;
  details: Record<string, unknown>;
  resolution: string | null;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
}

export function summarizeException(row: ExceptionRow): ExceptionSummary {
  return {
    id: row.id, kind: row.kind, subject: row.subject, state: row.state, owner: row.owner, details: JSON.parse(row.details_json) as Record<string, unknown>,
    resolution: row.resolution, created_at: row.created_at, updated_at: row.updated_at, resolved_at: row.resolved_at,
  };
}

// Pages run newest first by (created_at, id); a cursor is where the last page ended, opaque to clients.
function encodeCursor(row: Pick<ExceptionRow, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return [toIso(value[0]), value[1]];
  } catch {
    // Falls through to the refusal below.
  }
  throw new AppError('request.invalid', 'cursor: not a cursor this API gave', { field: 'cursor', rule: 'cursor' });
}

/** The first page of a merchant's exceptions that match, newest first. */
export async function listExceptions(db: Queryable, merchantId: string, filter: ExceptionFilter = {}): Promise<ExceptionSummary[]> {
  return (await listExceptionPage(db, merchantId, filter)).items;
}

/** One page of a merchant's exceptions, newest first, with the cursor of the next page (null at the end). */
export async function listExceptionPage(db: Queryable, merchantId: string, filter: ExceptionFilter = {}): Promise<{ items: ExceptionSummary[]; nextCursor: string | null }> {
  const limit = filter.limit ?? exceptionsPageSizeDefault;
  assert(Number.isSafeInteger(limit) && limit >= 1 && limit <= exceptionsPageSizeMax, `a page holds 1 to ${exceptionsPageSizeMax} exceptions (got ${limit})`);
  let query = db.selectFrom('exceptions').selectAll().where('merchant_id', '=', merchantId);
  if (filter.state === 'active') query = query.where('state', 'in', activeExceptionStates);
  else if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  if (filter.owner) query = query.where('owner', '=', filter.owner);
  if (filter.subject) query = query.where('subject', '=', filter.subject);
  if (filter.since) query = query.where('created_at', '>=', toIso(filter.since));
  if (filter.cursor) {
    const [createdAt, id] = decodeCursor(filter.cursor);
    query = query.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]));
  }
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { items: page.map(summarizeException), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

export async function findException(db: Queryable, merchantId: string, exceptionId: string): Promise<ExceptionRow> {
  const row = await db.selectFrom('exceptions').selectAll().where('merchant_id', '=', merchantId).where('id', '=', exceptionId).executeTakeFirst();
  if (!row) throw new AppError('exceptions.not_found', `No exception ${exceptionId}`, { exception_id: exceptionId });
  return row;
}

export async function writeAudit(db: Queryable, merchantId: string, entry: { actor: string; action: string; subject: string; details: Record<string, unknown> }): Promise<void> {
  await db.insertInto('audit_log').values({ id: newId('aud'), merchant_id: merchantId, actor: entry.actor, action: entry.action, subject: entry.subject, details_json: JSON.stringify(entry.details), created_at: nowIso() }).execute();
}

export const auditHistoryMax = 200;

/** What was done to a subject (an exception, an outbox message), oldest first, at most `auditHistoryMax` entries. */
export async function listAuditHistory(db: Queryable, merchantId: string, subject: string) {
  const rows = await db.selectFrom('audit_log').selectAll().where('merchant_id', '=', merchantId).where('subject', '=', subject).orderBy('created_at').orderBy('id').limit(auditHistoryMax).execute();
  return rows.map((row) => ({ at: row.created_at, actor: row.actor, action: row.action, details: JSON.parse(row.details_json) as Record<string, unknown> }));
}
