import type { Queryable } from '../db/index.ts';
import { nowMs } from '../shared/clock.ts';
import type { SyncGaugeReader } from '../shared/metrics.ts';
import { activeExceptionStates } from './exceptions.ts';
import type { InboxSource } from './inbox.ts';

const inboxSources: readonly InboxSource[] = ['shopify', 'square', 'pos'];

function secondsSince(timestamp: string | undefined, now: number): number {
  return timestamp === undefined ? 0 : Math.max(0, (now - Date.parse(timestamp)) / 1000);
}

/**
 * The queries behind the sync gauges, each bounded: the lag gauges read one row per source or
 * destination through the due indexes (ordered by due time, `limit 1`); the counts group small
 * sets (active exceptions by kind on their index, circuits).
 */
export function createSyncGaugeReader(db: Queryable, destinations: readonly string[]): SyncGaugeReader {
  return {
    async inboxLagSeconds() {
      const now = nowMs();
      const nowText = new Date(now).toISOString();
      const lags: Record<string, number> = {};
      for (const source of inboxSources) {
        const oldest = await db.selectFrom('inbox_events').select('available_at').where('status', '=', 'received').where('available_at', '<=', nowText).where('source', '=', source).orderBy('available_at').limit(1).executeTakeFirst();
        lags[source] = secondsSince(oldest?.available_at, now);
      }
      return lags;
    },
    async outboxLagSeconds() {
      const now = nowMs();
      const nowText = new Date(now).toISOString();
      const lags: Record<string, number> = {};
      for (const destination of destinations) {
        const oldest = await db.selectFrom('outbox_events').select('next_attempt_at').where('status', '=', 'pending').where('destination', '=', destination).where('next_attempt_at', '<=', nowText).orderBy('next_attempt_at').limit(1).executeTakeFirst();
        lags[destination] = secondsSince(oldest?.next_attempt_at, now);
      }
      return lags;
    },
    async activeExceptions() {
      const rows = await db.selectFrom('exceptions').select('kind').select((eb) => eb.fn.countAll<number>().as('count')).where('state', 'in', activeExceptionStates).groupBy('kind').execute();
      return Object.fromEntries(rows.map((row) => [row.kind, Number(row.count)]));
    },
    async circuits() {
      const rows = await db.selectFrom('channel_circuits').select(['destination', 'state']).select((eb) => eb.fn.countAll<number>().as('count')).groupBy(['destination', 'state']).execute();
      // Every known destination reports open and half-open circuits, zero included, so an alert has a series to watch.
      const counts = new Map<string, number>();
      for (const destination of destinations) for (const state of ['open', 'half_open']) counts.set(`${destination}\u0000${state}`, 0);
      for (const row of rows) counts.set(`${row.destination}\u0000${row.state}`, Number(row.count));
      return [...counts].map(([key, count]) => {
        const [destination = '', state = ''] = key.split('\u0000');
        return { destination, state, count };
      });
    },
  };
}
