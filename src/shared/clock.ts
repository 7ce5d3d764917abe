/** Where the engine reads the time. The system clock in production; a test moves a test clock. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

/** A clock a test drives: it runs with real time, shifted by however far the test advanced it. */
export interface TestClock extends Clock {
  /** Moves the clock forward; time never goes back, so a negative step is a bug in the test. */
  advance(durationMs: number): void;
  /** Moves the clock forward to `timestampMs` (no step when it is already later). */
  advanceTo(timestampMs: number): void;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

let currentClock: Clock = systemClock;

/** The current time in milliseconds, from the installed clock. */
export function nowMs(): number {
  return currentClock.nowMs();
}

/** Timestamps are stored as ISO-8601 UTC text, which sorts correctly on both databases. */
export function nowIso(): string {
  return new Date(currentClock.nowMs()).toISOString();
}

/** The time `durationMs` from now, as stored. */
export function isoAfter(durationMs: number): string {
  return new Date(currentClock.nowMs() + durationMs).toISOString();
}

export function toIso(value: string | Date): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new Error(`Invalid timestamp: ${String(value)}`);
  return date.toISOString();
}

/** A clock that starts at real time and moves only forward, by the test's steps and with real time. */
export function createTestClock(): TestClock {
  let offsetMs = 0;
  const clock: TestClock = {
    nowMs: () => Date.now() + offsetMs,
    advance(durationMs: number): void {
      if (!Number.isFinite(durationMs) || durationMs < 0) throw new Error(`A test clock moves forward only (got ${durationMs} ms)`);
      offsetMs += durationMs;
    },
    advanceTo(timestampMs: number): void {
      clock.advance(Math.max(0, timestampMs - clock.nowMs()));
    },
  };
  return clock;
}

/**
 * Installs a clock for the whole process and returns what puts the previous one back. Only tests
 * call it: each test file runs in a process of its own, and a test restores the clock when it ends.
 * Code that still reads `Date.now()` directly does not follow it (the fakes' rate limits, for one).
 */
export function installClock(clock: Clock): () => void {
  const previous = currentClock;
  currentClock = clock;
  return () => {
    currentClock = previous;
  };
}
