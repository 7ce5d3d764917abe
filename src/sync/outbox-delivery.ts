import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowMs } from '../shared/clock.ts';
import type { Metrics } from '../shared/metrics.ts';
import { admitDelivery, recordCircuitFailure, recordCircuitSuccess } from './channel-circuits.ts';
import { deadLetterKey, resolveDeliveredDeadLetter } from './exception-lifecycle.ts';
import { raiseOrReopenException } from './exceptions.ts';
import { claimDueOutboxEvents, markOutboxDelivered, recordOutboxFailure, releaseOutboxClaim, renewOutboxLease, type ClaimedOutboxEvent } from './outbox.ts';
import type { OutboxDeliverer } from './sync-worker.ts';

export interface OutboxDeliveryOptions {
  db: Db;
  logger: Logger;
  metrics: Metrics;
  deliverers: Record<string, OutboxDeliverer>;
}

/** The actor the audit log names for what the worker does on its own (a dead letter raised, a replay's exception resolved). */
export const outboxWorkerActor = 'system:outbox';

function describeError(error: unknown): string {
  return error instanceof AppError ? `${error.code}: ${error.message}` : String(error);
}

/**
 * The outbound half of the worker: claims due messages and delivers each through its destination's
 * deliverer, behind the circuit breaker of its circuit. Exactly one delivery per claim: the lease
 * is renewed before the call, and the outcome is recorded only while this worker still holds it.
 */
export function createOutboxDelivery(options: OutboxDeliveryOptions) {
  const { db, logger, metrics } = options;
  // Names this worker in `claimed_by`, so a message shows which process holds or delivered it.
  const workerId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  let claims = 0;

  async function recordSuccess(event: ClaimedOutboxEvent, note: string | null): Promise<void> {
    if (!(await markOutboxDelivered(db, event, note))) {
      logger.warn({ outboxId: event.id, destination: event.destination }, 'outbox lease lost during delivery; the new holder records the outcome');
      return;
    }
    metrics.outboxEvents.inc({ destination: event.destination, outcome: 'delivered' });
    if (event.replays === 0) metrics.outboxDeliveryLatency.observe({ destination: event.destination }, Math.max(0, nowMs() - Date.parse(event.created_at)) / 1000);
    if (await recordCircuitSuccess(db, event)) {
      metrics.circuitTransitions.inc({ destination: event.destination, to: 'closed' });
      logger.info({ circuit: event.circuit_key, merchantId: event.merchant_id }, 'channel circuit closed');
    }
    try {
      await resolveDeliveredDeadLetter(db, event, outboxWorkerActor);
    } catch (error) {
      // A person changed the exception at the same moment; the delivery stands either way.
      logger.warn({ outboxId: event.id, err: describeError(error) }, 'the exception of a replayed message was not resolved');
    }
  }

  async function recordFailure(event: ClaimedOutboxEvent, error: unknown, probe: boolean): Promise<void> {
    const message = describeError(error);
    const verdict = await db.transaction().execute(async (tx) => {
      const outcome = await recordOutboxFailure(tx, event, message);
      if (outcome === 'dead') {
        const details = { destination: event.destination, kind: event.kind, outbox_id: event.id, attempts: event.attempts + 1, error: message };
        if (await raiseOrReopenException(tx, event.merchant_id, { kind: 'sync_failed', dedupeKey: deadLetterKey(event.id), subject: event.id, details }, outboxWorkerActor)) metrics.exceptionsRaised.inc({ kind: 'sync_failed' });
      }
      return outcome;
    });
    if (verdict === 'lost') {
      logger.warn({ outboxId: event.id, destination: event.destination, err: message }, 'outbox lease lost during a failed delivery; the new holder records the outcome');
      return;
    }
    metrics.outboxEvents.inc({ destination: event.destination, outcome: verdict });
    (verdict === 'dead' ? metrics.outboxDeadLetters : metrics.outboxRetries).inc({ destination: event.destination });
    logger.warn({ outboxId: event.id, destination: event.destination, verdict, err: message }, 'outbox delivery failed');
    const circuit = await recordCircuitFailure(db, event, message, probe);
    if (circuit.opened) {
      metrics.circuitTransitions.inc({ destination: event.destination, to: 'open' });
      logger.warn({ circuit: event.circuit_key, merchantId: event.merchant_id, probe }, 'channel circuit opened');
    }
  }

  return {
    workerId,
    /** Claims the next batch of due messages for this worker (`outboxBatchSizeMax` at most). */
    async claimDue(): Promise<ClaimedOutboxEvent[]> {
      claims += 1;
      return claimDueOutboxEvents(db, `${workerId}#${claims}`);
    },
    /** Delivers one claimed message, or gives it back unattempted when its circuit is open. */
    async deliver(event: ClaimedOutboxEvent): Promise<void> {
      if (!(await renewOutboxLease(db, event))) {
        logger.warn({ outboxId: event.id }, 'outbox lease ran out before delivery; another worker has the message');
        return;
      }
      const admission = await admitDelivery(db, event);
      if (admission === 'defer') {
        await releaseOutboxClaim(db, event);
        metrics.outboxEvents.inc({ destination: event.destination, outcome: 'deferred' });
        return;
      }
      const deliverer = options.deliverers[event.destination];
      let note: string | void;
      try {
        if (!deliverer) throw new AppError('sync.no_deliverer', `No deliverer for destination ${event.destination}`);
        note = await deliverer(event);
      } catch (error) {
        await recordFailure(event, error, admission === 'probe');
        return;
      }
      await recordSuccess(event, note ?? null);
    },
  };
}
