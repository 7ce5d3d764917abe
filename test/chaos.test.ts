import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LosslessNumber, parse, stringify } from 'lossless-json';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, type TestEngine } from './support/engine-harness.ts';

// The chaos suite of issue #7: a realistic day of Shopify traffic — customers, web orders, order
// updates and cancellations, refunds, stock edits — delivered the way channels deliver: every
// webhook one to three times, some again under a new delivery id, shuffled, with the worker running
// at random moments and failed events retried later. The final state must equal the state after one
// in-order delivery of the same day.

interface Delivery {
  fixture: string;
  topic: string;
  webhookId: string;
  eventId: string;
  triggeredAt: string;
  body: Buffer;
}

/** A small seeded generator, so a failing day can be replayed. */
function randomSource(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return { next, int: (max: number) => Math.floor(next() * max), pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]! };
}

// The demo catalogue as Shopify knows it (ids beyond 2^53 kept exact).
const catalogue = [
  { sku: 'SKU2006-001', variantId: '642667041472713922', inventoryItemId: '271878346596884015', price: '89.99' },
  { sku: 'SKU2006-020', variantId: '757650484644203962', inventoryItemId: '271878346596884016', price: '159.99' },
  { sku: 'SKU-WALLET-01', variantId: '642667041472713999', inventoryItemId: '271878346596884017', price: '50.00' },
  { sku: 'SKU-BEANIE-01', variantId: '642667041472714000', inventoryItemId: '271878346596884018', price: '24.99' },
] as const;
const warehouseLocationId = '24826418';
const storeLocationId = '24826419';

function template(path: string): any {
  return parse(readFixture(path).toString('utf8'));
}

const big = (digits: string) => new LosslessNumber(digits);
const money = (amount: string) => ({ shop_money: { amount, currency_code: 'USD' }, presentment_money: { amount, currency_code: 'USD' } });
const cents = (amount: string) => Math.round(Number(amount) * 100);
const decimal = (minor: number) => (minor / 100).toFixed(2);

function minutesAfter(base: number, minutes: number): string {
  return new Date(base + minutes * 60_000).toISOString();
}

