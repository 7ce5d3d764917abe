import { sql, type RawBuilder } from 'kysely';
import type { Queryable } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { nowMs } from '../shared/clock.ts';

// How each channel's sync has gone hour by hour (issue #8, the operations console), read from the
// inbox and the outbox themselves, grouped by the hour of a stored ISO timestamp (`substr(x, 1, 13)`
// is `2026-11-26T14` on both databases). The rows keep their latest state only, so each figure is
// counted at one moment of a row's life: received and failed inbound events at the hour they
// arrived, processed ones when they were applied; delivered messages when they were delivered,
// retried ones at the hour they were queued, and dead ones at the hour they were given up (kept in
// next_attempt_at, src/sync/outbox.ts).

export const syncHealthHoursDefault = 24;
/** A week: the chart's longest span, and a bound on the rows grouped. */
export const syncHealthHoursMax = 168;
const hourMs = 3_600_000;
/** How far back `GET /v1/sync/status` counts settled events and delivered messages (what waits and what died: all of it). */
export const settledCountWindowMs = 24 * hourMs;

export type CircuitHealth = 'closed' | 'half_open' | 'open';

export interface SyncHealthHour {
  /** The hour's start, UTC (`2026-11-26T14:00:00.000Z`). */
  hour: string;
  inbound_received: number;
  inbound_processed: number;
  inbound_failed: number;
  outbound_delivered: number;
  outbound_retried: number;
  outbound_dead: number;
}

export interface ChannelSyncHealth {
  /** `shopify`, `square`, `merchant_webhook` (the merchant's own subscribers), ... */
  channel: string;
  hours: SyncHealthHour[];
  /** Age of the oldest event or message still waiting (inbound not applied, outbound not delivered); 0 when none waits. */
  lag_seconds_now: number;
  /** Waiting now: inbound events not applied yet plus outbound messages not delivered yet. */
  pending: number;
  /** Given up on, now: outbound messages dead-lettered plus inbound events that failed every attempt. */
  dead: number;
  /** The worst state of the channel's circuit breakers (`closed` when it has none). */
  circuit: CircuitHealth;
}

type Figure = Exclude<keyof SyncHealthHour, 'hour'>;

const hourOf = (column: string): RawBuilder<string> => sql<string>`substr(${sql.ref(column)}, 1, 13)`;

function emptyHours(startMs: number, hours: number): SyncHealthHour[] {
  return Array.from({ length: hours }, (_, index) => ({
    hour: new Date(startMs + index * hourMs).toISOString(), inbound_received: 0, inbound_processed: 0, inbound_failed: 0, outbound_delivered: 0, outbound_retried: 0, outbound_dead: 0,
  }));
}

function count(value: unknown): number {
  const number = Number(value ?? 0);
  assert(Number.isSafeInteger(number), `a count ${String(value)} is a safe integer`);
  return number;
}

/**
 * The last `hours` hours (the current one included) of every channel that has sync traffic or a
 * circuit, with what waits and what died now: eight grouped queries and the circuits, each reading
 * the rows of its window or what is open now, however long the history.
 */
export async function readSyncHealth(db: Queryable, merchantId: string, hours: number): Promise<ChannelSyncHealth[]> {
  assert(Number.isSafeInteger(hours) && hours >= 1 && hours <= syncHealthHoursMax, `sync health covers 1 to ${syncHealthHoursMax} hours`);
  const now = nowMs();
  const startMs = Math.floor(now / hourMs) * hourMs - (hours - 1) * hourMs;
  const startIso = new Date(startMs).toISOString();
  const channels = new Map<string, ChannelSyncHealth>();
  const channelOf = (channel: string) => {
    let health = channels.get(channel);
    if (!health) channels.set(channel, (health = { channel, hours: emptyHours(startMs, hours), lag_seconds_now: 0, pending: 0, dead: 0, circuit: 'closed' }));
    return health;
  };
  const add = (rows: { channel: string; hour: string; count: unknown }[], figure: Figure) => {
    for (const row of rows) {
      const index = Math.round((Date.parse(`${row.hour}:00:00.000Z`) - startMs) / hourMs);
      const slot = channelOf(row.channel).hours[index];
      if (slot) slot[figure] += count(row.count);
    }
  };

  const window = { merchantId, fromIso: startIso, toIso: new Date(startMs + hours * hourMs).toISOString() };
  add(await countInboundByHour(db, window, 'received_at', null), 'inbound_received');
  add(await countInboundByHour(db, window, 'processed_at', ['processed', 'ignored']), 'inbound_processed');
  add(await countInboundByHour(db, window, 'received_at', ['failed']), 'inbound_failed');
  add(await countOutboundByHour(db, window, 'delivered_at', { status: 'delivered' }), 'outbound_delivered');
  add(await countOutboundByHour(db, window, 'created_at', { retried: true }), 'outbound_retried');
  add(await countOutboundByHour(db, window, 'next_attempt_at', { status: 'dead' }), 'outbound_dead');

  await addCurrentState(db, merchantId, now, channelOf);
  return [...channels.values()].sort((a, b) => a.channel.localeCompare(b.channel));
}

