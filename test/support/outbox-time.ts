import type { Db } from '../../src/db/index.ts';
import type { TestClock } from '../../src/shared/clock.ts';
import type { TestEngine } from './engine-harness.ts';

// Drives the outbox through simulated time: jump the test clock to the next moment the outbox has
// something to do (a message falling due, a circuit's cooldown ending), drain the worker, repeat.
// An hour or a day of retries, backoff and circuit breakers then takes a few hundred rounds.

/** Rounds one drive runs at most: a day of the retry schedule with an open circuit takes a few hundred. */
const driveRoundsMax = 5_000;

/** The next moment after now when a waiting message falls due or a circuit's cooldown ends; undefined when nothing waits. */
export async function nextOutboxWakeMs(db: Db, nowMs: number): Promise<number | undefined> {
  const now = new Date(nowMs).toISOString();
  const message = await db.selectFrom('outbox_events').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('status', 'in', ['pending', 'delivering']).where('next_attempt_at', '>', now).executeTakeFirst();
  const circuit = await db.selectFrom('channel_circuits').select((eb) => eb.fn.min('open_until').as('at')).where('state', '<>', 'closed').where('open_until', '>', now).executeTakeFirst();
  const times = [message?.at, circuit?.at].filter((at): at is string => typeof at === 'string').map((at) => Date.parse(at));
  return times.length === 0 ? undefined : Math.min(...times);
}

export interface DriveOptions {
  /** Stop when simulated time reaches this (the worker has run at it). */
  untilMs: number;
  /** Stop earlier when this holds after a round. */
  stopWhen?: () => Promise<boolean>;
  /** Called after each round, for observations during the drive. */
  afterRound?: () => Promise<void>;
}

/** Runs the worker through simulated time; returns the number of rounds. */
export async function driveOutbox(harness: TestEngine, clock: TestClock, options: DriveOptions): Promise<number> {
  const db = harness.engine.database.db;
  await harness.engine.worker.drain();
  for (let round = 1; round <= driveRoundsMax; round += 1) {
    await options.afterRound?.();
    if (options.stopWhen && (await options.stopWhen())) return round;
    if (clock.nowMs() >= options.untilMs) return round;
    const wakeMs = await nextOutboxWakeMs(db, clock.nowMs());
    clock.advanceTo(Math.min(wakeMs === undefined ? options.untilMs : wakeMs + 1, options.untilMs));
    await harness.engine.worker.drain();
  }
  throw new Error(`the outbox was still busy after ${driveRoundsMax} rounds`);
}
