import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../shared/app-error.ts';
import { classifyStorageError, createStorageHealth, toStorageUnavailable } from './storage-errors.ts';

// Which database errors are "the storage cannot take this now" (503, send again) and which stay
// what they are (a constraint or a bug): the classification behind issue #9's outage handling.

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

test('SQLite full, I/O, busy, read-only and cannot-open errors are storage failures, each with its reason', () => {
  assert.equal(classifyStorageError(withCode('database or disk is full', 'SQLITE_FULL')), 'disk_full');
  assert.equal(classifyStorageError(withCode('disk I/O error', 'SQLITE_IOERR_WRITE')), 'io_error');
  assert.equal(classifyStorageError(withCode('database is locked', 'SQLITE_BUSY')), 'busy');
  assert.equal(classifyStorageError(withCode('attempt to write a readonly database', 'SQLITE_READONLY_DBMOVED')), 'read_only');
  assert.equal(classifyStorageError(withCode('unable to open database file', 'SQLITE_CANTOPEN')), 'cannot_open');
});

test('PostgreSQL down, restarting or out of room is a storage failure: refused connections (also as an AggregateError), lost sockets, SQLSTATE 08, 57P01-57P03, 53 and 58', () => {
  assert.equal(classifyStorageError(new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED'), withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')], '')), 'unreachable');
  assert.equal(classifyStorageError(withCode('read ECONNRESET', 'ECONNRESET')), 'connection_lost');
  assert.equal(classifyStorageError(new Error('Connection terminated unexpectedly')), 'connection_lost');
  assert.equal(classifyStorageError(new Error('timeout exceeded when trying to connect')), 'unreachable');
  assert.equal(classifyStorageError(withCode('terminating connection due to administrator command', '57P01')), 'server_starting_or_stopping');
  assert.equal(classifyStorageError(withCode('the database system is starting up', '57P03')), 'server_starting_or_stopping');
  assert.equal(classifyStorageError(withCode('connection failure', '08006')), 'connection_lost');
  assert.equal(classifyStorageError(withCode('could not extend file: No space left on device', '53100')), 'disk_full');
  assert.equal(classifyStorageError(withCode('sorry, too many clients already', '53300')), 'out_of_resources');
  assert.equal(classifyStorageError(withCode('could not write block', '58030')), 'io_error');
  assert.equal(classifyStorageError(new Error('wrapped', { cause: withCode('database or disk is full', 'SQLITE_FULL') })), 'disk_full', 'a cause is followed');
});

test('constraint violations, bad input, bugs and non-errors are not storage failures', () => {
  assert.equal(classifyStorageError(withCode('duplicate key value violates unique constraint', '23505')), undefined);
  assert.equal(classifyStorageError(withCode('UNIQUE constraint failed: orders.id', 'SQLITE_CONSTRAINT_UNIQUE')), undefined);
  assert.equal(classifyStorageError(withCode('invalid byte sequence for encoding "UTF8": 0x00', '22021')), undefined);
  assert.equal(classifyStorageError(new TypeError('Cannot read properties of undefined')), undefined);
  assert.equal(classifyStorageError('SQLITE_FULL'), undefined);
  assert.equal(toStorageUnavailable(new AppError('orders.not_found', 'No order')), undefined);
  const unavailable = toStorageUnavailable(withCode('database or disk is full', 'SQLITE_FULL'));
  assert.equal(unavailable?.code, 'storage.unavailable');
  assert.deepEqual(unavailable?.details, { reason: 'disk_full' }, 'the reason is told; the database\'s own message stays in the log');
});

test('the storage health remembers a failure for a while, forgets it after a successful write or by itself', () => {
  let now = 1_000_000;
  const health = createStorageHealth(() => now, 10_000);
  assert.equal(health.recentFailure(), undefined);
  health.noteFailure('disk_full');
  assert.deepEqual(health.recentFailure(), { reason: 'disk_full', atMs: 1_000_000 });
  now += 10_001;
  assert.equal(health.recentFailure(), undefined, 'forgotten after the memory');
  health.noteFailure('unreachable');
  health.noteSuccess();
  assert.equal(health.recentFailure(), undefined, 'a write that committed clears it');
});
