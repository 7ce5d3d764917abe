import { reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { isoAfter, nowIso } from '../shared/clock.ts';
import type { OutboxEvent } from './outbox.ts';

// One circuit breaker per merchant and outbound circuit (a destination such as `shopify`, or one
// subscriber of the merchant's webhooks), kept in `channel_circuits` so every engine process and
// the API see the same state. A channel that is down is not hammered, and its outage does not burn
// the messages' retry schedules: while the circuit is open its messages are not attempted at all,
// so they are not counted as failed attempts and cannot be dead-lettered early.
//
//   closed ──(circuitFailuresToOpen consecutive failures)──> open ──(cooldown over)──> half_open
//   half_open ──(the one probe succeeds)──> closed;  half_open ──(the probe fails)──> open, cooldown doubled
//
// Any delivery success on the circuit closes it. A row exists once the circuit first failed.

export type CircuitState = 'closed' | 'open' | 'half_open';

/** Consecutive failed attempts on a circuit that open it. */
export const circuitFailuresToOpen = 5;
/** The first cooldown; each failed probe doubles it, up to `circuitCooldownMsMax`. */
export const circuitCooldownMs = 30_000;
export const circuitCooldownMsMax = 600_000;
/** How long a probe holds a half-open circuit; a worker that dies mid-probe frees it after this. */
export const circuitProbeLeaseMs = 60_000;
export const circuitsListedMax = 100;

/** What the worker may do with a message of this circuit now. */
export type CircuitAdmission = 'deliver' | 'probe' | 'defer';

/** The cooldown after the circuit opened `trips` times in a row without a success in between. */
export function circuitCooldownAfter(trips: number): number {
  assert(Number.isSafeInteger(trips) && trips >= 1, `a cooldown follows at least one opening (got ${trips})`);
  return Math.min(circuitCooldownMs * 2 ** Math.min(trips - 1, 30), circuitCooldownMsMax);
}

// Read before and after every delivery: built and compiled once (issue #9).
const circuitByKey = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; circuitKey: string }>) => db
  .selectFrom('channel_circuits').selectAll().where('merchant_id', '=', param('merchantId')).where('circuit_key', '=', param('circuitKey')));

async function findCircuit(db: Queryable, event: Pick<OutboxEvent, 'merchant_id' | 'circuit_key'>) {
  const [circuit] = await circuitByKey.execute(db, { merchantId: event.merchant_id, circuitKey: event.circuit_key });
  return circuit;
}

/**
 * Decides whether a message may be delivered: yes on a closed circuit; no while it is open; once
 * the cooldown is over, exactly one worker (of any process) takes the probe by a conditional update
 * and the others wait for its outcome.
 */
export async function admitDelivery(db: Queryable, event: Pick<OutboxEvent, 'merchant_id' | 'circuit_key'>): Promise<CircuitAdmission> {
  const circuit = await findCircuit(db, event);
  if (!circuit || circuit.state === 'closed') return 'deliver';
  assert(circuit.open_until !== null, `circuit ${circuit.circuit_key} is ${circuit.state} until a time`);
  const now = nowIso();
  if (circuit.open_until > now) return 'defer';
  const taken = await db
    .updateTable('channel_circuits')
    .set({ state: 'half_open', open_until: isoAfter(circuitProbeLeaseMs), updated_at: now })
    .where('merchant_id', '=', event.merchant_id)
    .where('circuit_key', '=', event.circuit_key)
    .where('state', '=', circuit.state)
    .where('open_until', '=', circuit.open_until)
    .executeTakeFirst();
  return Number(taken.numUpdatedRows) === 1 ? 'probe' : 'defer';
}

/**
 * A delivery went through: the circuit is closed and its count of failures starts again. Reads
 * first, so the usual success on a healthy circuit writes nothing. True when it was not closed.
 */
export async function recordCircuitSuccess(db: Queryable, event: Pick<OutboxEvent, 'merchant_id' | 'circuit_key'>): Promise<boolean> {
  const circuit = await findCircuit(db, event);
  if (!circuit || (circuit.state === 'closed' && circuit.consecutive_failures === 0)) return false;
  await db
    .updateTable('channel_circuits')
    .set({ state: 'closed', consecutive_failures: 0, trips: 0, open_until: null, opened_at: null, updated_at: nowIso() })
    .where('merchant_id', '=', event.merchant_id)
    .where('circuit_key', '=', event.circuit_key)
    .execute();
  return circuit.state !== 'closed';
}

/**
 * Counts a failed attempt on the circuit and returns its state after it, and whether this failure
 * opened it: a failed probe opens it again with a doubled cooldown; the failure that reaches
 * `circuitFailuresToOpen` opens a closed one.
 */
export async function recordCircuitFailure(db: Queryable, event: Pick<OutboxEvent, 'merchant_id' | 'circuit_key' | 'destination'>, error: string, probe: boolean): Promise<{ state: CircuitState; opened: boolean }> {
  const now = nowIso();
  const counted = await db
    .insertInto('channel_circuits')
    .values({ merchant_id: event.merchant_id, circuit_key: event.circuit_key, destination: event.destination, state: 'closed', consecutive_failures: 1, trips: 0, open_until: null, opened_at: null, last_error: error, updated_at: now })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'circuit_key']).doUpdateSet((eb) => ({ consecutive_failures: eb('channel_circuits.consecutive_failures', '+', 1), last_error: error, updated_at: now })))
    .returning(['state', 'consecutive_failures', 'trips'])
    .executeTakeFirstOrThrow();
  const before = counted.state as CircuitState;
  const opensNow = probe ? before === 'half_open' : before === 'closed' && counted.consecutive_failures >= circuitFailuresToOpen;
  if (!opensNow) return { state: before, opened: false };
  const trips = counted.trips + 1;
  const opened = await db
    .updateTable('channel_circuits')
    .set((eb) => ({ state: 'open', trips, open_until: isoAfter(circuitCooldownAfter(trips)), opened_at: eb.fn.coalesce('opened_at', eb.val(now)), updated_at: now }))
    .where('merchant_id', '=', event.merchant_id)
    .where('circuit_key', '=', event.circuit_key)
    .where('state', '=', before)
    .where('trips', '=', counted.trips)
    .executeTakeFirst();
  // Another worker moved the circuit meanwhile (its own failure opened it, or a success closed it).
  return Number(opened.numUpdatedRows) === 1 ? { state: 'open', opened: true } : { state: before, opened: false };
}

export interface CircuitView {
  circuit_key: string;
  destination: string;
  state: CircuitState;
  consecutive_failures: number;
  /** Openings in a row without a success; the cooldown doubles with each. */
  trips: number;
  /** Until when nothing is attempted (the cooldown, or a probe's lease); null when closed. */
  open_until: string | null;
  opened_at: string | null;
  last_error: string | null;
  updated_at: string;
}

/** A merchant's circuits that are not plainly healthy (open, half-open, or closed with recent failures), at most `circuitsListedMax`. */
export async function listChannelCircuits(db: Queryable, merchantId: string): Promise<CircuitView[]> {
  const rows = await db
    .selectFrom('channel_circuits')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where((eb) => eb.or([eb('state', '<>', 'closed'), eb('consecutive_failures', '>', 0)]))
    .orderBy('circuit_key')
    .limit(circuitsListedMax)
    .execute();
  return rows.map((row) => ({
    circuit_key: row.circuit_key, destination: row.destination, state: row.state as CircuitState, consecutive_failures: row.consecutive_failures, trips: row.trips,
    open_until: row.open_until, opened_at: row.opened_at, last_error: row.last_error, updated_at: row.updated_at,
  }));
}
