import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LosslessNumber, parse, stringify } from 'lossless-json';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import SqliteDatabase from 'better-sqlite3';
import { demoProducts, demoShopifyIds, seedDemoMerchant } from '../src/demo/demo-merchant.ts';
import { createEngine, type Engine } from '../src/engine.ts';
import { computeResourceKey, storeInboxEvents, type InboundEvent } from '../src/sync/index.ts';
import type { BenchDatabase } from './bench-database.ts';
import { startFakeShopifyChild, type FakeShopifyChild } from './fake-shopify-child.ts';

export type { FakeShopifyChild };

// What the benchmarks of orders applied end to end share (bench/orders-end-to-end.ts,
// bench/orders-growth.ts): the demo merchant's engine with stock to sell and Shopify connected to
// a fake Admin API in a child process, Shopify orders/create events made from the real fixture and
// stored in the inbox as the webhook route stores them, and the engine's own worker run until it
// has applied and pushed them all.

const orderIdBase = 5_500_000_000_000;
const shopperIdBase = 7_800_000_000_000;
const onHandPerSku = 1_000_000;
const adminKey = 'ck_admin_bench_orders_only';
const shopDomain = 'bench-orders.myshopify.com';
const storeBatchSize = 500;

/** Who places an order: the email the engine recognises her by, and her Shopify customer. */
export interface Shopper {
  email: string;
  shopifyCustomerId: number;
  firstName: string;
  lastName: string;
}

/** The `index`-th order's shopper from a pool of `shoppers` made for the run (shopper0@example.com, ...). */
export function poolShopper(index: number, shoppers: number): Shopper {
  const shopper = index % shoppers;
  return { email: `shopper${shopper}@example.com`, shopifyCustomerId: shopifyCustomerIdOf(shopper), firstName: 'Shopper', lastName: String(shopper) };
}

/** The `index`-th Shopify customer id of the run's own shoppers. */
export function shopifyCustomerIdOf(index: number): number {
  return shopperIdBase + index;
}

/** The Shopify order id of the `index`-th order made (an order's `source_ref` is its id). */
export function orderIdOf(index: number): number {
  return orderIdBase + index;
}

/** The real orders/create fixture the orders are made from. */
export function readOrderTemplate(): unknown {
  return parse(readFileSync(join(import.meta.dirname, '..', 'test', 'fixtures', 'shopify', 'orders-create.json'), 'utf8'));
}

const money = (amount: string) => ({ shop_money: { amount, currency_code: 'USD' }, presentment_money: { amount, currency_code: 'USD' } });

/**
 * The fixture's order, made an order of its own: 1 or 2 lines of the demo's Shopify-linked SKUs, bought by `shopper`.
 * The demo's variant and product ids are past 2^53 and written exactly (Number() rounded two
 * variants to one id, so one SKU's lines were sold as another's).
 */
export function orderPayload(template: any, index: number, shopper: Shopper): string {
  const orderId = orderIdOf(index);
  const email = shopper.email;
  const linesCount = 1 + (index % 2);
  const lines = Array.from({ length: linesCount }, (_, lineIndex) => {
    const product = demoProducts[(index + lineIndex) % demoProducts.length]!;
    const lineId = orderId * 10 + lineIndex;
    const price = (product.priceMinor / 100).toFixed(2);
    return {
      ...template.line_items[0], id: lineId, admin_graphql_api_id: `gid://shopify/LineItem/${lineId}`, variant_id: new LosslessNumber(product.shopifyVariantId), product_id: new LosslessNumber(product.shopifyProductId),
      sku: product.sku, title: product.title, name: product.title, price, price_set: money(price), quantity: 1, current_quantity: 1, fulfillable_quantity: 1,
      discount_allocations: [], tax_lines: [], total_discount: '0.00', total_discount_set: money('0.00'),
    };
  });
  const total = lines.reduce((sum, line) => sum + Number(line.price), 0).toFixed(2);
  const order = {
    ...template, id: orderId, admin_graphql_api_id: `gid://shopify/Order/${orderId}`, name: `#B${index}`, order_number: 100_000 + index, email, contact_email: email, phone: null,
    customer: { ...template.customer, id: shopper.shopifyCustomerId, admin_graphql_api_id: `gid://shopify/Customer/${shopper.shopifyCustomerId}`, email, phone: null, first_name: shopper.firstName, last_name: shopper.lastName, default_address: undefined },
    billing_address: undefined, shipping_address: undefined, discount_codes: [], discount_applications: [], shipping_lines: [], line_items: lines,
    total_line_items_price_set: money(total), subtotal_price_set: money(total), total_price_set: money(total), total_tax_set: money('0.00'), total_discounts_set: money('0.00'), total_shipping_price_set: money('0.00'),
    total_price: total, subtotal_price: total, total_tax: '0.00', total_discounts: '0.00', total_line_items_price: total,
  };
  return stringify(order) ?? '';
}

/** The fake Shopify Admin API in a child process, without rate limits (Shopify is not what is measured), holding stock of the demo's SKUs. */
export function startFakeShopify(): Promise<FakeShopifyChild> {
  const items = demoProducts.map((product) => `gid://shopify/InventoryItem/${product.shopifyInventoryItemId}`);
  return startFakeShopifyChild({ restoreRate: 1_000_000_000, maximumAvailable: 1_000_000_000 }, `gid://shopify/Location/${demoShopifyIds.warehouseLocation}`, items, onHandPerSku);
}

