import { parse, stringify } from 'lossless-json';
import { sql } from 'kysely';
import { signShopifyBody } from '../../src/connectors/shopify/index.ts';
import type { Db, DialectName } from '../../src/db/index.ts';
import { readFixture, testShopDomain, testShopifySecret } from '../support/engine-harness.ts';

// What the fault suite (test/faults/*.test.ts, issue #9) shares: the row counts of every table (so
// "nothing was written" covers tables added later), Shopify orders of their own built from the
// recorded fixture, and the invariants that must hold after any fault: ledgers balance, stock
// levels equal their movements, and nothing was applied twice.

/** Every table of the database, read from its catalog (migrations' own tables left out). */
export async function listTables(db: Db, dialect: DialectName): Promise<string[]> {
  const rows = dialect === 'sqlite'
    ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'kysely_%' order by name`.execute(db)).rows
    : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely_%' order by table_name`.execute(db)).rows;
  return rows.map((row) => row.name);
}

/** The row count of every table, in one statement (so a check after each request stays cheap). */
export async function countEveryTable(db: Db, tables: string[]): Promise<Record<string, number>> {
  const columns = tables.map((table) => sql`(select count(*) from ${sql.table(table)}) as ${sql.ref(table)}`);
  const result = await sql<Record<string, number | string>>`select ${sql.join(columns)}`.execute(db);
  const row = result.rows[0] ?? {};
  return Object.fromEntries(tables.map((table) => [table, Number(row[table])]));
}

/** The tables whose counts differ, `table: before → after`. */
export function describeCountChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  return Object.keys({ ...before, ...after }).filter((table) => before[table] !== after[table]).map((table) => `${table}: ${before[table]} → ${after[table]}`);
}

const money = (amount: string) => ({ shop_money: { amount, currency_code: 'USD' }, presentment_money: { amount, currency_code: 'USD' } });

/** An orders/create of its own (order and line ids), one unit of the fixture's first line (SKU2006-001), bought by the Shopify customer `customerId` with `email`. */
export function shopifyOrderBody(orderId: number, customerId: number, email: string): Buffer {
  const order = parse(readFixture('shopify/orders-create.json').toString('utf8')) as any;
  const lineId = orderId * 10;
  const line = { ...order.line_items[0], id: lineId, admin_graphql_api_id: `gid://shopify/LineItem/${lineId}`, quantity: 1, current_quantity: 1, fulfillable_quantity: 1, discount_allocations: [], tax_lines: [], total_discount: '0.00', total_discount_set: money('0.00') };
  const price = String(line.price);
  Object.assign(order, {
    id: orderId, admin_graphql_api_id: `gid://shopify/Order/${orderId}`, name: `#F${orderId}`, order_number: orderId % 1_000_000, email, contact_email: email, phone: null,
    customer: { ...order.customer, id: customerId, admin_graphql_api_id: `gid://shopify/Customer/${customerId}`, email, phone: null, default_address: undefined },
    billing_address: undefined, shipping_address: undefined, discount_codes: [], discount_applications: [], shipping_lines: [],
    total_line_items_price_set: money(price), subtotal_price_set: money(price), total_price_set: money(price), total_tax_set: money('0.00'), total_discounts_set: money('0.00'), total_shipping_price_set: money('0.00'),
    total_price: price, subtotal_price: price, total_tax: '0.00', total_discounts: '0.00', total_line_items_price: price, line_items: [line],
  });
  return Buffer.from(stringify(order) ?? '');
}

/** Headers of a Shopify delivery signed with the test shop's secret, triggered now. */
export function signedShopifyHeaders(body: Buffer, topic: string, webhookId: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'application/json', 'x-shopify-topic': topic, 'x-shopify-shop-domain': testShopDomain, 'x-shopify-api-version': '2026-04',
    'x-shopify-webhook-id': webhookId, 'x-shopify-event-id': `event-${webhookId}`, 'x-shopify-triggered-at': new Date().toISOString(),
    'x-shopify-hmac-sha256': signShopifyBody(testShopifySecret, body), ...overrides,
  };
}

type Row = Record<string, unknown>;

async function rowsOf(db: Db, query: ReturnType<typeof sql>): Promise<Row[]> {
  return (await query.execute(db)).rows as Row[];
}

