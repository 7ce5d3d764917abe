import { AppError } from '../shared/app-error.ts';

// Which database errors mean "the storage cannot take this now" rather than "this request or our
// code is wrong" (issue #9). Those become `storage.unavailable` (503, with the error shape): the
// request wrote nothing (its transaction was rolled back, or never began), the caller may send it
// again, and the engine serves again by itself once the disk has room or the server is back, with
// no restart. Everything else stays what it was (a bug is still a 500).
//
// SQLite (better-sqlite3's SqliteError `code`): SQLITE_FULL (disk or max_page_count), SQLITE_IOERR_*
// (the disk failed a read or write), SQLITE_BUSY_* (another process held the write lock past
// busy_timeout), SQLITE_READONLY_*, SQLITE_CANTOPEN. PostgreSQL (pg): the socket errors of a server
// that is down or went away (ECONNREFUSED, ECONNRESET, ...), pg's own "Connection terminated"
// errors, and the SQLSTATE classes 08 (connection exception), 57P01–57P03 (the server is shutting
// down or starting), 53 (insufficient resources: disk full, out of memory, too many connections)
// and 58 (system error: I/O).

/** Why the storage is unavailable, as told to the caller in `details.reason`. */
export type StorageUnavailableReason = 'disk_full' | 'io_error' | 'busy' | 'read_only' | 'cannot_open' | 'unreachable' | 'connection_lost' | 'server_starting_or_stopping' | 'out_of_resources';

const sqliteReasons: [prefix: string, reason: StorageUnavailableReason][] = [
  ['SQLITE_FULL', 'disk_full'],
  ['SQLITE_IOERR', 'io_error'],
  ['SQLITE_BUSY', 'busy'],
  ['SQLITE_READONLY', 'read_only'],
  ['SQLITE_CANTOPEN', 'cannot_open'],
];

const socketReasons: Record<string, StorageUnavailableReason> = {
  ECONNREFUSED: 'unreachable',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ENOTFOUND: 'unreachable',
  ETIMEDOUT: 'unreachable',
  EAI_AGAIN: 'unreachable',
  ECONNRESET: 'connection_lost',
  EPIPE: 'connection_lost',
};

// pg reports a socket closed under it, and a pool that could not connect in time, by message only.
const pgMessageReasons: [pattern: RegExp, reason: StorageUnavailableReason][] = [
  [/^Connection terminated/i, 'connection_lost'],
  [/Client has encountered a connection error and is not queryable/i, 'connection_lost'],
  [/timeout exceeded when trying to connect/i, 'unreachable'],
  [/Connection terminated due to connection timeout/i, 'unreachable'],
];

function reasonOfSqlState(code: string): StorageUnavailableReason | undefined {
  if (!/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (code.startsWith('08')) return 'connection_lost';
  if (code === '57P01' || code === '57P02' || code === '57P03') return 'server_starting_or_stopping';
  if (code === '53100') return 'disk_full';
  if (code.startsWith('53')) return 'out_of_resources';
  if (code.startsWith('58')) return 'io_error';
  return undefined;
}

function reasonOfOne(error: unknown): StorageUnavailableReason | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    for (const [prefix, reason] of sqliteReasons) if (code.startsWith(prefix)) return reason;
    const socket = socketReasons[code];
    if (socket) return socket;
    const sqlState = reasonOfSqlState(code);
    if (sqlState) return sqlState;
  }
  for (const [pattern, reason] of pgMessageReasons) if (pattern.test(error.message)) return reason;
  return undefined;
}

/** Nesting followed at most when looking for the cause (an AggregateError of two addresses, a `cause`). */
const causeDepthMax = 4;

/**
 * Why `error` means the storage is unavailable, or undefined when it does not (a bug, a constraint,
 * bad input). Follows `cause` and an AggregateError's `errors` (Node reports a refused connection to
 * `localhost` as one per address).
 */
export function classifyStorageError(error: unknown, depth = 0): StorageUnavailableReason | undefined {
  if (depth > causeDepthMax) return undefined;
  const own = reasonOfOne(error);
  if (own) return own;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const reason = classifyStorageError(inner, depth + 1);
      if (reason) return reason;
    }
  }
  if (error instanceof Error && error.cause !== undefined) return classifyStorageError(error.cause, depth + 1);
  return undefined;
}

/** The `storage.unavailable` AppError for a storage failure, or undefined for any other error. */
export function toStorageUnavailable(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error.code === 'storage.unavailable' ? error : undefined;
  const reason = classifyStorageError(error);
  if (!reason) return undefined;
  return new AppError('storage.unavailable', 'The database cannot take this request now; nothing was written. Send it again shortly', { reason });
}

/**
 * What the engine last saw of its storage failing, for `/healthz`. A SQLite disk that is full still
 * answers reads, so a `select 1` alone would call it healthy; a failure seen in the last
 * `failureMemoryMs` makes the health check answer 503 too, until a write succeeds. It also forgets
 * by itself, so a load balancer that stopped sending requests still sees the engine recover.
 */
export interface StorageHealth {
  /** Records a storage failure seen now. */
  noteFailure(reason: StorageUnavailableReason | string): void;
  /** Records a write that committed: the storage takes writes again. */
  noteSuccess(): void;
  /** The last failure if it is recent, else undefined. */
  recentFailure(): { reason: string; atMs: number } | undefined;
}

export const storageFailureMemoryMs = 10_000;

export function createStorageHealth(nowMs: () => number = Date.now, failureMemoryMs = storageFailureMemoryMs): StorageHealth {
  let last: { reason: string; atMs: number } | undefined;
  return {
    noteFailure(reason) {
      last = { reason, atMs: nowMs() };
    },
    noteSuccess() {
      last = undefined;
    },
    recentFailure() {
      if (!last || nowMs() - last.atMs > failureMemoryMs) return undefined;
      return last;
    },
  };
}
