import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { seedDemoMerchant } from '../../src/demo/demo-merchant.ts';
import { createEngine, type Engine } from '../../src/engine.ts';
import { DIALECTS, openTestDatabase } from '../support/databases.ts';
import { testAdminKey, testPosKey, testShopDomain, testShopifySecret, testSquareMerchantRef, testSquareNotificationUrl, testSquareSignatureKey } from '../support/engine-harness.ts';
import { countEveryTable, describeCountChanges, findInvariantViolations, listTables, shopifyOrderBody, signedShopifyHeaders } from './fault-support.ts';

// Issue #9: the database goes away while the engine runs, and comes back. While it is away every
// request that needs it is refused with 503 `storage.unavailable` and the error shape (never a 500,
// never a 200 for a webhook that was not stored), nothing is half-written, /healthz says 503; when
// it is back the same engine process serves again, with no restart.
// - PostgreSQL: the engine reaches the server through a TCP proxy the test controls, so "the
//   server stops" is the proxy closing every connection and refusing new ones (the shared test
//   server itself is never stopped), and "the server terminates our backends" is
//   pg_terminate_backend (SQLSTATE 57P01) on the engine's connections.
// - SQLite: the disk fills up. As root, the database lives on a small tmpfs that a filler file
//   fills (a real ENOSPC under SQLite's WAL); without root, `PRAGMA max_page_count` caps the file
//   on the engine's connection, which fails writes with the same SQLITE_FULL.

const requestTimeoutMs = 10_000;
const saleAttemptsMax = 200;
const tmpfsSizeBytes = 8 * 1024 * 1024;
const fillChunkBytes = 64 * 1024;