// How often the bench looks whether the running worker has applied and pushed everything: two
// indexed reads of at most one row each, a few microseconds of the worker's connection every 20 ms.
const settledPollMs = 20;
// A bound on the run whatever happens (a push retried with backoff would keep it waiting).
const settledWaitMsMax = 10 * 60 * 1000;

/**
 * Runs the engine's worker as the engine runs it (its inbound and outbound halves side by side)
 * until every event is applied and every message delivered, then stops it.
 */
export async function runWorkerUntilSettled(engine: Engine, merchantId: string): Promise<{ pollStatements: number }> {
  const db = engine.database.db;
  // Whether any row is left, not how many: counting the waiting events read them all through the
  // status index on the worker's connection, 1.4 ms every 20 ms (3 % of the engine's time, found
  // by timing each statement of a run); the first one found answers the question.
  const anyLeft = async (table: 'inbox_events' | 'outbox_events', statuses: string[]) => (await db.selectFrom(table).select('id').where('merchant_id', '=', merchantId).where('status', 'in', statuses).limit(1).executeTakeFirst()) !== undefined;
  engine.worker.start();
  const deadline = performance.now() + settledWaitMsMax;
  let pollStatements = 0;
  try {
    for (;;) {
      pollStatements += 2;
      if (performance.now() > deadline) throw new Error(`the worker had not applied and pushed everything after ${settledWaitMsMax / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, settledPollMs));
      if (!(await anyLeft('inbox_events', ['received'])) && !(await anyLeft('outbox_events', ['pending', 'delivering']))) break;
    }
  } finally {
    await engine.worker.stop();
  }
  return { pollStatements };
}

/** The engine on `database` with the demo merchant, its Shopify on the fake, and stock for every order to come. */
export async function startOrdersEngine(database: BenchDatabase, fake: FakeShopifyChild): Promise<{ engine: Engine; merchantId: string }> {
  const location = database.postgresSchema ? { databaseUrl: database.url, postgresSchema: database.postgresSchema } : { databaseUrl: database.url };
  const engine = await createEngine({ ...location, logger: pino({ level: 'silent' }), startWorker: false });
  try {
    const demo = await seedDemoMerchant(engine.database.db, {
      shopDomain, shopifySecret: 'bench-only-orders-secret', shopifyAdminApiUrl: fake.url, shopifyAccessToken: fake.token,
      squareMerchantRef: 'BENCHORDERSSQ', squareSignatureKey: 'bench-only-square-key', squareNotificationUrl: 'https://example.com/webhooks/square', adminApiKey: adminKey,
    });
    for (const product of demoProducts) {
      const response = await engine.server.inject({ method: 'POST', url: '/v1/inventory/receive', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, payload: JSON.stringify({ location_id: demo.warehouse.id, sku: product.sku, quantity: onHandPerSku }) });
      if (response.statusCode !== 200) throw new Error(`receive ${product.sku}: ${response.statusCode} ${response.body}`);
    }
    await engine.worker.drain();
    return { engine, merchantId: demo.merchant.id };
  } catch (error) {
    await engine.close();
    throw error;
  }
}

/**
 * Stores orders `first` to `first + count - 1` in the inbox, as the webhook route stores them, each
 * bought by `shopperOf(index)`; returns the ids of the events stored. On SQLite the log is then
 * checkpointed, so the run that follows does not pay for the load's.
 */
export async function storeOrders(engine: Engine, merchantId: string, first: number, count: number, shopperOf: (index: number) => Shopper): Promise<string[]> {
  const db = engine.database.db;
  const template = readOrderTemplate();
  const eventIds: string[] = [];
  for (let start = first; start < first + count; start += storeBatchSize) {
    const events: InboundEvent[] = [];
    for (let index = start; index < Math.min(first + count, start + storeBatchSize); index += 1) {
      const payload = orderPayload(template, index, shopperOf(index));
      events.push({ merchantId, source: 'shopify', topic: 'orders/create', deliveryId: `bench-order-${index}`, eventKey: null, headers: { 'x-shopify-topic': 'orders/create' }, payload, triggeredAt: new Date().toISOString(), resourceKey: computeResourceKey('shopify', 'orders/create', JSON.parse(payload)) as string });
    }
    const stored = await storeInboxEvents(db, events);
    for (const result of stored) if (result.stored) eventIds.push(result.id);
  }
  if (engine.database.dialect === 'sqlite') await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
  return eventIds;
}

/**
 * Statements sent to the database, counted at the drivers (better-sqlite3's statement calls,
 * node-postgres's queries): a figure of the engine's work that does not move with the machine's
 * hour, unlike its speed. Counting costs a few nanoseconds a statement.
 */
let sent = 0;

/** Statements sent so far, once `countStatementsSent` has been called. */
export function statementsSent(): number {
  return sent;
}

/** Starts counting the statements sent (once per process). */
export function countStatementsSent(): void {
  const probe = new SqliteDatabase(':memory:');
  const statementMethods = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, (...args: unknown[]) => unknown>;
  probe.close();
  for (const method of ['run', 'all', 'get', 'iterate']) {
    const original = statementMethods[method]!;
    statementMethods[method] = function (this: unknown, ...args: unknown[]) {
      sent += 1;
      return original.apply(this, args);
    };
  }
  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
    sent += 1;
    return query.apply(this, args);
  };
}