/**
 * The hours read: a merchant's rows whose time column falls in [fromIso, toIso). Bounded on both
 * sides so SQLite's planner, which counts a one-sided range as a quarter of the table, reads the
 * time indexes of migration 0019 and only the rows of the window.
 */
interface HourWindow {
  merchantId: string;
  fromIso: string;
  toIso: string;
}

/** Inbound events per source and hour of `timeColumn` in the window, of the given statuses (null: all). */
function countInboundByHour(db: Queryable, window: HourWindow, timeColumn: 'received_at' | 'processed_at', statuses: string[] | null) {
  let query = db.selectFrom('inbox_events').select((eb) => [eb.ref('source').as('channel'), hourOf(timeColumn).as('hour'), eb.fn.countAll().as('count')])
    .where('merchant_id', '=', window.merchantId).where(timeColumn, '>=', window.fromIso).where(timeColumn, '<', window.toIso);
  if (statuses) query = query.where('status', 'in', statuses);
  return query.groupBy(['source', hourOf(timeColumn)]).execute();
}

/** Outbound messages per destination and hour of `timeColumn` in the window: of a status, or those retried at least once. */
function countOutboundByHour(db: Queryable, window: HourWindow, timeColumn: 'created_at' | 'delivered_at' | 'next_attempt_at', filter: { status?: string; retried?: boolean }) {
  let query = db.selectFrom('outbox_events').select((eb) => [eb.ref('destination').as('channel'), hourOf(timeColumn).as('hour'), eb.fn.countAll().as('count')])
    .where('merchant_id', '=', window.merchantId).where(timeColumn, '>=', window.fromIso).where(timeColumn, '<', window.toIso);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.retried) query = query.where('attempts', '>', 0);
  return query.groupBy(['destination', hourOf(timeColumn)]).execute();
}

const circuitSeverity: Record<CircuitHealth, number> = { closed: 0, half_open: 1, open: 2 };

async function addCurrentState(db: Queryable, merchantId: string, now: number, channelOf: (channel: string) => ChannelSyncHealth): Promise<void> {
  const lagOf = (oldest: string | null) => (oldest ? Math.max(0, Math.floor((now - Date.parse(oldest)) / 1000)) : 0);
  // What waits and what died, grouped by status first: grouped by channel first, SQLite's planner
  // chose an index that sorts by channel and read every row of the merchant (issue #9).
  const openIn = await db.selectFrom('inbox_events').select((eb) => ['status', 'source as channel', eb.fn.countAll().as('count'), eb.fn.min('received_at').as('oldest')])
    .where('status', 'in', ['received', 'failed']).where('merchant_id', '=', merchantId).groupBy(['status', 'source']).execute();
  const openOut = await db.selectFrom('outbox_events').select((eb) => ['status', 'destination as channel', eb.fn.countAll().as('count'), eb.fn.min('created_at').as('oldest')])
    .where('merchant_id', '=', merchantId).where('status', 'in', ['pending', 'delivering', 'dead']).groupBy(['status', 'destination']).execute();
  for (const row of [...openIn, ...openOut]) {
    const health = channelOf(row.channel);
    if (row.status === 'failed' || row.status === 'dead') {
      health.dead += count(row.count);
    } else {
      health.pending += count(row.count);
      health.lag_seconds_now = Math.max(health.lag_seconds_now, lagOf(row.oldest));
    }
  }
  const circuits = await db.selectFrom('channel_circuits').select(['destination', 'state']).where('merchant_id', '=', merchantId).where('state', '<>', 'closed').execute();
  for (const circuit of circuits) {
    const health = channelOf(circuit.destination);
    const state = circuit.state as CircuitHealth;
    if ((circuitSeverity[state] ?? 0) > circuitSeverity[health.circuit]) health.circuit = state;
  }
}
