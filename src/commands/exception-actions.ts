import type { Queryable, Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { activeExceptionStates, availableExceptionActions, closeException, findException, listAuditHistory, summarizeException, writeAudit, type ExceptionState } from '../sync/index.ts';
import { describeCustomer } from './customer-views.ts';
import { mergeCustomers } from './merge-customers.ts';

function duplicatePair(details: Record<string, unknown>): [string, string] | undefined {
  const ids = details['customer_ids'];
  return Array.isArray(ids) && ids.length === 2 && ids.every((id) => typeof id === 'string') ? [ids[0] as string, ids[1] as string] : undefined;
}

/**
 * One exception with what can be done with it now (`actions`) and its history from the audit log;
 * a possible duplicate comes with both profiles side by side.
 */
export async function describeException(db: Queryable, merchant: Merchant, exceptionId: string) {
  const row = await findException(db, merchant.id, exceptionId);
  const exception = summarizeException(row);
  const pair = exception.kind === 'possible_duplicate' ? duplicatePair(exception.details) : undefined;
  return {
    ...exception,
    actions: availableExceptionActions(row),
    history: [{ at: exception.created_at, actor: 'system', action: 'exceptions.raise', details: {} }, ...(await listAuditHistory(db, merchant.id, exceptionId))],
    ...(pair ? { profiles: await Promise.all(pair.map((id) => describeCustomer(db, merchant, id))) } : {}),
  };
}

export const notSamePersonResolution = 'not the same person';

export type ExceptionAction = { action: 'merge'; survivorId: string } | { action: 'not_same_person' } | { action: 'resolve'; note: string };

/**
 * Settles an active exception (open, assigned or in progress): merge a duplicate pair, declare
 * them different people, or close it with a note. The merge and the closing share the transaction.
 */
export async function resolveException(tx: Tx, merchant: Merchant, exceptionId: string, decision: ExceptionAction, actor: string): Promise<void> {
  const exception = await findException(tx, merchant.id, exceptionId);
  if (!activeExceptionStates.includes(exception.state as ExceptionState)) throw new AppError('exceptions.conflict', `Exception ${exceptionId} is already ${exception.state}`, { exception_id: exceptionId, state: exception.state });
  const details = JSON.parse(exception.details_json) as Record<string, unknown>;
  let resolution: string;
  if (decision.action === 'merge') {
    const pair = duplicatePair(details);
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
  // A merge settles the pair's open cases itself (merge-customers.ts): then only the audit entry is left to write.
  const current = await findException(tx, merchant.id, exceptionId);
  if (current.state === 'resolved' && decision.action === 'merge') {
    await writeAudit(tx, merchant.id, { actor, action: 'exceptions.resolve', subject: exceptionId, details: { kind: exception.kind, from: exception.state, to: 'resolved', resolution: current.resolution } });
    return;
  }
  await closeException(tx, merchant.id, current, { state: 'resolved', resolution }, actor);
}
