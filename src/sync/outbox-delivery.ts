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
import { claimDueOutboxEvents, markOutboxEventsDelivered, outboxLeaseMs, recordOutboxFailure, releaseOutboxClaim, renewOutboxLease, type ClaimedOutboxEvent } from './outbox.ts';
import type { OutboxEvent } from './outbox.ts';
import type { OutboxDeliverer } from './sync-worker.ts';

/** What delivering one message of a batch came to: its note, or the error that failed it. */
export type BatchDeliveryOutcome = { ok: true; note: string | void } | { ok: false; error: unknown };

/**
 * A deliverer that can deliver several messages with one call to the channel (issue #9: Shopify
 * sets many levels' stock with one inventorySetQuantities, at the cost of one). Messages of one
 * claim with the same key (not null) and circuit go together.
 */
export interface BatchDelivery {
  keyOf(event: OutboxEvent): string | null;
  /** Delivers the messages; the outcome of each by its id (one missing counts as failed). */
  deliverMany(events: OutboxEvent[]): Promise<Map<string, BatchDeliveryOutcome>>;
}

/** An outbox deliverer, optionally able to deliver a batch (`batch`). */
export type BatchingDeliverer = OutboxDeliverer & { batch?: BatchDelivery };

export interface OutboxDeliveryOptions {
  db: Db;
  logger: Logger;
  metrics: Metrics;
  deliverers: Record<string, BatchingDeliverer>;
}

/** The actor the audit log names for what the worker does on its own (a dead letter raised, a replay's exception resolved). */
export const outboxWorkerActor = 'system:outbox';

