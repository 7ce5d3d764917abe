import { AppError } from '../shared/app-error.ts';

/**
 * How old (or how far ahead of our clock) a channel's delivery time may be for a webhook to be
 * taken in. A signature proves who sent the bytes, not when: a request captured once could be sent
 * again for ever. The window bounds that. Defaults and the reasoning: `src/config.ts` and
 * `docs/inbox.md` ("Replay window").
 */
export interface ReplayWindow {
  /** A delivery time older than this is refused. */
  maxAgeMs: number;
  /** A delivery time further ahead of our clock than this is refused (clock skew allowed). */
  maxAheadMs: number;
}

/** The check of one delivery: where its time came from (for the error), and the window. */
export interface ReplayCheck {
  channel: 'shopify' | 'square';
  /** What carried the time, named in the refusal: a header or a body field. */
  field: string;
  /** The delivery time as the channel wrote it (ISO-8601); null when it sent none. */
  at: string | null;
  nowMs: number;
}

/**
 * Refuses (401 `connectors.<channel>.outside_replay_window`) a delivery whose time lies outside the
 * window; a delivery without a time, or a null window (turned off), passes. A time that does not
 * parse cannot be placed inside the window and is refused too.
 * Example: `checkReplayWindow({ channel: 'square', field: 'created_at', at: envelope.createdAt, nowMs: nowMs() }, window)`.
 */
export function checkReplayWindow(check: ReplayCheck, window: ReplayWindow | null): void {
  if (!window || check.at === null) return;
  const atMs = Date.parse(check.at);
  const ageMs = check.nowMs - atMs;
  if (Number.isFinite(atMs) && ageMs <= window.maxAgeMs && -ageMs <= window.maxAheadMs) return;
  throw new AppError(`connectors.${check.channel}.outside_replay_window`, `${check.field} ${JSON.stringify(check.at.slice(0, 64))} is outside the accepted window (at most ${window.maxAgeMs / 3_600_000} h old, ${window.maxAheadMs / 60_000} min ahead): refused as a possible replay`, {
    field: check.field, value: check.at.slice(0, 64), max_age_hours: window.maxAgeMs / 3_600_000, max_ahead_minutes: window.maxAheadMs / 60_000,
  });
}
