import { cpus, loadavg } from 'node:os';
import { sql } from 'kysely';
import pg from 'pg';
import SqliteDatabase from 'better-sqlite3';
import type { Engine } from '../src/engine.ts';
import { createBenchDatabase, type BenchDatabase, openRawSqlite } from './bench-database.ts';
import { reportFigures, type BenchFigure } from './figures.ts';
import { countStatementsSent, poolShopper, runWorkerUntilSettled, startFakeShopify, startOrdersEngine, statementsSent, storeOrders, type FakeShopifyChild } from './orders-load.ts';

// Issue #9: Shopify orders applied end to end per second. Each event is an `orders/create` of its
// own (its order id, one or two lines of the demo's SKUs, a shopper from a pool of a quarter as
// many, so most shoppers come back), stored in the inbox as the webhook route stores it; then the
// engine's own sync worker applies them, as it does in production: the shopper found or created
// (identity), the order and its lines and payment, the stock sold at the fulfilling location (a
// movement and the level), the points earned (ledger transaction, entries, lot, balance), and the
// outbox messages (stock pushed to Shopify, the shopper's points mirrored), which the same worker
// delivers to a fake Shopify Admin API in a child process (bench/orders-load.ts). The worker
// applies up to 50 events in one transaction (a savepoint each only after a failure,
// sync-worker.ts), so the engine's commits are fewer than its orders; the raw limit is shown both ways (1 and 64 orders per transaction). The
// figure is orders applied per second from the first to the last, the engine's CPU per order, and
// the raw limit of the same storage in the same run: the same rows written by plain prepared
// statements (inserts and the conditional updates of the stock level, the loyalty balance, the
// outbox message and the inbox row), one transaction per order with the same durability (SQLite WAL
// synchronous=FULL; PostgreSQL's default synchronous_commit=on), no Kysely, no JSON, no logic.
//
//   node --import tsx bench/orders-end-to-end.ts [--quick] [--orders=3000] [--postgres=URL] [--keep]

interface Options {
  quick: boolean;
  orders: number;
  postgresUrl: string | undefined;
  keep: boolean;
}

const targets = { sqlite: 3_000, postgres: 1_000 };
const ordersMax = 50_000;
const shoppersPerOrder = 0.25;

