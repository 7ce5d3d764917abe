import type { Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { activeExceptionStates, closedExceptionStates, findException, writeAudit, type ExceptionRow, type ExceptionState } from './exceptions.ts';
import { replayOutboxMessage, type ReplayResult } from './outbox-replay.ts';
import type { OutboxEvent } from './outbox.ts';

// The actions a person (or the engine on a person's behalf) takes on an exception. Each is one
// conditional update from the states it is allowed in, so two people acting at once cannot both
// succeed, and each writes the audit log with who did it; GET /v1/exceptions/{id} shows that history.

export type ExceptionActionName = 'assign' | 'resolve' | 'dismiss' | 'reopen' | 'retry' | 'merge' | 'not_same_person';

/** Dead letters of the outbox are raised under this key; their retry replays the message. */
export function deadLetterKey(outboxId: string): string {
  return `outbox:${outboxId}`;
}

function retryableMessageOf(exception: Pick<ExceptionRow, 'kind' | 'dedupe_key' | 'subject'>): string | undefined {
  return exception.kind === 'sync_failed' && exception.dedupe_key === deadLetterKey(exception.subject) ? exception.subject : undefined;
}

/** What can be done with the exception in its state: what the API offers beside it. */
export function availableExceptionActions(exception: Pick<ExceptionRow, 'kind' | 'state' | 'dedupe_key' | 'subject'>): ExceptionActionName[] {
  if (closedExceptionStates.includes(exception.state as ExceptionState)) return ['reopen'];
  const actions: ExceptionActionName[] = ['assign', 'resolve', 'dismiss'];
  if (retryableMessageOf(exception)) actions.push('retry');
  if (exception.kind === 'possible_duplicate') actions.push('merge', 'not_same_person');
  return actions;
}

interface Transition {
  from: readonly ExceptionState[];
  to: ExceptionState;
  owner?: string | null;
  resolution?: string | null;
  closes?: boolean;
}

/** Moves the exception from one of `from` to `to`; a 409 `exceptions.conflict` when it is in another state by now. */
async function transitionException(db: Queryable, merchantId: string, exception: ExceptionRow, transition: Transition, audit: { actor: string; action: string; details: Record<string, unknown> }): Promise<void> {
  if (!transition.from.includes(exception.state as ExceptionState)) {
    throw new AppError('exceptions.conflict', `Exception ${exception.id} is ${exception.state}; ${audit.action.replace('exceptions.', '')} needs it ${transition.from.join(' or ')}`, { exception_id: exception.id, state: exception.state });
  }
  const now = nowIso();
  const result = await db
    .updateTable('exceptions')
    .set({
      state: transition.to, updated_at: now,
      ...(transition.owner !== undefined ? { owner: transition.owner } : {}),
      ...(transition.resolution !== undefined ? { resolution: transition.resolution } : {}),
      ...(transition.closes === undefined ? {} : { resolved_at: transition.closes ? now : null }),
    })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', exception.id)
    .where('state', '=', exception.state)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new AppError('exceptions.conflict', `Exception ${exception.id} changed meanwhile; read it again`, { exception_id: exception.id });
  await writeAudit(db, merchantId, { actor: audit.actor, action: audit.action, subject: exception.id, details: { kind: exception.kind, from: exception.state, to: transition.to, ...audit.details } });
}

/** Gives an active exception an owner; an open one becomes assigned, one in progress stays so. */
export async function assignException(db: Queryable, merchantId: string, exceptionId: string, owner: string, actor: string): Promise<void> {
  const exception = await findException(db, merchantId, exceptionId);
  const to: ExceptionState = exception.state === 'open' ? 'assigned' : (exception.state as ExceptionState);
  await transitionException(db, merchantId, exception, { from: activeExceptionStates, to, owner }, { actor, action: 'exceptions.assign', details: { owner, previous_owner: exception.owner } });
}

/** Closes an active exception as resolved (`resolution` says how) or dismissed (not a case after all). */
export async function closeException(db: Queryable, merchantId: string, exception: ExceptionRow, outcome: { state: 'resolved' | 'dismissed'; resolution: string }, actor: string): Promise<void> {
  await transitionException(db, merchantId, exception, { from: activeExceptionStates, to: outcome.state, resolution: outcome.resolution, closes: true }, { actor, action: outcome.state === 'resolved' ? 'exceptions.resolve' : 'exceptions.dismiss', details: { resolution: outcome.resolution } });
}

export async function dismissException(db: Queryable, merchantId: string, exceptionId: string, reason: string, actor: string): Promise<void> {
  await closeException(db, merchantId, await findException(db, merchantId, exceptionId), { state: 'dismissed', resolution: reason }, actor);
}

/** Opens a resolved or dismissed exception again; it goes back to its owner when it has one. */
export async function reopenException(db: Queryable, merchantId: string, exceptionId: string, reason: string, actor: string): Promise<void> {
  const exception = await findException(db, merchantId, exceptionId);
  await transitionException(db, merchantId, exception, { from: closedExceptionStates, to: exception.owner ? 'assigned' : 'open', resolution: null, closes: false }, { actor, action: 'exceptions.reopen', details: { reason, previous_resolution: exception.resolution } });
}

/**
 * The action a failed sync offers: replay its dead outbox message. The exception is in progress
 * until the delivery succeeds, which resolves it (`resolveDeliveredDeadLetter`), or the message dies
 * again, which opens it again. A newer pending message with the same coalesce key already carries
 * the latest state: then there is nothing to replay and the exception is resolved by saying so.
 */
export async function retryException(db: Queryable, merchantId: string, exceptionId: string, actor: string): Promise<ReplayResult> {
  const exception = await findException(db, merchantId, exceptionId);
  const outboxId = retryableMessageOf(exception);
  if (!outboxId) throw new AppError('exceptions.invalid_action', 'Only a failed sync of a dead outbox message can be retried', { field: 'action', kind: exception.kind });
  if (!activeExceptionStates.includes(exception.state as ExceptionState)) {
    throw new AppError('exceptions.conflict', `Exception ${exceptionId} is ${exception.state}; reopen it first`, { exception_id: exceptionId, state: exception.state });
  }
  const replay = await replayOutboxMessage(db, merchantId, outboxId, actor);
  if (replay.outcome === 'superseded') {
    await closeException(db, merchantId, exception, { state: 'resolved', resolution: `superseded by ${replay.pending_id}, which carries the latest state` }, actor);
  } else {
    await transitionException(db, merchantId, exception, { from: activeExceptionStates, to: 'in_progress' }, { actor, action: 'exceptions.retry', details: { outbox_id: outboxId, replay: replay.outcome } });
  }
  return replay;
}

/**
 * A replayed dead letter was delivered: the failed sync it raised is over, so an active exception
 * for it is resolved, with an audit entry. Called by the worker; writes nothing for other messages.
 */
export async function resolveDeliveredDeadLetter(db: Queryable, message: Pick<OutboxEvent, 'id' | 'merchant_id' | 'replays'>, actor: string): Promise<boolean> {
  if (message.replays === 0) return false;
  const exception = await db.selectFrom('exceptions').selectAll().where('merchant_id', '=', message.merchant_id).where('dedupe_key', '=', deadLetterKey(message.id)).where('state', 'in', activeExceptionStates).executeTakeFirst();
  if (!exception) return false;
  await closeException(db, message.merchant_id, exception, { state: 'resolved', resolution: 'delivered on replay' }, actor);
  return true;
}
