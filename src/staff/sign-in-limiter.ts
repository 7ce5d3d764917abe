import { createHash } from 'node:crypto';
import type { Queryable } from '../db/index.ts';
import { nowIso, nowMs } from '../shared/clock.ts';

// Failed sign-ins are counted per email and client address: after `signInFailuresMax` failures
// within `signInWindowMs` of the first, that pair is refused until the window ends, whatever the
// password, so a password cannot be guessed quickly. The count is kept in the database
// (`sign_in_failures`), so every engine process sharing it counts the same failures and a restart
// forgets none; the pair is stored as its SHA-256 only. A success clears the pair's count.

export const signInFailuresMax = 10;
export const signInWindowMs = 15 * 60 * 1000;

export interface SignInLimiter {
  /** Seconds until the pair may try again; 0 when it may now. */
  retryAfterSeconds(key: string): Promise<number>;
  recordFailure(key: string): Promise<void>;
  clear(key: string): Promise<void>;
}

function hashOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function windowStartIso(): string {
  return new Date(nowMs() - signInWindowMs).toISOString();
}

export function createSignInLimiter(db: Queryable): SignInLimiter {
  return {
    async retryAfterSeconds(key) {
      const row = await db.selectFrom('sign_in_failures').select(['first_failed_at', 'failures']).where('key_hash', '=', hashOf(key)).executeTakeFirst();
      if (!row || row.failures < signInFailuresMax) return 0;
      const endsAtMs = Date.parse(row.first_failed_at) + signInWindowMs;
      return endsAtMs <= nowMs() ? 0 : Math.max(1, Math.ceil((endsAtMs - nowMs()) / 1000));
    },
    async recordFailure(key) {
      const windowStart = windowStartIso();
      // One statement, so two processes counting the same pair at once both count: a window that
      // has ended starts again at this failure.
      await db.insertInto('sign_in_failures')
        .values({ key_hash: hashOf(key), first_failed_at: nowIso(), failures: 1 })
        .onConflict((conflict) => conflict.column('key_hash').doUpdateSet((eb) => ({
          failures: eb.case().when('sign_in_failures.first_failed_at', '<=', windowStart).then(1).else(eb('sign_in_failures.failures', '+', 1)).end(),
          first_failed_at: eb.case().when('sign_in_failures.first_failed_at', '<=', windowStart).then(eb.ref('excluded.first_failed_at')).else(eb.ref('sign_in_failures.first_failed_at')).end(),
        })))
        .execute();
      // Pairs whose window has ended are forgotten, so a flood of made-up emails cannot grow the table.
      await db.deleteFrom('sign_in_failures').where('first_failed_at', '<=', windowStart).execute();
    },
    async clear(key) {
      await db.deleteFrom('sign_in_failures').where('key_hash', '=', hashOf(key)).execute();
    },
  };
}