function parseOptions(argv: string[]): Options {
  const value = (name: string) => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = ['--quick', '--keep', '--orders=', '--postgres='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  const quick = argv.includes('--quick');
  const orders = Number(value('orders') ?? (quick ? 400 : 3_000));
  if (!Number.isInteger(orders) || orders < 10 || orders > ordersMax) throw new Error(`--orders must be 10 to ${ordersMax}`);
  return { quick, orders, postgresUrl: value('postgres'), keep: argv.includes('--keep') };
}

interface EngineRun {
  orders: number;
  seconds: number;
  ordersPerSecond: number;
  cpuMicrosPerOrder: number;
  outboxPerOrder: number;
  rowsPerOrder: number;
  /** Statements the engine sent to its database per order (transaction control included). */
  statementsPerOrder: number;
  outboxDrained: boolean;
  merchantId: string;
  eventIds: string[];
}

async function countRows(engine: Engine, tables: string[]): Promise<number> {
  let total = 0;
  for (const table of tables) total += Number((await sql<{ count: number }>`select count(*) as count from ${sql.table(table)}`.execute(engine.database.db)).rows[0]?.count ?? 0);
  return total;
}

const writtenTables = ['customers', 'customer_identifiers', 'loyalty_accounts', 'orders', 'order_lines', 'payments', 'stock_movements', 'loyalty_transactions', 'loyalty_entries', 'loyalty_lots', 'outbox_events'];

async function runEngine(options: Options, database: BenchDatabase, fake: FakeShopifyChild): Promise<EngineRun> {
  const { engine, merchantId } = await startOrdersEngine(database, fake);
  try {
    const db = engine.database.db;
    const shoppers = Math.max(1, Math.round(options.orders * shoppersPerOrder));
    const eventIds = await storeOrders(engine, merchantId, 0, options.orders, (index) => poolShopper(index, shoppers));
    const outboxBefore = Number((await db.selectFrom('outbox_events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()).count);
    const rowsBefore = await countRows(engine, writtenTables);
    const cpuAtStart = process.cpuUsage();
    const statementsAtStart = statementsSent();
    const startedAt = performance.now();
    const { pollStatements } = await runWorkerUntilSettled(engine, merchantId);
    const seconds = (performance.now() - startedAt) / 1000;
    const statementsPerOrder = (statementsSent() - statementsAtStart - pollStatements) / options.orders;
    const cpu = process.cpuUsage(cpuAtStart);
    const processed = Number((await db.selectFrom('inbox_events').select((eb) => eb.fn.countAll<number>().as('count')).where('status', '=', 'processed').where('merchant_id', '=', merchantId).where('delivery_id', 'like', 'bench-order-%').executeTakeFirstOrThrow()).count);
    if (processed !== options.orders) throw new Error(`${processed} of ${options.orders} orders were applied: ${JSON.stringify(await db.selectFrom('inbox_events').select(['status', 'error']).where('status', '<>', 'processed').limit(3).execute())}`);
    const orders = Number((await db.selectFrom('orders').select((eb) => eb.fn.countAll<number>().as('count')).where('source', '=', 'shopify').executeTakeFirstOrThrow()).count);
    const earns = Number((await db.selectFrom('loyalty_transactions').select((eb) => eb.fn.countAll<number>().as('count')).where('kind', '=', 'earn').executeTakeFirstOrThrow()).count);
    if (orders !== options.orders || earns !== options.orders) throw new Error(`${orders} orders and ${earns} earns for ${options.orders} events`);
    const outboxAfter = Number((await db.selectFrom('outbox_events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()).count);
    const waiting = Number((await db.selectFrom('outbox_events').select((eb) => eb.fn.countAll<number>().as('count')).where('status', 'in', ['pending', 'delivering']).executeTakeFirstOrThrow()).count);
    return {
      orders: options.orders, seconds, ordersPerSecond: options.orders / seconds, cpuMicrosPerOrder: (cpu.user + cpu.system) / options.orders,
      outboxPerOrder: (outboxAfter - outboxBefore) / options.orders, statementsPerOrder, rowsPerOrder: ((await countRows(engine, writtenTables)) - rowsBefore) / options.orders, outboxDrained: waiting === 0,
      merchantId, eventIds,
    };
  } finally {
    await engine.close();
  }
}

/** What the raw loop writes per order: the same rows the engine wrote, copied with fresh keys. */
interface Templates {
  customer: Record<string, unknown>;
  identifiers: Record<string, unknown>[];
  account: Record<string, unknown>;
  order: Record<string, unknown>;
  line: Record<string, unknown>;
  payment: Record<string, unknown>;
  movement: Record<string, unknown>;
  transaction: Record<string, unknown>;
  entries: Record<string, unknown>[];
  lot: Record<string, unknown>;
  outbox: Record<string, unknown>;
  inbox: Record<string, unknown>;
}

/** Reads one order's rows, as the engine wrote them, to copy in the raw loop. */
async function readTemplates(query: (text: string, values: unknown[]) => Promise<Record<string, unknown>[]>, placeholder: (index: number) => string, merchantId: string): Promise<Templates> {
  const one = async (text: string, values: unknown[]) => {
    const rows = await query(text, values);
    if (!rows[0]) throw new Error(`no template row for: ${text}`);
    return rows;
  };
  const [order] = await one(`select * from orders where merchant_id = ${placeholder(1)} and source = 'shopify' order by id limit 1`, [merchantId]);
  const [line] = await one(`select * from order_lines where order_id = ${placeholder(1)}`, [order!['id']]);
  const [payment] = await one(`select * from payments where order_id = ${placeholder(1)}`, [order!['id']]);
  const [movement] = await one(`select * from stock_movements where order_id = ${placeholder(1)}`, [order!['id']]);
  const [transaction] = await one(`select * from loyalty_transactions where order_id = ${placeholder(1)} and kind = 'earn'`, [order!['id']]);
  const entries = await one(`select * from loyalty_entries where transaction_id = ${placeholder(1)}`, [transaction!['id']]);
  const [lot] = await one(`select * from loyalty_lots where transaction_id = ${placeholder(1)}`, [transaction!['id']]);
  const [customer] = await one(`select * from customers where id = ${placeholder(1)}`, [order!['customer_id']]);
  const identifiers = await one(`select * from customer_identifiers where customer_id = ${placeholder(1)}`, [order!['customer_id']]);
  const [account] = await one(`select * from loyalty_accounts where customer_id = ${placeholder(1)}`, [order!['customer_id']]);
  const [outbox] = await one(`select * from outbox_events where merchant_id = ${placeholder(1)} and kind = 'inventory.push' order by created_at desc limit 1`, [merchantId]);
  const [inbox] = await one(`select * from inbox_events where merchant_id = ${placeholder(1)} and topic = 'orders/create' limit 1`, [merchantId]);
  return { customer: customer!, identifiers, account: account!, order: order!, line: line!, payment: payment!, movement: movement!, transaction: transaction!, entries, lot: lot!, outbox: outbox!, inbox: inbox! };
}

interface RawFigures {
  orders: number;
  /** Orders per transaction: 1 as the engine commits, more to show what group commit would allow. */
  perCommit: number;
  ordersPerSecond: number;
  cpuMicrosPerOrder: number;
  statementsPerOrder: number;
}

/** One raw order: which statements, with which values; shared by both dialects. */
function planRawOrder(templates: Templates, index: number, runTag: string, shoppers: number): { sql: string; table?: string; row?: Record<string, unknown>; values?: unknown[] }[] {
  const tag = `${runTag}_${index}`;
  const shopper = index % shoppers;
  const customerId = `cus_raw_${runTag}_${shopper}`;
  const orderId = `ord_raw_${tag}`;
  const transactionId = `ltx_raw_${tag}`;
  const now = new Date().toISOString();
  const newShopper = index < shoppers;
  const steps: { sql: string; table?: string; row?: Record<string, unknown>; values?: unknown[] }[] = [];
  steps.push({ sql: 'find-identifier', values: [templates.identifiers[0]!['merchant_id'], 'email', `raw-${runTag}-${shopper}@example.com`] });
  if (newShopper) {
    steps.push({ sql: 'insert', table: 'customers', row: { ...templates.customer, id: customerId, loyalty_code: `RAW${runTag}${shopper}`.slice(0, 40), created_at: now, updated_at: now } });
    templates.identifiers.forEach((identifier, identifierIndex) => steps.push({ sql: 'insert', table: 'customer_identifiers', row: { ...identifier, id: `cid_raw_${runTag}_${shopper}_${identifierIndex}`, customer_id: customerId, value_normalized: `raw-${runTag}-${shopper}-${identifierIndex}@example.com`, created_at: now } }));
    steps.push({ sql: 'insert', table: 'loyalty_accounts', row: { ...templates.account, customer_id: customerId, available: 0, lifetime_earned: 0, updated_at: now } });
  }
  steps.push({ sql: 'insert', table: 'orders', row: { ...templates.order, id: orderId, source_ref: `raw-${tag}`, customer_id: customerId, created_at: now, updated_at: now } });
  steps.push({ sql: 'insert', table: 'order_lines', row: { ...templates.line, id: `line_raw_${tag}`, order_id: orderId } });
  steps.push({ sql: 'insert', table: 'payments', row: { ...templates.payment, id: `pay_raw_${tag}`, order_id: orderId } });
  steps.push({ sql: 'take-stock', values: [now, templates.movement['merchant_id'], templates.movement['location_id'], templates.movement['variant_id']] });
  steps.push({ sql: 'insert', table: 'stock_movements', row: { ...templates.movement, id: `mov_raw_${tag}`, source_key: `raw:${tag}`, order_id: orderId, created_at: now } });
  steps.push({ sql: 'insert', table: 'loyalty_transactions', row: { ...templates.transaction, id: transactionId, customer_id: customerId, idempotency_key: `raw:${tag}`, order_id: orderId, created_at: now } });
  templates.entries.forEach((entry, entryIndex) => steps.push({ sql: 'insert', table: 'loyalty_entries', row: { ...entry, id: `len_raw_${tag}_${entryIndex}`, transaction_id: transactionId, customer_id: entry['customer_id'] === null ? null : customerId, created_at: now } }));
  steps.push({ sql: 'insert', table: 'loyalty_lots', row: { ...templates.lot, id: `lot_raw_${tag}`, customer_id: customerId, transaction_id: transactionId, earned_at: now } });
  steps.push({ sql: 'add-points', values: [Number(templates.transaction['points']), Number(templates.transaction['points']), now, templates.account['merchant_id'], customerId] });
  steps.push({ sql: 'absorb-outbox', values: [now, templates.outbox['merchant_id'], `raw:${templates.outbox['coalesce_key']}:${index % 4}`] });
  steps.push({ sql: 'insert-outbox-if-none', table: 'outbox_events', row: { ...templates.outbox, id: `out_raw_${tag}`, coalesce_key: `raw:${templates.outbox['coalesce_key']}:${index % 4}`, status: 'pending', created_at: now, next_attempt_at: now, delivered_at: null, claimed_by: null } });
  steps.push({ sql: 'claim-inbox', values: [now, `evt_raw_${tag}`] });
  return steps;
}

function rawStatements(placeholder: (index: number) => string) {
  const p = placeholder;
  return {
    'find-identifier': `select customer_id from customer_identifiers where merchant_id = ${p(1)} and kind = ${p(2)} and value_normalized = ${p(3)}`,
    'take-stock': `update stock_levels set on_hand = on_hand - 1, updated_at = ${p(1)} where merchant_id = ${p(2)} and location_id = ${p(3)} and variant_id = ${p(4)}`,
    'add-points': `update loyalty_accounts set available = available + ${p(1)}, lifetime_earned = lifetime_earned + ${p(2)}, updated_at = ${p(3)} where merchant_id = ${p(4)} and customer_id = ${p(5)}`,
    'absorb-outbox': `update outbox_events set superseded = superseded + 1, created_at = ${p(1)} where merchant_id = ${p(2)} and coalesce_key = ${p(3)} and status = 'pending'`,
    'claim-inbox': `update inbox_events set status = 'processed', processed_at = ${p(1)} where id = ${p(2)} and status = 'received'`,
  } as Record<string, string>;
}

const insertSql = (table: string, columns: string[], placeholder: (index: number) => string) => `insert into ${table} (${columns.join(', ')}) values (${columns.map((_, index) => placeholder(index + 1)).join(', ')})`;

/** The raw inbox rows the raw loop claims, copied from the engine's, inserted before it starts. */
function rawInboxRows(templates: Templates, orders: number, runTag: string): Record<string, unknown>[] {
  return Array.from({ length: orders }, (_, index) => ({ ...templates.inbox, id: `evt_raw_${runTag}_${index}`, delivery_id: `raw-${runTag}-${index}`, event_key: null, status: 'received', resource_key: null }));
}

function measureRawSqlite(path: string, templates: Templates, orders: number, perCommit: number): RawFigures {
  const database = openRawSqlite(path);
  try {
    const runTag = `${process.pid}${Date.now()}`;
    const placeholder = () => '?';
    const named = rawStatements(placeholder);
    const prepared = new Map<string, SqliteDatabase.Statement>();
    const statement = (text: string) => prepared.get(text) ?? prepared.set(text, database.prepare(text)).get(text)!;
    const bind = (value: unknown) => (typeof value === 'boolean' ? Number(value) : value);
    const insertRows = database.transaction((rows: Record<string, unknown>[]) => {
      for (const row of rows) statement(insertSql('inbox_events', Object.keys(row), placeholder)).run(...Object.values(row).map(bind));
    });
    insertRows(rawInboxRows(templates, orders, runTag));
    const shoppers = Math.max(1, Math.round(orders * shoppersPerOrder));
    let statementsRun = 0;
    const applyOne = (index: number) => {
      let absorbed = 0;
      for (const step of planRawOrder(templates, index, runTag, shoppers)) {
        if (step.sql === 'insert-outbox-if-none' && absorbed > 0) continue;
        statementsRun += 1;
        if (step.row) {
          statement(insertSql(step.table!, Object.keys(step.row), placeholder)).run(...Object.values(step.row).map(bind));
        } else if (step.sql === 'find-identifier') {
          statement(named[step.sql]!).get(...step.values!);
        } else {
          const changes = statement(named[step.sql]!).run(...step.values!).changes;
          if (step.sql === 'absorb-outbox') absorbed = changes;
        }
      }
    };
    const applyBatch = database.transaction((first: number) => {
      for (let index = first; index < Math.min(orders, first + perCommit); index += 1) applyOne(index);
    });
    const cpuAtStart = process.cpuUsage();
    const startedAt = performance.now();
    for (let first = 0; first < orders; first += perCommit) applyBatch(first);
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    return { orders, perCommit, ordersPerSecond: orders / seconds, cpuMicrosPerOrder: (cpu.user + cpu.system) / orders, statementsPerOrder: statementsRun / orders };
  } finally {
    database.close();
  }
}

async function measureRawPostgres(url: string, schema: string, templates: Templates, orders: number, perCommit: number): Promise<RawFigures> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    const runTag = `${process.pid}${Date.now()}`;
    const placeholder = (index: number) => `$${index}`;
    const named = rawStatements(placeholder);
    const names = new Map<string, string>();
    // Named statements are prepared once per connection by pg, as a driver keeping them would.
    const run = (text: string, values: unknown[]) => {
      let name = names.get(text);
      if (!name) names.set(text, (name = `raw_${names.size}`));
      return client.query({ name, text, values });
    };
    for (let start = 0; start < orders; start += 200) {
      await client.query('begin');
      for (const row of rawInboxRows(templates, orders, runTag).slice(start, start + 200)) await run(insertSql('inbox_events', Object.keys(row), placeholder), Object.values(row));
      await client.query('commit');
    }
    const shoppers = Math.max(1, Math.round(orders * shoppersPerOrder));
    let statementsRun = 0;
    const cpuAtStart = process.cpuUsage();
    const startedAt = performance.now();
    for (let index = 0; index < orders; index += 1) {
      if (index % perCommit === 0) await client.query('begin');
      let absorbed = 0;
      for (const step of planRawOrder(templates, index, runTag, shoppers)) {
        if (step.sql === 'insert-outbox-if-none' && absorbed > 0) continue;
        statementsRun += 1;
        if (step.row) await run(insertSql(step.table!, Object.keys(step.row), placeholder), Object.values(step.row));
        else {
          const result = await run(named[step.sql]!, step.values!);
          if (step.sql === 'absorb-outbox') absorbed = result.rowCount ?? 0;
        }
      }
      if ((index + 1) % perCommit === 0 || index === orders - 1) await client.query('commit');
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    return { orders, perCommit, ordersPerSecond: orders / seconds, cpuMicrosPerOrder: (cpu.user + cpu.system) / orders, statementsPerOrder: statementsRun / orders };
  } finally {
    await client.end();
  }
}

const rawBatchSize = 64;

/** The raw limit twice: one transaction per order (as the engine commits), and 64 orders per transaction (what group commit would allow). */
async function measureRaw(database: BenchDatabase, merchantId: string, orders: number): Promise<[RawFigures, RawFigures]> {
  if (database.sqlitePath) {
    const reader = new SqliteDatabase(database.sqlitePath, { readonly: true });
    let templates: Templates;
    try {
      templates = await readTemplates(async (text, values) => reader.prepare(text).all(...values) as Record<string, unknown>[], () => '?', merchantId);
    } finally {
      reader.close();
    }
    return [measureRawSqlite(database.sqlitePath, templates, orders, 1), measureRawSqlite(database.sqlitePath, templates, orders, rawBatchSize)];
  }
  const client = new pg.Client({ connectionString: database.url, options: `-c search_path=${database.postgresSchema}` });
  await client.connect();
  let templates: Templates;
  try {
    templates = await readTemplates(async (text, values) => (await client.query(text, values)).rows as Record<string, unknown>[], (index) => `$${index}`, merchantId);
  } finally {
    await client.end();
  }
  return [await measureRawPostgres(database.url, database.postgresSchema!, templates, orders, 1), await measureRawPostgres(database.url, database.postgresSchema!, templates, orders, rawBatchSize)];
}

interface StorageFigures {
  storage: 'sqlite' | 'postgres';
  engine: EngineRun;
  raw: RawFigures;
  rawBatched: RawFigures;
}

async function benchmarkStorage(options: Options, postgresUrl: string | undefined): Promise<StorageFigures> {
  const database = await createBenchDatabase({ postgresUrl, keep: options.keep }, 'orders_e2e');
  const fake = await startFakeShopify();
  try {
    const engine = await runEngine(options, database, fake);
    const [raw, rawBatched] = await measureRaw(database, engine.merchantId, options.orders);
    return { storage: postgresUrl ? 'postgres' : 'sqlite', engine, raw, rawBatched };
  } finally {
    // A fake that already died must not hide the error that ended the run.
    await fake.stop().catch(() => fake.kill());
    await database.dispose();
  }
}

const count = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  countStatementsSent();
  console.log(`orders-end-to-end: ${options.orders} Shopify orders/create through the sync worker; SQLite (WAL, every commit synced)${options.postgresUrl ? ' and PostgreSQL' : ''}`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at start`);
  const all: StorageFigures[] = [];
  for (const postgresUrl of [undefined, ...(options.postgresUrl ? [options.postgresUrl] : [])]) {
    const figures = await benchmarkStorage(options, postgresUrl);
    all.push(figures);
    const { engine, raw, rawBatched } = figures;
    console.table([{
      storage: figures.storage, 'orders/s': count(engine.ordersPerSecond), 'CPU µs/order': count(engine.cpuMicrosPerOrder), 'rows/order': engine.rowsPerOrder.toFixed(1), 'statements/order': engine.statementsPerOrder.toFixed(1), 'outbox msgs/order': engine.outboxPerOrder.toFixed(2),
      'outbox drained': engine.outboxDrained, 'raw orders/s': count(raw.ordersPerSecond), 'raw CPU µs/order': count(raw.cpuMicrosPerOrder), 'raw statements/order': raw.statementsPerOrder.toFixed(1),
      'engine/raw': `${(engine.ordersPerSecond / raw.ordersPerSecond).toFixed(2)}×`, [`raw, ${rawBatched.perCommit}/tx`]: count(rawBatched.ordersPerSecond), [`raw CPU µs, ${rawBatched.perCommit}/tx`]: count(rawBatched.cpuMicrosPerOrder),
    }]);
  }
  console.log(`load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end`);
  reportFigures('orders-end-to-end', all.map((figures): BenchFigure => ({
    figure: `Shopify orders applied end to end/s (identity, order, stock, points, outbox), ${figures.storage === 'sqlite' ? 'SQLite' : 'PostgreSQL'}`,
    value: figures.engine.ordersPerSecond, unit: '/s', cpuMicrosPerOperation: figures.engine.cpuMicrosPerOrder,
    raw: figures.raw.ordersPerSecond, rawWhat: `${figures.raw.statementsPerOrder.toFixed(0)} prepared statements, 1 tx/order`, target: { atLeast: targets[figures.storage] },
    // The same rows written by the raw loop, many orders per transaction as the worker writes them:
    // what the storage allows here with no logic at all.
    ceiling: figures.rawBatched.ordersPerSecond, ceilingWhat: `the raw rows at ${figures.rawBatched.perCommit} orders per transaction, ${count(figures.rawBatched.cpuMicrosPerOrder)} µs CPU each`,
    note: `${figures.engine.orders} orders, ${figures.engine.statementsPerOrder.toFixed(1)} statements, ${figures.engine.rowsPerOrder.toFixed(1)} rows and ${figures.engine.outboxPerOrder.toFixed(2)} outbox messages each`,
  })));
  const undrained = all.filter((figures) => !figures.engine.outboxDrained);
  if (undrained.length > 0) {
    console.error(`orders-end-to-end: the outbox did not drain on ${undrained.map((figures) => figures.storage).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
