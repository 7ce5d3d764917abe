import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as channelRefundParts from '../src/db/migrations/0023-channel-refund-parts.ts';
import * as returnLineRefund from '../src/db/migrations/0025-return-line-refund.ts';
import { toCsv } from '../src/reports/index.ts';
import { parseJsonExactly } from '../src/shared/json.ts';
import { createTestClock, installClock, nowIso, nowMs } from '../src/shared/clock.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// The operations console's reports (issue #8), checked by exact figures against a known day of
// business: Jane's paid web order from the Shopify fixture (placed 2025-06-14) with one line
// refunded online, her store sale with SUMMER10 and the 5-OFF reward, and Bob's store sale, which
// he brings back. Then sync health hour by hour, read from the inbox and outbox.

const from = '2025-06-01';
const dayMs = 86_400_000;
const hourMs = 3_600_000;

interface Business {
  today: string;
  to: string;
}

function assertError(response: { status: number; body: any }, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
}

/** The known business: every figure below follows from these four documents. */
async function recordBusiness(harness: TestEngine): Promise<Business> {
  const { engine, demo } = harness;
  const today = new Date().toISOString().slice(0, 10);
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
  await engine.worker.drain();
  // 5000 wallet − 500 SUMMER10 − 500 reward = 4000, 13 % tax 520, paid 4520 by card; earns 40, spends 100.
  const jane = await harness.request('POST', '/v1/pos/sales', {
    key: testPosKey,
    body: { sale_id: 'R1-0001', location_id: demo.store.id, customer: { phone: '613.555.0142' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['SUMMER10'], rewards: ['5-OFF'], payments: [{ method: 'card', amount_minor: 4520 }] },
  });
  assert.equal(jane.status, 201, JSON.stringify(jane.body));
  // 5000 wallet, 13 % tax 650, paid 5650 in cash; earns 50.
  const bob = await harness.request('POST', '/v1/pos/sales', {
    key: testPosKey,
    body: { sale_id: 'R1-0002', location_id: demo.store.id, customer: { email: 'bob@example.com', first_name: 'Bob' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], payments: [{ method: 'cash', amount_minor: 5650 }] },
  });
  assert.equal(bob.status, 201, JSON.stringify(bob.body));
  // Shopify refunds the sunglasses line of the web order: 8747 back, its 81 points reversed.
  assert.equal((await harness.deliverShopifyFixture('shopify/refunds-create.json')).status, 200);
  await engine.worker.drain();
  // Bob brings his wallet back to the store: 5650 back, his 50 points reversed.
  const returned = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: bob.body.data.order.id, location_id: demo.store.id, return_ref: 'RET-BOB', lines: [{ order_line_id: bob.body.data.order.lines[0].id, quantity: 1 }] } });
  assert.equal(returned.status, 201, JSON.stringify(returned.body));
  assert.equal(returned.body.data.total.amount_minor, 5650);
  await engine.worker.drain();
  assert.equal(new Date().toISOString().slice(0, 10), today, 'the test did not run across midnight UTC');
  return { today, to: new Date(Date.parse(today) + dayMs).toISOString().slice(0, 10) };
}

// Jane's web order: 24998 of goods less 2500 of discounts, 1000 shipping, 1800 tax, paid 25298.
// Shopify's refund gives back the sunglasses: 8999 less their 900 discount, and their 648 tax
// (8747): returns 8099, tax 1800 − 648.
const online = {
  orders: 1, gross_minor: 24998, discounts_minor: 2500, returns_minor: 8099, net_sales_minor: 24998 - 2500 - 8099, shipping_minor: 1000, tax_minor: 1800 - 648,
  total_sales_minor: 25298 - 8747, refunds_minor: 8747, payments: { shopify_payments: 25298 },
};
// The store's two sales: 10000 of wallets less 1000 (SUMMER10 and the reward), 1170 tax. Bob's
// wallet comes back whole: 5000 and its 650 tax (5650).
const store = {
  orders: 2, gross_minor: 10000, discounts_minor: 1000, returns_minor: 5000, net_sales_minor: 10000 - 1000 - 5000, shipping_minor: 0, tax_minor: 1170 - 650,
  total_sales_minor: 4520 + 5650 - 5650, refunds_minor: 5650, payments: { card: 4520, cash: 5650 },
};
const nothingSold = { orders: 0, gross_minor: 0, discounts_minor: 0, shipping_minor: 0, tax_minor: 0, payments: {} };