/** One day: 12 customers, 20 web orders, some fulfilled, cancelled or refunded, and stock counts from the warehouse. */
function buildDay(seed: number): Delivery[] {
  const random = randomSource(seed);
  const dayStart = Date.now() - 6 * 3_600_000;
  const deliveries: Delivery[] = [];
  let sequence = 0;
  const add = (fixture: string, topic: string, at: string, body: unknown) => {
    sequence += 1;
    deliveries.push({ fixture, topic, webhookId: `chaos-${seed}-${sequence}`, eventId: `chaos-event-${seed}-${sequence}`, triggeredAt: at, body: Buffer.from(stringify(body) ?? '') });
  };

  const customers = Array.from({ length: 12 }, (_, index) => ({ id: 7_000_000_000_000 + index, email: `shopper${index}@chaos.example`, phone: `+1613555${String(1000 + index)}` }));
  for (const [index, customer] of customers.entries()) {
    const body = template('shopify/customers-create.json');
    Object.assign(body, { id: customer.id, email: customer.email, phone: customer.phone, first_name: `Shopper${index}`, last_name: 'Chaos', created_at: minutesAfter(dayStart, index), updated_at: minutesAfter(dayStart, index), addresses: [], default_address: undefined });
    add('shopify/customers-create.json', 'customers/create', minutesAfter(dayStart, index), body);
  }

  for (let index = 0; index < 20; index += 1) {
    const at = 20 + index * 10;
    const orderId = 5_000_000_000_000 + index;
    const customer = random.pick(customers);
    const chosen = [random.pick(catalogue), random.pick(catalogue)].filter((item, position, all) => all.findIndex((other) => other.sku === item.sku) === position);
    const lines = chosen.map((item, position) => ({ item, id: orderId * 10 + position, quantity: 1 + random.int(2) }));
    const totalMinor = lines.reduce((sum, line) => sum + cents(line.item.price) * line.quantity, 0);
    const order = template('shopify/orders-create.json');
    const lineTemplate = order.line_items[0];
    Object.assign(order, {
      id: orderId, name: `#C${index}`, order_number: 9000 + index, email: customer.email, contact_email: customer.email, phone: null,
      created_at: minutesAfter(dayStart, at), processed_at: minutesAfter(dayStart, at), updated_at: minutesAfter(dayStart, at),
      customer: { ...order.customer, id: customer.id, email: customer.email, phone: customer.phone, first_name: 'Shopper', last_name: 'Chaos', default_address: undefined },
      billing_address: undefined, shipping_address: undefined, financial_status: 'paid', fulfillment_status: null, cancelled_at: null,
      // Every fourth order is rung up on Shopify POS in the store; the rest are web orders the warehouse ships.
      ...(index % 4 === 3 ? { source_name: 'pos', location_id: Number(storeLocationId) } : { source_name: 'web', location_id: null }),
      discount_codes: [], discount_applications: [], shipping_lines: [],
      total_line_items_price_set: money(decimal(totalMinor)), subtotal_price_set: money(decimal(totalMinor)), total_price_set: money(decimal(totalMinor)),
      total_tax_set: money('0.00'), total_discounts_set: money('0.00'), total_shipping_price_set: money('0.00'),
      total_price: decimal(totalMinor), subtotal_price: decimal(totalMinor), total_tax: '0.00', total_discounts: '0.00', total_line_items_price: decimal(totalMinor),
      line_items: lines.map((line) => ({ ...lineTemplate, id: line.id, variant_id: big(line.item.variantId), sku: line.item.sku, quantity: line.quantity, current_quantity: line.quantity, fulfillable_quantity: line.quantity, price: line.item.price, price_set: money(line.item.price), discount_allocations: [], tax_lines: [], total_discount: '0.00', total_discount_set: money('0.00') })),
    });
    add('shopify/orders-create.json', 'orders/create', minutesAfter(dayStart, at), order);

    // Every fifth order is cancelled; others are fulfilled, some then refunded.
    const fate = index % 5;
    if (fate === 0) {
      add('shopify/orders-create.json', 'orders/cancelled', minutesAfter(dayStart, at + 5), { ...order, cancelled_at: minutesAfter(dayStart, at + 5), updated_at: minutesAfter(dayStart, at + 5), financial_status: 'refunded' });
    } else if (fate <= 2) {
      add('shopify/orders-create.json', 'orders/updated', minutesAfter(dayStart, at + 3), { ...order, fulfillment_status: 'fulfilled', updated_at: minutesAfter(dayStart, at + 3) });
      if (fate === 2) {
        const line = lines[0]!;
        const refund = template('shopify/refunds-create.json');
        const refundLine = refund.refund_line_items[0];
        const amount = line.item.price;
        Object.assign(refund, {
          id: 6_000_000_000_000 + index, order_id: orderId, created_at: minutesAfter(dayStart, at + 7), processed_at: minutesAfter(dayStart, at + 7), note: 'Returned by mail',
          refund_line_items: [{ ...refundLine, id: orderId * 100, line_item_id: line.id, quantity: 1, location_id: Number(warehouseLocationId), restock_type: 'return', subtotal: Number(amount), total_tax: 0, subtotal_set: money(amount), total_tax_set: money('0.00'), line_item: { ...refundLine.line_item, id: line.id, variant_id: big(line.item.variantId), sku: line.item.sku, price: amount } }],
          transactions: (refund.transactions ?? []).slice(0, 1).map((transaction: any) => ({ ...transaction, order_id: orderId, amount, kind: 'refund', status: 'success', currency: 'USD' })),
        });
        add('shopify/refunds-create.json', 'refunds/create', minutesAfter(dayStart, at + 7), refund);
      }
    }
  }

  // The warehouse counts two items twice during the day: the later count is the truth.
  for (const [round, minutes] of [[0, 100], [1, 180]] as const) {
    for (const item of catalogue.slice(0, 2)) {
      const level = template('shopify/inventory_levels-update.json');
      Object.assign(level, { inventory_item_id: big(item.inventoryItemId), location_id: Number(warehouseLocationId), available: 40 + round * 5 + random.int(3), updated_at: minutesAfter(dayStart, minutes) });
      add('shopify/inventory_levels-update.json', 'inventory_levels/update', minutesAfter(dayStart, minutes), level);
    }
  }
  return deliveries;
}