/** The outcome of a message whose lease was lost before its batch was sent: nothing to record. */
const leaseLost = new Error('the lease ran out before the batch was sent');

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
  // The claim this worker took last, and when (read before the claim, so the lease it took ends
  // later than this plus `outboxLeaseMs`).
  let lastClaimant: string | undefined;
  let lastClaimStartedAtMs = 0;
  // The messages of the last claim, and, by id, those of them a batch delivered: the worker hands
  // them to deliver() one by one, in claim order, and the first of a batch delivers and records them all.
  let claimedNow: ClaimedOutboxEvent[] = [];
  const batched = new Map<string, Promise<BatchDeliveryOutcome>>();
  // The messages of the last claim already handed to deliver(): never taken into a later batch.
  const handled = new Set<string>();

  /**
   * The lease is renewed before a delivery unless at least half of it is still ahead (30 s, three
   * times the longest deliverer's limit): a message of a batch claimed moments ago cannot have been
   * taken by anyone. Found by bench/orders-end-to-end.ts: renewing each message of a fresh claim
   * was a commit (an fsync) per message, as many as the orders themselves.
   */
  async function holdLease(event: ClaimedOutboxEvent): Promise<boolean> {
    if (event.claimed_by === lastClaimant && nowMs() - lastClaimStartedAtMs < outboxLeaseMs / 2) return true;
    await recordDelivered();
    return renewOutboxLease(db, event);
  }

  /**
   * Deliveries that went through, recorded together in one transaction (one commit) rather than one
   * each: found by bench/orders-end-to-end.ts, where marking each message delivered was one fsync
   * per message (252 for 400 orders), more than the orders' own. They are recorded before anything
   * that must see them (a failure's count on the circuit, a lease renewal, a probe's outcome) and at
   * the end of every batch, always within the lease: a worker that dies before recording them
   * leaves them to be delivered again when the lease ends, as a death right after the call did.
   */
  let delivered: { event: ClaimedOutboxEvent; note: string | null }[] = [];

  async function recordDelivered(): Promise<void> {
    if (delivered.length === 0) return;
    const batch = delivered;
    delivered = [];
    const markedIds = await markOutboxEventsDelivered(db, batch);
    const marked: ClaimedOutboxEvent[] = [];
    for (const { event } of batch) {
      if (markedIds.has(event.id)) marked.push(event);
      else logger.warn({ outboxId: event.id, destination: event.destination }, 'outbox lease lost during delivery; the new holder records the outcome');
    }
    const circuits = new Map<string, ClaimedOutboxEvent>();
    for (const event of marked) {
      metrics.outboxEvents.inc({ destination: event.destination, outcome: 'delivered' });
      if (event.replays === 0) metrics.outboxDeliveryLatency.observe({ destination: event.destination }, Math.max(0, nowMs() - Date.parse(event.created_at)) / 1000);
      circuits.set(`${event.merchant_id} ${event.circuit_key}`, event);
    }
    // One success closes a circuit; the others of the same circuit would change nothing.
    for (const event of circuits.values()) {
      if (await recordCircuitSuccess(db, event)) {
        metrics.circuitTransitions.inc({ destination: event.destination, to: 'closed' });
        logger.info({ circuit: event.circuit_key, merchantId: event.merchant_id }, 'channel circuit closed');
      }
    }
    for (const event of marked) {
      try {
        await resolveDeliveredDeadLetter(db, event, outboxWorkerActor);
      } catch (error) {
        // A person changed the exception at the same moment; the delivery stands either way.
        logger.warn({ outboxId: event.id, err: describeError(error) }, 'the exception of a replayed message was not resolved');
      }
    }
  }

  /**
   * Delivers the messages of the current claim that go with `event` (same destination, circuit and
   * batch key, not yet delivered, held by this worker) with one call to the channel. Each message's
   * outcome is kept for its own turn in deliver(), which records it as for a message delivered
   * alone; `event`'s own is returned.
   */
  function deliverBatch(event: ClaimedOutboxEvent, batch: BatchDelivery, key: string): Promise<BatchDeliveryOutcome> {
    const others = claimedNow.filter((other) => other.id !== event.id && !batched.has(other.id) && !handled.has(other.id) && other.destination === event.destination && other.circuit_key === event.circuit_key && batch.keyOf(other) === key);
    const started = (async () => {
      const group: ClaimedOutboxEvent[] = [event];
      // Every message of the batch is held by this worker before the call, as a single delivery is.
      for (const other of others) if (await holdLease(other)) group.push(other);
      const outcomes = await batch.deliverMany(group).catch((error: unknown) => new Map(group.map((member) => [member.id, { ok: false, error } as BatchDeliveryOutcome])));
      return { group, outcomes };
    })();
    const outcomeOf = (id: string) => started.then(({ group, outcomes }): BatchDeliveryOutcome => {
      if (!group.some((member) => member.id === id)) return { ok: false, error: leaseLost };
      return outcomes.get(id) ?? { ok: false, error: new AppError('sync.no_outcome', 'The batch delivery gave this message no outcome') };
    });
    for (const member of [event, ...others]) batched.set(member.id, outcomeOf(member.id));
    return batched.get(event.id)!;
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
      const claimant = `${workerId}#${claims}`;
      const startedAtMs = nowMs();
      const claimed = await claimDueOutboxEvents(db, claimant);
      lastClaimant = claimant;
      lastClaimStartedAtMs = startedAtMs;
      claimedNow = claimed;
      batched.clear();
      handled.clear();
      return claimed;
    },
    /** Delivers one claimed message, or gives it back unattempted when its circuit is open. */
    async deliver(event: ClaimedOutboxEvent): Promise<void> {
      handled.add(event.id);
      const inBatch = batched.get(event.id);
      if (inBatch) {
        const outcome = await inBatch;
        if (outcome.ok) delivered.push({ event, note: outcome.note ?? null });
        else if (outcome.error === leaseLost) logger.warn({ outboxId: event.id }, 'outbox lease ran out before delivery; another worker has the message');
        else {
          await recordDelivered();
          await recordFailure(event, outcome.error, false);
        }
        return;
      }
      if (!(await holdLease(event))) {
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
      // A probe of a half-open circuit goes alone: one message tells whether the channel is back.
      const key = admission === 'deliver' && deliverer?.batch ? deliverer.batch.keyOf(event) : null;
      if (deliverer?.batch && key !== null && claimedNow.some((other) => other.id !== event.id && !batched.has(other.id) && !handled.has(other.id) && other.destination === event.destination && other.circuit_key === event.circuit_key && deliverer.batch!.keyOf(other) === key)) {
        const outcome = await deliverBatch(event, deliverer.batch, key);
        if (outcome.ok) delivered.push({ event, note: outcome.note ?? null });
        else {
          await recordDelivered();
          await recordFailure(event, outcome.error, false);
        }
        return;
      }
      let note: string | void;
      try {
        if (!deliverer) throw new AppError('sync.no_deliverer', `No deliverer for destination ${event.destination}`);
        note = await deliverer(event);
      } catch (error) {
        await recordDelivered();
        await recordFailure(event, error, admission === 'probe');
        return;
      }
      delivered.push({ event, note: note ?? null });
      // A probe's success closes its circuit at once, so the messages waiting behind it go on.
      if (admission === 'probe') await recordDelivered();
    },
    /** Records the deliveries not yet recorded; called at the end of every batch. */
    recordDelivered,
  };
}