for (const dialect of DIALECTS) {
  test(`[${dialect}] sales by channel, location and day: gross, discounts, returns, net sales, shipping, tax, total sales, refunds and payments, to the minor unit`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { today, to } = await recordBusiness(harness);
    const sales = async (group: string) => {
      const response = await harness.request('GET', `/v1/reports/sales?group=${group}&from=${from}&to=${to}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(response.body.period, { from, to });
      return response.body.data;
    };

    assert.deepEqual(await sales('channel'), [
      { channel: 'online', location_id: null, location_name: null, day: null, ...online },
      { channel: 'store', location_id: null, location_name: null, day: null, ...store },
    ]);
    assert.deepEqual(await sales('location'), [
      { channel: null, location_id: null, location_name: 'Online', day: null, ...online },
      { channel: null, location_id: harness.demo.store.id, location_name: 'Rideau Street Store', day: null, ...store },
    ], 'the web order names no location: Online');
    assert.deepEqual(await sales('day'), [
      { channel: null, location_id: null, location_name: null, day: '2025-06-14', ...online, returns_minor: 0, net_sales_minor: 24998 - 2500, tax_minor: 1800, total_sales_minor: 25298, refunds_minor: 0 },
      {
        channel: null, location_id: null, location_name: null, day: today, ...store, returns_minor: 8099 + 5000, net_sales_minor: 10000 - 1000 - 8099 - 5000, tax_minor: 1170 - 648 - 650,
        total_sales_minor: 4520 + 5650 - 8747 - 5650, refunds_minor: 8747 + 5650,
      },
    ], 'each return counts on the day it was given');
    const todayOnly = await harness.request('GET', `/v1/reports/sales?from=${today}&to=${today}`);
    assert.deepEqual(todayOnly.body.data, [
      { channel: 'online', location_id: null, location_name: null, day: null, ...nothingSold, returns_minor: 8099, net_sales_minor: -8099, tax_minor: -648, total_sales_minor: -8747, refunds_minor: 8747 },
      { channel: 'store', location_id: null, location_name: null, day: null, ...store },
    ], 'a return of an order placed before the period lowers the period\'s sales against the order\'s channel');

    // Shopify then gives back the web order's shipping: 10.00, and 1.30 of tax with it.
    const refund = parseJsonExactly(readFixture('shopify/refunds-create.json').toString('utf8')) as Record<string, any>;
    const money = (amount: string) => ({ shop_money: { amount, currency_code: 'USD' }, presentment_money: { amount, currency_code: 'USD' } });
    const shippingRefund = {
      ...refund, id: '509562969', refund_line_items: [], refund_shipping_lines: [{ id: 1, shipping_line_id: 2, subtotal_amount_set: money('10.00'), tax_amount_set: money('1.30') }],
      transactions: [{ ...refund['transactions'][0], id: '389404469', amount: '11.30' }],
    };
    const delivered = await harness.deliverShopifyFixture('shopify/refunds-create.json', { 'X-Shopify-Webhook-Id': 'shipping-refund-1', 'X-Shopify-Event-Id': 'shipping-refund-1' }, Buffer.from(JSON.stringify(shippingRefund)));
    assert.equal(delivered.status, 200);
    await harness.engine.worker.drain();
    const [onlineAfter] = await sales('channel');
    assert.deepEqual(onlineAfter, {
      channel: 'online', location_id: null, location_name: null, day: null, ...online, shipping_minor: 1000 - 1000, tax_minor: 1800 - 648 - 130,
      total_sales_minor: 25298 - 8747 - 1130, refunds_minor: 8747 + 1130,
    }, 'shipping given back counts before its tax, its tax with the tax given back; net sales do not move');
  });

  test(`[${dialect}] each report as CSV: text/csv attachment named after the report and period, one line per row, payments as columns`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { today, to } = await recordBusiness(harness);
    const csv = async (path: string) => {
      const response = await harness.request('GET', `${path}${path.includes('?') ? '&' : '?'}from=${from}&to=${to}&format=csv`);
      assert.equal(response.status, 200, String(response.body));
      assert.equal(response.headers['content-type'], 'text/csv; charset=utf-8');
      return { disposition: response.headers['content-disposition'], lines: String(response.body).split('\r\n') };
    };

    const sales = await csv('/v1/reports/sales?group=location');
    assert.equal(sales.disposition, `attachment; filename="sales-${from}-${to}.csv"`);
    assert.deepEqual(sales.lines, [
      'channel,location_id,location_name,day,orders,gross_minor,discounts_minor,returns_minor,net_sales_minor,shipping_minor,tax_minor,total_sales_minor,refunds_minor,payments_card,payments_cash,payments_shopify_payments',
      ',,Online,,1,24998,2500,8099,14399,1000,1152,16551,8747,0,0,25298',
      `,${harness.demo.store.id},Rideau Street Store,,2,10000,1000,5000,4000,0,520,4520,5650,4520,5650,0`,
      '',
    ]);
    // A refund recorded before channel refunds kept their parts is filled in from its lines by
    // migration 0023, and its line's refund given its tax by 0025: the sunglasses at 8999 less
    // their 900 discount, 8747 given back with their tax, as recorded today.
    const db = harness.engine.database.db;
    const shopifyReturnLine = () => db.selectFrom('return_lines').innerJoin('returns', 'returns.id', 'return_lines.return_id').select(['return_lines.gross_minor', 'return_lines.discount_minor', 'return_lines.amount_minor']).where('returns.source', '=', 'shopify').execute();
    assert.deepEqual(await shopifyReturnLine(), [{ gross_minor: 8999, discount_minor: 900, amount_minor: 8747 }]);
    await returnLineRefund.down(db);
    await channelRefundParts.down(db);
    assert.deepEqual(await shopifyReturnLine(), [{ gross_minor: 0, discount_minor: 0, amount_minor: 8099 }], 'as a refund was recorded before 0023');
    await channelRefundParts.up(db);
    await returnLineRefund.up(db);
    assert.deepEqual(await shopifyReturnLine(), [{ gross_minor: 8999, discount_minor: 900, amount_minor: 8747 }]);
    assert.deepEqual((await csv('/v1/reports/sales?group=location')).lines, sales.lines, 'the report reads the same figures from refunds filled in');
    const [shopifyReturn] = await db.selectFrom('returns').select('id').where('source', '=', 'shopify').execute();
    const shown = (await harness.request('GET', `/v1/returns/${shopifyReturn!.id}`, { key: testPosKey })).body.data;
    assert.deepEqual(
      { total: shown.total.amount_minor, merchandise: shown.merchandise.amount_minor, discount: shown.discount.amount_minor, tax: shown.tax.amount_minor, line: shown.lines[0].refund.amount_minor },
      { total: 8747, merchandise: 8999, discount: 900, tax: 648, line: 8747 },
      'Shopify\'s refund shows its parts, and its line gives back its tax too',
    );
    const customers = await csv('/v1/reports/customers');
    assert.equal(customers.disposition, `attachment; filename="customers-${from}-${to}.csv"`);
    assert.deepEqual(customers.lines, ['combination,customers,orders,repeat_customers,total_minor', 'online_only,0,0,0,0', 'store_only,1,1,0,5650', 'both,1,2,1,29818', 'all,2,3,1,35468', '']);
    const loyalty = await csv('/v1/reports/loyalty?group=day');
    assert.deepEqual(loyalty.lines, ['day,points_issued,points_redeemed,points_reversed,points_expired,points_restored,points_adjusted', `${today},314,100,131,0,0,0`, '']);
    const rewards = await csv('/v1/reports/rewards');
    assert.equal(rewards.disposition, `attachment; filename="rewards-${from}-${to}.csv"`);
    assert.deepEqual(rewards.lines, ['channel,reward_code,redemptions,points', 'store,5-OFF,1,100', '']);
  });

  test(`[${dialect}] customers across channels, points by day and rewards by channel, from the same business`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { today, to } = await recordBusiness(harness);
    const get = async (path: string) => {
      const response = await harness.request('GET', `${path}${path.includes('?') ? '&' : '?'}from=${from}&to=${to}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body.data;
    };

    assert.deepEqual(await get('/v1/reports/customers'), {
      customers_with_orders: 2, multi_channel_customers: 1, multi_channel_share: 0.5, repeat_customers: 1, repeat_purchase_rate: 0.5,
      rows: [
        { combination: 'online_only', customers: 0, orders: 0, repeat_customers: 0, total_minor: 0 },
        { combination: 'store_only', customers: 1, orders: 1, repeat_customers: 0, total_minor: 5650 },
        { combination: 'both', customers: 1, orders: 2, repeat_customers: 1, total_minor: 25298 + 4520 },
      ],
    }, 'Jane bought online and in store, twice; Bob once in store; the anonymous are not customers');
    // 224 (web order) + 40 (Jane in store) + 50 (Bob) issued; 100 for 5-OFF; 81 (refunded line) + 50 (Bob's return) reversed.
    assert.deepEqual(await get('/v1/reports/loyalty?group=day'), [{ day: today, points_issued: 314, points_redeemed: 100, points_reversed: 131, points_expired: 0, points_restored: 0, points_adjusted: 0 }]);
    assert.deepEqual(await get('/v1/reports/rewards'), [{ channel: 'store', reward_code: '5-OFF', redemptions: 1, points: 100 }]);
    const webOnly = await harness.request('GET', '/v1/reports/customers?from=2025-06-14&to=2025-06-14');
    assert.deepEqual([webOnly.body.data.customers_with_orders, webOnly.body.data.multi_channel_customers, webOnly.body.data.rows[0].customers], [1, 0, 1], 'on the day of the web order she bought online only');
  });

  test(`[${dialect}] a report's period: the last 30 days by default; a bad date, from after to, a period over three years are refused naming the field`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const today = new Date().toISOString().slice(0, 10);

    const byDefault = await harness.request('GET', '/v1/reports/sales');
    assert.equal(byDefault.status, 200);
    assert.deepEqual(byDefault.body.period, { from: new Date(Date.parse(today) - 29 * dayMs).toISOString().slice(0, 10), to: today });
    assert.deepEqual(byDefault.body.data, [], 'no sale in the last 30 days');
    assert.equal(byDefault.body.group, 'channel');

    const notADate = await harness.request('GET', '/v1/reports/sales?from=2026-13-01');
    assertError(notADate, 400, 'request.invalid');
    assert.equal(notADate.body.error.details.issues[0].field, 'querystring.from');
    const reversed = await harness.request('GET', '/v1/reports/loyalty?from=2026-11-02&to=2026-11-01');
    assertError(reversed, 422, 'reports.invalid_period');
    assert.equal(reversed.body.error.details.field, 'from');
    const tooLong = await harness.request('GET', '/v1/reports/customers?from=2020-01-01&to=2026-11-01');
    assertError(tooLong, 422, 'reports.invalid_period');
    assert.equal(tooLong.body.error.details.field, 'to');
    assert.equal(tooLong.body.error.details.rule, 'days_max');
    const badGroup = await harness.request('GET', '/v1/reports/sales?group=week');
    assertError(badGroup, 400, 'request.invalid');
    assert.equal(badGroup.body.error.details.issues[0].field, 'querystring.group');
    assertError(await harness.request('GET', '/v1/reports/rewards?format=xlsx'), 400, 'request.invalid');
    assertError(await harness.request('GET', '/v1/reports/rewards', { key: '' }), 401, 'auth.unauthenticated');
  });

  test(`[${dialect}] sync health hour by hour: webhooks received and applied, messages delivered, retried and dead, what waits and for how long, the circuit now`, async (t) => {
    // The figures are read by clock hour: a test started in an hour's last minutes would see its
    // events split across two, so the clock starts a minute into the next hour then.
    const clock = createTestClock();
    t.after(installClock(clock));
    if (clock.nowMs() % hourMs > hourMs - 180_000) clock.advanceTo(Math.ceil(clock.nowMs() / hourMs) * hourMs + 60_000);
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, fake, demo } = harness;
    await engine.worker.drain();
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
    await engine.worker.drain();
    // The next push to Shopify fails once: it waits for its retry.
    fake.failNext(1, 503);
    const received = await harness.request('POST', '/v1/inventory/receive', { body: { location_id: demo.store.id, sku: 'SKU-BEANIE-01', quantity: 1 } });
    assert.equal(received.status, 200);
    await engine.worker.drain();
    const db = engine.database.db;
    // A message given up on: how it died does not matter to the report, which reads the rows.
    const dead = await db.selectFrom('outbox_events').select('id').where('destination', '=', 'square').where('status', '=', 'delivered').orderBy('id').executeTakeFirstOrThrow();
    await db.updateTable('outbox_events').set({ status: 'dead', attempts: 11, next_attempt_at: nowIso() }).where('id', '=', dead.id).execute();
    const waiting = await db.selectFrom('outbox_events').select(['id', 'created_at']).where('destination', '=', 'shopify').where('status', '=', 'pending').execute();
    assert.equal(waiting.length, 1, 'the failed push waits');
    await db.updateTable('outbox_events').set({ created_at: new Date(nowMs() - 300_000).toISOString() }).where('id', '=', waiting[0]!.id).execute();
    await db.insertInto('channel_circuits').values({ merchant_id: demo.merchant.id, circuit_key: 'square', destination: 'square', state: 'open', consecutive_failures: 5, trips: 1, open_until: new Date(nowMs() + 30_000).toISOString(), opened_at: nowIso(), last_error: '503', updated_at: nowIso() }).execute();
    const outbox = (await harness.request('GET', '/v1/outbox')).body.data as { destination: string; status: string; attempts: number; created_at: string }[];

    const response = await harness.request('GET', '/v1/sync/health?hours=6');

    assert.equal(response.status, 200, JSON.stringify(response.body));
    const channels = response.body.data.channels as any[];
    assert.deepEqual(channels.map((channel) => channel.channel), ['shopify', 'square']);
    const shopify = channels[0];
    assert.equal(shopify.hours.length, 6);
    assert.equal(shopify.hours[5].hour, `${nowIso().slice(0, 13)}:00:00.000Z`, 'the last hour is the current one');
    assert.deepEqual(shopify.hours.slice(0, 4).map((hour: { outbound_delivered: number }) => hour.outbound_delivered), [0, 0, 0, 0]);
    const sum = (channel: any, figure: string) => channel.hours.reduce((total: number, hour: Record<string, number>) => total + hour[figure]!, 0);
    assert.deepEqual([sum(shopify, 'inbound_received'), sum(shopify, 'inbound_processed'), sum(shopify, 'inbound_failed')], [1, 1, 0], 'the web order arrived and was applied');
    const delivered = (destination: string) => outbox.filter((message) => message.destination === destination && message.status === 'delivered').length;
    assert.equal(sum(shopify, 'outbound_delivered'), delivered('shopify'));
    assert.ok(delivered('shopify') > 0);
    assert.equal(sum(shopify, 'outbound_retried'), 1);
    assert.equal(sum(shopify, 'outbound_retried') + sum(shopify, 'outbound_dead'), outbox.filter((message) => message.destination === 'shopify' && message.attempts > 0).length);
    assert.deepEqual([shopify.pending, shopify.dead, shopify.circuit], [1, 0, 'closed']);
    assert.ok(shopify.lag_seconds_now >= 300 && shopify.lag_seconds_now < 400, `the waiting push is five minutes old: ${shopify.lag_seconds_now}`);
    const square = channels[1];
    assert.deepEqual([sum(square, 'outbound_delivered'), sum(square, 'outbound_dead'), square.pending, square.dead, square.lag_seconds_now, square.circuit], [delivered('square'), 1, 0, 1, 0, 'open']);

    // The counts by status: what waits and what died, all of it; what settled, in the last 24 hours.
    const status = (await harness.request('GET', '/v1/sync/status')).body.data;
    assert.deepEqual([status.inbox.processed, status.outbox.pending, status.outbox.dead, status.outbox.delivered], [1, 1, 1, outbox.filter((message) => message.status === 'delivered').length]);
    clock.advance(25 * hourMs);
    const dayLater = (await harness.request('GET', '/v1/sync/status')).body.data;
    assert.deepEqual([dayLater.inbox, dayLater.outbox], [{}, { pending: 1, dead: 1 }], 'a day later only what waits and what died is counted');
    assert.ok(Math.abs(Date.parse(dayLater.settled_since) - (nowMs() - 24 * hourMs)) < 60_000, dayLater.settled_since);
    const quietDay = (await harness.request('GET', '/v1/sync/health?hours=24')).body.data.channels as any[];
    assert.equal(quietDay.reduce((total, channel) => total + sum(channel, 'inbound_received') + sum(channel, 'outbound_delivered'), 0), 0, 'nothing arrived or left in the last 24 hours');
    assert.deepEqual(quietDay.map((channel) => [channel.channel, channel.pending, channel.dead]), [['shopify', 1, 0], ['square', 0, 1]]);

    assertError(await harness.request('GET', '/v1/sync/health?hours=0'), 400, 'request.invalid');
    assertError(await harness.request('GET', '/v1/sync/health?hours=169'), 400, 'request.invalid');
    const byDefault = await harness.request('GET', '/v1/sync/health');
    assert.equal(byDefault.body.data.channels[0].hours.length, 24);
  });
}

test('CSV cells: quotes, commas and line breaks are quoted; a text that a spreadsheet would run as a formula is defused', () => {
  assert.equal(
    toCsv(['name', 'amount'], [['Rideau, "Main"', -5], ['=HYPERLINK("x")', 0], ['line\nbreak', null], ['@sum', 12], ['+1', 3]]),
    'name,amount\r\n"Rideau, ""Main""",-5\r\n"\'=HYPERLINK(""x"")",0\r\n"line\nbreak",\r\n\'@sum,12\r\n\'+1,3\r\n',
  );
});
