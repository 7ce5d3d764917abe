import type { Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type ExceptionKind = 'possible_duplicate' | 'unmapped_sku' | 'oversell' | 'sync_failed' | 'inbox_failed' | 'stale_event' | 'offline_conflict' | 'referral_review' | 'reward_code_reused' | 'promotion_limit_exceeded';

export interface RaisedException {
  kind: ExceptionKind;
  /** Raising the same exception twice (a replayed event) keeps one; the key says what "same" is. */
  dedupeKey: string;
  subject: string;
  details: Record<string, unknown>;
}

/** Puts a case a person must decide into the exceptions queue, once. */
export async function raiseException(db: Queryable, merchantId: string, exception: RaisedException): Promise<void> {
  await db
    .insertInto('exceptions')
    .values({ id: newId('exc'), merchant_id: merchantId, kind: exception.kind, dedupe_key: exception.dedupeKey, subject: exception.subject, state: 'open', details_json: JSON.stringify(exception.details), resolution: null, created_at: nowIso(), resolved_at: null })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'dedupe_key']).doNothing())
    .execute();
}

export async function listExceptions(db: Queryable, merchantId: string, filter: { state?: string; kind?: string } = {}) {
  let query = db.selectFrom('exceptions').selectAll().where('merchant_id', '=', merchantId);
  if (filter.state) query = query.where('state', '=', filter.state);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  const rows = await query.orderBy('created_at', 'desc').limit(500).execute();
  return rows.map((row) => ({ id: row.id, kind: row.kind, subject: row.subject, state: row.state, details: JSON.parse(row.details_json) as Record<string, unknown>, resolution: row.resolution, created_at: row.created_at, resolved_at: row.resolved_at }));
}

export async function writeAudit(db: Queryable, merchantId: string, entry: { actor: string; action: string; subject: string; details: Record<string, unknown> }): Promise<void> {
  await db.insertInto('audit_log').values({ id: newId('aud'), merchant_id: merchantId, actor: entry.actor, action: entry.action, subject: entry.subject, details_json: JSON.stringify(entry.details), created_at: nowIso() }).execute();
}
