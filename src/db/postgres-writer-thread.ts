import { createRequire } from 'node:module';
import { createUnitThread } from './unit-thread.ts';
import type { ThreadWriteOutcome, ThreadWriteUnit, WriterThread } from './writer-thread.ts';

/**
 * Runs the webhook inbox's write units (writer-thread.ts: checks, one read, one write) on a
 * PostgreSQL connection of their own, on a thread of its own.
 *
 * A batch of webhooks is five round trips (BEGIN, the account's guard, the last queue position,
 * the INSERT, COMMIT). On the engine's event loop each waited its turn behind the requests being
 * read and verified: under 256 concurrent deliveries a batch of 128 took 13 ms, 3 of them for the
 * BEGIN alone, and the loop sat 27 % idle waiting for it (issue #9, bench/webhook-ingest.ts,
 * measured 2026-11-28). On a thread whose loop does nothing else a round trip is answered as soon
 * as the server answers it, and the INSERT's 17 parameters an event are serialized there too.
 *
 * Statements run as named prepared statements (parsed and planned once per connection, as
 * postgres-prepared.ts does for the engine's pool), up to `statementsMax` texts, unless
 * DATABASE_URL turns them off (`prepared_statements=off`, for a pooler that does not track them). A unit that fails
 * on a connection that broke (the server restarted, the network) is rejected with pg's error, whose
 * code or message the engine already classifies as the storage being unavailable; the next unit
 * opens a new connection, so the thread recovers when the server does, without a restart.
 */

const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const pg = require(workerData.driverPath);
let client;
let names = new Map();
function drop(broken) {
  if (client !== broken) return;
  client = undefined;
  broken.end().catch(() => undefined);
}
async function connected() {
  if (client) return client;
  const opened = new pg.Client(workerData.config);
  // A connection the server closes emits 'error' (with or without a query running): it is dropped
  // and the next unit opens another.
  opened.on('error', () => drop(opened));
  try {
    await opened.connect();
  } catch (error) {
    opened.end().catch(() => undefined);
    throw error;
  }
  client = opened;
  names = new Map();
  return opened;
}
function statement(sql, values) {
  let name = names.get(sql);
  if (name === undefined && names.size < workerData.statementsMax) {
    name = 'continuum_writer_' + (names.size + 1);
    names.set(sql, name);
  }
  return name === undefined ? { text: sql, values } : { name, text: sql, values };
}
const isReadPlus = (value) => value !== null && typeof value === 'object' && typeof value.readPlus === 'number';
async function run(unit) {
  const connection = await connected();
  try {
    await connection.query('begin');
    const failedChecks = [];
    for (const check of unit.checks) {
      if ((await connection.query(statement(check.sql, check.parameters))).rows.length === 0) failedChecks.push(check.key);
    }
    if (failedChecks.length > 0) {
      await connection.query('rollback');
      return { written: false, failedChecks };
    }
    let base = 0;
    if (unit.read) {
      const row = (await connection.query(statement(unit.read.sql, unit.read.parameters))).rows[0];
      base = row === undefined ? 0 : Number(Object.values(row)[0]);
    }
    const parameters = unit.write.parameters.map((value) => (isReadPlus(value) ? base + value.readPlus : value));
    const written = await connection.query(statement(unit.write.sql, parameters));
    await connection.query('commit');
    return { written: true, rows: written.rows };
  } catch (error) {
    // The transaction is rolled back; a connection that cannot even do that is dropped.
    await connection.query('rollback').catch(() => drop(connection));
    throw error;
  }
}
let queue = Promise.resolve();
parentPort.on('message', (message) => {
  queue = queue.then(async () => {
    if (message.type === 'close') {
      if (client) await client.end().catch(() => undefined);
      parentPort.close();
      return;
    }
    try {
      parentPort.postMessage({ id: message.id, ok: true, outcome: await run(message.unit) });
    } catch (error) {
      parentPort.postMessage({ id: message.id, ok: false, code: error && error.code, message: String(error && error.message || error) });
    }
  });
});
`;

/** The thread connection's `application_name`. */
export const postgresWriterThreadName = 'continuum-writer-thread';

// Named statements kept per connection: the inbox's insert has one text per batch size.
const threadStatementsMax = 300;

/** What the thread's connection is opened with: the engine pool's own settings (database.ts). */
export interface PostgresThreadConnection {
  connectionString: string;
  connectionTimeoutMillis: number;
  options?: string;
}

/**
 * The writer thread for a PostgreSQL database, started at its first unit. Its failures are
 * reported with SQLSTATE class 08 codes (connection exception), which the engine answers 503.
 */
export function createPostgresWriterThread(config: PostgresThreadConnection, options: { prepared: boolean }): WriterThread {
  const driverPath = createRequire(import.meta.url).resolve('pg');
  return createUnitThread<ThreadWriteUnit, ThreadWriteOutcome>({
    name: 'the writer thread',
    source: workerSource,
    // Named in pg_stat_activity, for an operator (and a test) to tell the thread's connection apart.
    workerData: { config: { ...config, application_name: postgresWriterThreadName }, driverPath, statementsMax: options.prepared ? threadStatementsMax : 0 },
    codes: { cannotStart: '08006', exited: '08006', notRunning: '08003' },
  });
}