interface Answer {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

async function inject(engine: Engine, method: 'GET' | 'POST', url: string, options: { key?: string; body?: unknown; raw?: Buffer; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await engine.server.inject({
    method, url,
    headers: { ...(options.key ? { authorization: `Bearer ${options.key}` } : {}), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : options.raw ? { payload: options.raw } : {}),
  });
  let body: unknown = response.body;
  try { body = JSON.parse(response.body); } catch { /* not JSON */ }
  return { status: response.statusCode, body, headers: response.headers };
}

function assertUnavailable(answer: Answer, what: string): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body?.error?.code, 'storage.unavailable', `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(typeof answer.body.error.message, 'string');
  assert.equal(typeof answer.body.error.details, 'object');
}

function sale(engine: Engine, storeId: string, saleId: string, headers: Record<string, string> = {}): Promise<Answer> {
  return inject(engine, 'POST', '/v1/pos/sales', { key: testPosKey, headers, body: { sale_id: saleId, register_id: 'outage', location_id: storeId, customer: { email: 'outage@example.com' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } });
}

function webhook(engine: Engine, index: number): Promise<Answer> {
  const body = shopifyOrderBody(8_200_000_000_000 + index, 7_600_000_000_000, 'outage@example.com');
  return inject(engine, 'POST', '/webhooks/shopify', { raw: body, headers: signedShopifyHeaders(body, 'orders/create', `outage-order-${index}`) });
}

const demoOptions = (adminApiUrl: string | null) => ({
  shopDomain: testShopDomain, shopifySecret: testShopifySecret, shopifyAdminApiUrl: adminApiUrl, shopifyAccessToken: null,
  squareMerchantRef: testSquareMerchantRef, squareSignatureKey: testSquareSignatureKey, squareNotificationUrl: testSquareNotificationUrl, adminApiKey: testAdminKey, posApiKey: testPosKey,
});

/** A TCP proxy to PostgreSQL whose "server" the test stops and starts on the same port. */
interface PostgresProxy {
  port: number;
  /** The ports of the proxy's own connections to PostgreSQL (pg_stat_activity.client_port of the engine's backends). */
  upstreamPorts(): number[];
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

async function startPostgresProxy(target: { host: string; port: number }): Promise<PostgresProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let server: Server | undefined;
  let port = 0;
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer((client) => {
      const upstream = createConnection(target);
      const pair = { client, upstream };
      pairs.add(pair);
      const end = () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      port = (server!.address() as { port: number }).port;
      resolve();
    });
  });
  const stop = async () => {
    const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const pair of [...pairs]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    pairs.clear();
    await closing;
    server = undefined;
  };
  await listen();
  return { get port() { return port; }, upstreamPorts: () => [...pairs].map((pair) => pair.upstream.localPort ?? 0).filter((value) => value > 0), stop, start: listen, close: stop };
}

async function startOutageEngine(t: TestContext, databaseUrl: string, postgresSchema?: string): Promise<Engine> {
  const engine = await createEngine({ databaseUrl, ...(postgresSchema ? { postgresSchema } : {}), logger: pino({ level: 'silent' }), startWorker: false });
  t.after(() => engine.close().catch(() => undefined));
  return engine;
}

if (DIALECTS.includes('postgres')) {
  test('[postgres] the server stops under a running engine: 503 storage.unavailable with the error shape, no webhook acknowledged, nothing half-written; it starts again and the same process serves', { timeout: 60_000 }, async (t) => {
    const database = await openTestDatabase('postgres');
    t.after(() => database.dispose());
    const target = new URL(database.url);
    const proxy = await startPostgresProxy({ host: target.hostname, port: Number(target.port || 5432) });
    t.after(() => proxy.close());
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    const demo = await seedDemoMerchant(database.handle.db, demoOptions(null));
    const engine = await startOutageEngine(t, proxied.toString(), database.postgresSchema);
    const db = database.handle.db;
    const tables = await listTables(db, 'postgres');

    assert.equal((await sale(engine, demo.store.id, 'UP-1')).status, 201);
    assert.equal((await webhook(engine, 1)).status, 200, 'the shop account is now kept in memory: the webhook route would not need the database to verify');
    const before = await countEveryTable(db, tables);

    await proxy.stop();
    assertUnavailable(await sale(engine, demo.store.id, 'DOWN-1'), 'a sale while the server is down');
    assertUnavailable(await sale(engine, demo.store.id, 'DOWN-2', { 'idempotency-key': 'down-key' }), 'a sale with an Idempotency-Key while the server is down');
    const refusedWebhook = await webhook(engine, 2);
    assertUnavailable(refusedWebhook, 'a webhook while the server is down (never a 200 for an event not stored)');
    assertUnavailable(await inject(engine, 'GET', '/v1/customers/lookup?q=outage%40example.com', { key: testPosKey }), 'a lookup');
    const health = await inject(engine, 'GET', '/healthz');
    assertUnavailable(health, '/healthz');
    assert.ok(['unreachable', 'connection_lost'].includes(health.body.error.details.reason), JSON.stringify(health.body));
    assert.equal((await sale(engine, demo.store.id, 'DOWN-3')).headers['retry-after'], '5', 'the caller is told when to come back');

    await proxy.start();
    assert.deepEqual(describeCountChanges(before, await countEveryTable(db, tables)), [], 'nothing of the refused requests was written');
    const again = await sale(engine, demo.store.id, 'DOWN-1');
    assert.equal(again.status, 201, `the same engine serves again: ${JSON.stringify(again.body)}`);
    assert.equal((await sale(engine, demo.store.id, 'DOWN-2', { 'idempotency-key': 'down-key' })).status, 201, 'the key of a refused request is free');
    assert.deepEqual((await webhook(engine, 2)).body, { received: true, duplicate: false }, 'the refused webhook was never stored: its retry is a first delivery');
    assert.deepEqual((await inject(engine, 'GET', '/healthz')).body, { status: 'ok', database: 'postgres' });

    // The server terminates the engine's backends (57P01): requests may fail with 503, never 500, and the pool reconnects.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    t.after(() => admin.end());
    const terminated = await admin.query('select count(pg_terminate_backend(pid)) as count from pg_stat_activity where client_port = any($1::int[]) and pid <> pg_backend_pid()', [proxy.upstreamPorts()]);
    assert.ok(Number(terminated.rows[0].count) >= 1, 'the engine had connections to terminate');
    const statuses: number[] = [];
    for (let index = 0; index < 20 && statuses.at(-1) !== 201; index += 1) {
      const answer = await sale(engine, demo.store.id, `AFTER-TERMINATE-${index}`);
      if (answer.status !== 201) assertUnavailable(answer, 'a sale right after the backends were terminated');
      statuses.push(answer.status);
    }
    assert.equal(statuses.at(-1), 201, `the pool reconnected: ${statuses.join(', ')}`);
    assert.deepEqual(await findInvariantViolations(db), []);
  });
}

/** Mounts a small tmpfs (root only); undefined when this machine does not allow it. */
function mountSmallDisk(t: TestContext): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const directory = mkdtempSync(join(tmpdir(), 'continuum-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsSizeBytes}`, 'tmpfs', directory], { stdio: 'ignore' });
  } catch {
    rmSync(directory, { recursive: true, force: true });
    return undefined;
  }
  t.after(() => {
    execFileSync('umount', ['-l', directory], { stdio: 'ignore' });
    rmSync(directory, { recursive: true, force: true });
  });
  return directory;
}

