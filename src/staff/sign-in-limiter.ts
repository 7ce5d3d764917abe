import { nowMs } from '../shared/clock.ts';

// Failed sign-ins are counted per email and client address: after `signInFailuresMax` failures
// within `signInWindowMs` of the first, that pair is refused until the window ends, whatever the
// password, so a password cannot be guessed quickly. The count lives in this process's memory:
// with several engine processes each counts its own (an attacker gets that many times the tries),
// and a restart forgets it. A success clears the pair's count.

export const signInFailuresMax = 10;
export const signInWindowMs = 15 * 60 * 1000;
/** Pairs tracked at once; past this the oldest is forgotten, so a flood of names cannot grow memory. */
export const signInPairsTrackedMax = 10_000;

export interface SignInLimiter {
  /** Seconds until the pair may try again; 0 when it may now. */
  retryAfterSeconds(key: string): number;
  recordFailure(key: string): void;
  clear(key: string): void;
}

export function createSignInLimiter(): SignInLimiter {
  const failures = new Map<string, { firstAtMs: number; count: number }>();
  const current = (key: string) => {
    const entry = failures.get(key);
    if (entry && nowMs() - entry.firstAtMs >= signInWindowMs) {
      failures.delete(key);
      return undefined;
    }
    return entry;
  };
  return {
    retryAfterSeconds(key) {
      const entry = current(key);
      if (!entry || entry.count < signInFailuresMax) return 0;
      return Math.max(1, Math.ceil((entry.firstAtMs + signInWindowMs - nowMs()) / 1000));
    },
    recordFailure(key) {
      const entry = current(key);
      if (entry) {
        entry.count += 1;
        return;
      }
      if (failures.size >= signInPairsTrackedMax) failures.delete(failures.keys().next().value!);
      failures.set(key, { firstAtMs: nowMs(), count: 1 });
    },
    clear(key) {
      failures.delete(key);
    },
  };
}