async function deliver(harness: TestEngine, delivery: Delivery, webhookId = delivery.webhookId): Promise<void> {
  const response = await harness.deliverShopifyFixture(delivery.fixture, { 'X-Shopify-Topic': delivery.topic, 'X-Shopify-Webhook-Id': webhookId, 'X-Shopify-Event-Id': delivery.eventId, 'X-Shopify-Triggered-At': delivery.triggeredAt }, delivery.body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

/** Runs the worker until nothing is due, letting the time of every backoff pass (a day may need several). */
async function settle(harness: TestEngine): Promise<void> {
  const db = harness.engine.database.db;
  for (let round = 0; round < 20; round += 1) {
    await harness.engine.worker.drain();
    const waiting = await db.updateTable('inbox_events').set({ available_at: new Date(0).toISOString() }).where('status', '=', 'received').executeTakeFirst();
    if (Number(waiting.numUpdatedRows) === 0) return;
  }
  throw new Error('the inbox did not settle');
}

/** Everything a merchant would look at, keyed by channel ids and emails (never by our generated ids). */
async function businessState(harness: TestEngine) {
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  const customers = await db.selectFrom('customer_identifiers').innerJoin('customers', 'customers.id', 'customer_identifiers.customer_id')
    .select(['customer_identifiers.value_normalized as email', 'customers.id as id', 'customers.state as state'])
    .where('customer_identifiers.merchant_id', '=', merchantId).where('customer_identifiers.kind', '=', 'email').orderBy('customer_identifiers.value_normalized').execute();
  const loyalty: Record<string, unknown> = {};
  for (const customer of customers) {
    const account = await db.selectFrom('loyalty_accounts').select(['available', 'pending', 'lifetime_earned', 'tier']).where('merchant_id', '=', merchantId).where('customer_id', '=', customer.id).executeTakeFirst();
    const entries = await sumLoyaltyEntries(db, merchantId, customer.id);
    assert.equal(entries.available, account?.available ?? 0, `${customer.email}: the ledger balances`);
    loyalty[customer.email] = { state: customer.state, ...(account ?? {}) };
  }
  const orders = await db.selectFrom('orders').select(['source_ref', 'channel', 'status', 'refunded_minor', 'total_minor', 'fulfilment_status', 'cancelled_at']).where('merchant_id', '=', merchantId).orderBy('source_ref').execute();
  const lines = await db.selectFrom('order_lines').innerJoin('orders', 'orders.id', 'order_lines.order_id').select(['orders.source_ref as order', 'order_lines.source_ref as line', 'order_lines.quantity', 'order_lines.returned_quantity', 'order_lines.points_earned']).where('order_lines.merchant_id', '=', merchantId).orderBy('order_lines.source_ref').execute();
  const stock = await db.selectFrom('stock_levels').innerJoin('variants', 'variants.id', 'stock_levels.variant_id').select(['variants.sku', 'stock_levels.location_id', 'stock_levels.on_hand', 'stock_levels.reserved']).where('stock_levels.merchant_id', '=', merchantId).orderBy('variants.sku').orderBy('stock_levels.location_id').execute();
  for (const level of stock) {
    const moved = await db.selectFrom('stock_movements').innerJoin('variants', 'variants.id', 'stock_movements.variant_id').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('on_hand_delta'), eb.lit(0)).as('delta')).where('stock_movements.merchant_id', '=', merchantId).where('variants.sku', '=', level.sku).where('stock_movements.location_id', '=', level.location_id).executeTakeFirstOrThrow();
    assert.equal(Number(moved.delta), level.on_hand, `${level.sku}: the level equals its movements`);
  }
  const returns = await db.selectFrom('returns').select(['source_ref', 'amount_minor']).where('merchant_id', '=', merchantId).orderBy('source_ref').execute();
  return { loyalty, orders, lines, stock: stock.map(({ sku, on_hand, reserved }) => ({ sku, on_hand, reserved })), returns };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] chaos: a day of Shopify webhooks delivered 1–3 times, shuffled and delayed, ends where one in-order delivery ends`, async (t) => {
    const day = buildDay(2026);
    const inOrder = await startTestEngine(dialect);
    t.after(() => inOrder.dispose());
    for (const delivery of day) {
      await deliver(inOrder, delivery);
      await settle(inOrder);
    }
    const expected = await businessState(inOrder);
    assert.equal(expected.orders.length, 20);
    assert.ok(expected.returns.length > 0, 'the day has refunds');
    assert.ok(expected.orders.some((order) => order.cancelled_at !== null), 'the day has a cancellation');
    assert.ok(expected.orders.some((order) => order.channel === 'store'), 'the day has store sales');

    for (const shuffleSeed of [7, 11, 23]) {
      await t.test(`shuffle ${shuffleSeed}`, async () => assert.deepEqual(await deliverChaotically(dialect, day, shuffleSeed), expected));
    }
  });
}

/** Delivers the day as channels do — copies, new delivery ids, shuffled, the worker at random moments — and returns the end state. */
async function deliverChaotically(dialect: (typeof DIALECTS)[number], day: Delivery[], seed: number) {
  const chaotic = await startTestEngine(dialect);
  try {
    const random = randomSource(seed);
    const copies = day.flatMap((delivery) => Array.from({ length: 1 + random.int(3) }, (_, copy) => ({ delivery, webhookId: copy === 2 ? `${delivery.webhookId}-redelivered` : delivery.webhookId })));
    for (let index = copies.length - 1; index > 0; index -= 1) {
      const other = random.int(index + 1);
      [copies[index], copies[other]] = [copies[other]!, copies[index]!];
    }
    for (const copy of copies) {
      await deliver(chaotic, copy.delivery, copy.webhookId);
      // The worker runs at moments of its own choosing.
      if (random.int(4) === 0) await chaotic.engine.worker.drain();
    }
    await settle(chaotic);
    return await businessState(chaotic);
  } finally {
    await chaotic.dispose();
  }
}
