import type { Queryable, Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { writeAudit } from '../sync/index.ts';
import { describeCustomer } from './customer-views.ts';
import { mergeCustomers } from './merge-customers.ts';

async function findException(db: Queryable, merchantId: string, exceptionId: string) {
  const row = await db.selectFrom('exceptions').selectAll().where('merchant_id', '=', merchantId).where('id', '=', exceptionId).executeTakeFirst();
  if (!row) throw new AppError('exceptions.not_found', `No exception ${exceptionId}`, { exception_id: exceptionId });
  return { ...row, details: JSON.parse(row.details_json) as Record<string, unknown> };
}

function duplicatePair(details: Record<string, unknown>): [string, string] | undefined {
  const ids = details['customer_ids'];
  return Array.isArray(ids) && ids.length === 2 && ids.every((id) => typeof id === 'string') ? [ids[0] as string, ids[1] as string] : undefined;
}

/** One exception; a possible duplicate comes with both profiles side by side. */
export async function describeException(db: Queryable, merchant: Merchant, exceptionId: string) {
  const exception = await findException(db, merchant.id, exceptionId);
  const pair = exception.kind === 'possible_duplicate' ? duplicatePair(exception.details) : undefined;
  return {
    id: exception.id, kind: exception.kind, subject: exception.subject, state: exception.state, details: exception.details,
    resolution: exception.resolution, created_at: exception.created_at, resolved_at: exception.resolved_at,
    ...(pair ? { profiles: await Promise.all(pair.map((id) => describeCustomer(db, merchant, id))) } : {}),
  };
}

export const notSamePersonResolution = 'not the same person';

export type ExceptionAction = { action: 'merge'; survivorId: string } | { action: 'not_same_person' } | { action: 'resolve'; note: string };

/** Settles an open exception: merge a duplicate pair, declare them different people, or close it with a note. */
export async function resolveException(tx: Tx, merchant: Merchant, exceptionId: string, decision: ExceptionAction, actor: string): Promise<void> {
  const exception = await findException(tx, merchant.id, exceptionId);
  if (exception.state !== 'open') throw new AppError('exceptions.conflict', `Exception ${exceptionId} is already ${exception.state}`, { exception_id: exceptionId });
  let resolution: string;
  if (decision.action === 'merge') {
    const pair = duplicatePair(exception.details);
    if (exception.kind !== 'possible_duplicate' || !pair) throw new AppError('exceptions.invalid_action', 'Only a possible duplicate can be settled by a merge', { field: 'action' });
    if (!pair.includes(decision.survivorId)) throw new AppError('exceptions.invalid_action', 'survivor_id must be one of the two profiles', { field: 'survivor_id' });
    const mergedId = pair.find((id) => id !== decision.survivorId)!;
    const merge = await mergeCustomers(tx, merchant, { survivorId: decision.survivorId, mergedId, actor, reason: `review of exception ${exceptionId}` });
    resolution = `merged (${merge.mergeId})`;
  } else if (decision.action === 'not_same_person') {
    if (exception.kind !== 'possible_duplicate') throw new AppError('exceptions.invalid_action', 'Only a possible duplicate can be two different people', { field: 'action' });
    resolution = notSamePersonResolution;
  } else {
    resolution = decision.note;
  }
  await tx.updateTable('exceptions').set({ state: 'resolved', resolution, resolved_at: nowIso() }).where('merchant_id', '=', merchant.id).where('id', '=', exceptionId).where('state', '=', 'open').execute();
  await writeAudit(tx, merchant.id, { actor, action: 'exceptions.resolve', subject: exceptionId, details: { kind: exception.kind, resolution } });
}