/**
 * What must hold after any fault, as a list of violations (empty when all hold):
 * - every loyalty balance equals the sum of its customer's entries (available and pending), and
 *   every store credit balance the sum of its `customer_credit` entries;
 * - every ledger transaction's entries add up to zero, per asset;
 * - every stock level equals the sum of its movements (on hand and reserved);
 * - nothing applied twice: one order per channel source ref, one return per source ref, one
 *   movement per source key, one inbox row per delivery, one earn per order; and an order whose
 *   lines earned points has its earn.
 */
export async function findInvariantViolations(db: Db): Promise<string[]> {
  const checks: [string, ReturnType<typeof sql>][] = [
    ['loyalty balance ≠ its entries', sql`select a.merchant_id, a.customer_id, a.available, a.pending,
        coalesce((select sum(e.amount) from loyalty_entries e where e.merchant_id = a.merchant_id and e.customer_id = a.customer_id and e.account = 'customer_available'), 0) as entries_available,
        coalesce((select sum(e.amount) from loyalty_entries e where e.merchant_id = a.merchant_id and e.customer_id = a.customer_id and e.account = 'customer_pending'), 0) as entries_pending
      from loyalty_accounts a`],
    ['store credit balance ≠ its entries', sql`select c.merchant_id, c.customer_id, c.balance_minor,
        coalesce((select sum(e.amount) from loyalty_entries e where e.merchant_id = c.merchant_id and e.customer_id = c.customer_id and e.account = 'customer_credit'), 0) as entries_credit
      from store_credit_accounts c`],
    ['a ledger transaction does not balance', sql`select merchant_id, transaction_id, asset, sum(amount) as total from loyalty_entries group by merchant_id, transaction_id, asset having sum(amount) <> 0`],
    ['stock level ≠ its movements', sql`select l.merchant_id, l.location_id, l.variant_id, l.on_hand, l.reserved,
        coalesce((select sum(m.on_hand_delta) from stock_movements m where m.merchant_id = l.merchant_id and m.location_id = l.location_id and m.variant_id = l.variant_id), 0) as moved_on_hand,
        coalesce((select sum(m.reserved_delta) from stock_movements m where m.merchant_id = l.merchant_id and m.location_id = l.location_id and m.variant_id = l.variant_id), 0) as moved_reserved
      from stock_levels l`],
    ['an order recorded twice', sql`select merchant_id, source, source_ref, count(*) as copies from orders group by merchant_id, source, source_ref having count(*) > 1`],
    ['a return recorded twice', sql`select merchant_id, source, source_ref, count(*) as copies from returns group by merchant_id, source, source_ref having count(*) > 1`],
    ['a stock movement applied twice', sql`select merchant_id, source_key, count(*) as copies from stock_movements group by merchant_id, source_key having count(*) > 1`],
    ['a webhook stored twice', sql`select merchant_id, source, delivery_id, count(*) as copies from inbox_events group by merchant_id, source, delivery_id having count(*) > 1`],
    ['points earned twice on an order', sql`select merchant_id, order_id, count(*) as copies from loyalty_transactions where kind = 'earn' and order_id is not null group by merchant_id, order_id having count(*) > 1`],
    ['an order that earned points has no earn', sql`select o.merchant_id, o.id from orders o
      where o.customer_id is not null and (select sum(l.points_earned) from order_lines l where l.merchant_id = o.merchant_id and l.order_id = o.id) > 0
        and not exists (select 1 from loyalty_transactions t where t.merchant_id = o.merchant_id and t.order_id = o.id and t.kind = 'earn')`],
  ];
  const violations: string[] = [];
  for (const [name, query] of checks) {
    const rows = await rowsOf(db, query);
    const bad = rows.filter((row) => {
      if ('entries_available' in row) return Number(row['available']) !== Number(row['entries_available']) || Number(row['pending']) !== Number(row['entries_pending']);
      if ('entries_credit' in row) return Number(row['balance_minor']) !== Number(row['entries_credit']);
      if ('moved_on_hand' in row) return Number(row['on_hand']) !== Number(row['moved_on_hand']) || Number(row['reserved']) !== Number(row['moved_reserved']);
      return true;
    });
    for (const row of bad.slice(0, 5)) violations.push(`${name}: ${JSON.stringify(row)}`);
    if (bad.length > 5) violations.push(`${name}: … ${bad.length - 5} more`);
  }
  return violations;
}

/** Waits until `condition` holds, polling; fails with `describe()` after `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string> | string, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