/** Writes a file until the disk refuses (ENOSPC); returns its path. */
function fillDisk(directory: string): string {
  const path = join(directory, 'filler');
  const descriptor = openSync(path, 'w');
  const chunk = Buffer.alloc(fillChunkBytes, 1);
  try {
    for (;;) writeSync(descriptor, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(descriptor);
  }
  return path;
}

interface DiskFull {
  description: string;
  engine: Engine;
  fill(): Promise<void>;
  free(): Promise<void>;
}

/** The page limit is a setting of each connection: the engine's own and its writer thread's (webhooks are stored there). */
async function capPages(engine: Engine, pages: number): Promise<void> {
  const pragma = `pragma max_page_count = ${pages}`;
  await sql.raw(pragma).execute(engine.database.db);
  await engine.database.writerThread?.run({ checks: [], write: { sql: pragma, parameters: [] } });
}

async function startDiskFullEngine(t: TestContext, kind: 'tmpfs' | 'max_page_count'): Promise<DiskFull | undefined> {
  if (kind === 'tmpfs') {
    const disk = mountSmallDisk(t);
    if (!disk) return undefined;
    mkdirSync(join(disk, 'db'));
    const engine = await startOutageEngine(t, `sqlite:${join(disk, 'db', 'engine.sqlite')}`);
    let filler: string | undefined;
    return {
      description: `a ${tmpfsSizeBytes / 1024 / 1024} MiB tmpfs filled by a file`, engine,
      // The WAL is emptied first, so the next commit must grow a file on the full disk.
      fill: async () => {
        await sql`pragma wal_checkpoint(TRUNCATE)`.execute(engine.database.db);
        filler = fillDisk(disk);
      },
      free: async () => { if (filler) rmSync(filler); },
    };
  }
  const database = await openTestDatabase('sqlite');
  t.after(() => database.dispose());
  const engine = await startOutageEngine(t, database.url);
  return {
    description: 'PRAGMA max_page_count on the engine\'s connections (its own and its writer thread\'s)', engine,
    fill: async () => {
      const pages = (await sql<{ page_count: number }>`pragma page_count`.execute(engine.database.db)).rows[0]!.page_count;
      await capPages(engine, pages);
    },
    free: () => capPages(engine, 1073741823),
  };
}

for (const kind of DIALECTS.includes('sqlite') ? (['tmpfs', 'max_page_count'] as const) : []) {
  test(`[sqlite] the disk fills up (${kind}) under a running engine: 503 storage.unavailable with the error shape, nothing half-written, /healthz 503; room again and the same process serves`, { timeout: 60_000 }, async (t) => {
    const started = await startDiskFullEngine(t, kind);
    if (!started) return t.skip('mounting a tmpfs needs root; the max_page_count variant covers SQLITE_FULL');
    const { description, engine, fill, free } = started;
    t.diagnostic(`disk full by ${description}`);
    const db = engine.database.db;
    const demo = await seedDemoMerchant(db, demoOptions(null));
    const tables = await listTables(db, 'sqlite');
    assert.equal((await sale(engine, demo.store.id, 'ROOM-1')).status, 201);
    assert.equal((await webhook(engine, 1)).status, 200);

    await fill();
    // Writes fail once one needs a page the disk cannot give; each answer is a 201 or a 503, and a 503 wrote nothing.
    const refused: string[] = [];
    const accepted: string[] = [];
    for (let attempt = 0; attempt < saleAttemptsMax && refused.length < 3; attempt += 1) {
      const before = await countEveryTable(db, tables);
      const saleId = `FULL-${attempt}`;
      const answer = await sale(engine, demo.store.id, saleId);
      if (answer.status === 201) {
        accepted.push(saleId);
        continue;
      }
      assertUnavailable(answer, `sale ${saleId} on a full disk`);
      assert.equal(answer.body.error.details.reason, 'disk_full', JSON.stringify(answer.body));
      assert.deepEqual(describeCountChanges(before, await countEveryTable(db, tables)), [], `the refused sale ${saleId} wrote nothing`);
      refused.push(saleId);
    }
    t.diagnostic(`${accepted.length} sales fitted in pages the database already had; ${refused.length} refused`);
    assert.ok(refused.length > 0, 'the full disk refused a write');
    const beforeWebhook = await countEveryTable(db, tables);
    assertUnavailable(await webhook(engine, 2), 'a webhook on a full disk (never a 200 for an event not stored)');
    assert.deepEqual(describeCountChanges(beforeWebhook, await countEveryTable(db, tables)), [], 'the refused webhook stored nothing');
    assertUnavailable(await inject(engine, 'GET', '/healthz'), '/healthz while writes are refused');
    // The worker applying the webhook stored before the disk filled: a storage failure is not an attempt of the event.
    await engine.worker.runOnce().catch(() => undefined);
    const [waiting] = await db.selectFrom('inbox_events').select(['status', 'attempts']).execute();
    assert.ok(waiting && (waiting.status === 'processed' || (waiting.status === 'received' && waiting.attempts === 0)), `the event kept its retries: ${JSON.stringify(waiting)}`);
    assert.equal((await inject(engine, 'GET', '/v1/customers/lookup?q=outage%40example.com', { key: testPosKey })).status, 200, 'reads still work on a full disk');

    await free();
    for (const saleId of refused) assert.equal((await sale(engine, demo.store.id, saleId)).status, 201, `${saleId} is recorded once there is room, by the same engine`);
    assert.deepEqual((await webhook(engine, 2)).body, { received: true, duplicate: false }, 'the refused webhook was never stored');
    assert.deepEqual((await inject(engine, 'GET', '/healthz')).body, { status: 'ok', database: 'sqlite' });
    await engine.worker.drain();
    assert.deepEqual((await db.selectFrom('inbox_events').select('status').execute()).map((row) => row.status), ['processed', 'processed'], 'both webhooks applied once there is room');
    const orders = await db.selectFrom('orders').select('source_ref').where('source', '=', 'pos').execute();
    assert.equal(orders.length, 1 + accepted.length + refused.length, 'each sale recorded exactly once');
    assert.deepEqual(await findInvariantViolations(db), []);
    const integrity = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(db);
    assert.deepEqual(integrity.rows, [{ integrity_check: 'ok' }]);
  });
}
