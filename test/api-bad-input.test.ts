import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { startLockedTestEngine } from './support/postgres-schema-lock.ts';
import { testPosKey, type TestEngine } from './support/engine-harness.ts';

// Bad input to the merchant API: every refusal is a 4xx with `{ error: { code, message, details } }`
// that names what was wrong, and a refused sale writes nothing: no order, no stock movement, no
// points, no customer, no outbox message.

type SaleBody = Record<string, unknown>;

function assertError(response: { status: number; body: any }, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
  assert.equal(typeof response.body.error.message, 'string');
  assert.ok(response.body.error.message.length > 0);
  assert.equal(typeof response.body.error.details, 'object');
}

const writtenTables = ['orders', 'order_lines', 'order_discounts', 'payments', 'stock_movements', 'loyalty_transactions', 'loyalty_entries', 'loyalty_lots', 'promotion_redemptions', 'customers', 'customer_identifiers', 'outbox_events'] as const;

/** Row counts of every table a sale writes, and the store's stock of every demo SKU. */
async function writtenState(harness: TestEngine) {
  const db = harness.engine.database.db;
  const counts: Record<string, number> = {};
  for (const table of writtenTables) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    counts[table] = Number(row.count);
  }
  const stock: Record<string, number> = {};
  for (const sku of ['SKU2006-001', 'SKU2006-020', 'SKU-WALLET-01', 'SKU-BEANIE-01']) {
    const response = await harness.request('GET', `/v1/inventory?sku=${sku}`);
    for (const level of response.body.data) stock[`${sku}@${level.location_id}`] = level.on_hand;
  }
  return { counts, stock };
}

async function withEngine(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]): Promise<TestEngine> {
  const harness = await startLockedTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

function sale(harness: TestEngine, body: SaleBody, headers: Record<string, string> = {}) {
  return harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'S-1', register_id: 'register-1', location_id: harness.demo.store.id, ...body }, headers });
}

/** Sends a sale that must be refused, and checks that it wrote nothing at all. */
async function refusedSale(harness: TestEngine, body: SaleBody, status: number, code: string) {
  const before = await writtenState(harness);
  const response = await sale(harness, body);
  assertError(response, status, code);
  assert.deepEqual(await writtenState(harness), before, `${code}: nothing is written`);
  return response.body.error;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a sale without lines is refused with 400 request.invalid naming the field lines, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    const missing = await refusedSale(harness, {}, 400, 'request.invalid');
    assert.match(missing.message, /\blines\b/);
    assert.ok(missing.details.issues.some((issue: { field: string }) => issue.field === 'body.lines'), JSON.stringify(missing.details));

    const empty = await refusedSale(harness, { lines: [] }, 400, 'request.invalid');
    assert.ok(empty.details.issues.some((issue: { field: string }) => issue.field === 'body.lines'), JSON.stringify(empty.details));
  });

  test(`[${dialect}] a sale line with quantity 0 is refused with 400 naming lines.0.quantity, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 0 }] }, 400, 'request.invalid');
    assert.match(error.message, /lines\.0\.quantity/);
    const issue = error.details.issues.find((candidate: { field: string }) => candidate.field === 'body.lines.0.quantity');
    assert.ok(issue, JSON.stringify(error.details));
    assert.equal(issue.rule, 'too_small');

    const fractional = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-BEANIE-01', quantity: 1.5 }] }, 400, 'request.invalid');
    assert.ok(fractional.details.issues.some((candidate: { field: string }) => candidate.field === 'body.lines.1.quantity'), JSON.stringify(fractional.details));
  });

  test(`[${dialect}] a sale of an unknown SKU is refused with 422 catalog.unknown_sku naming the line, and no stock or order is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-DOES-NOT-EXIST', quantity: 1 }] }, 422, 'catalog.unknown_sku');
    assert.equal(error.details.field, 'lines.1.sku');
    assert.equal(error.details.sku, 'SKU-DOES-NOT-EXIST');
  });

  test(`[${dialect}] redeeming a reward without a customer is refused with 422 loyalty.customer_required, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['5-OFF'] }, 422, 'loyalty.customer_required');
    assert.equal(error.details.field, 'customer');
  });

  test(`[${dialect}] redeeming more points than she has is refused with 409 loyalty.insufficient_points: no order, stock and balance unchanged`, async (t) => {
    const harness = await withEngine(t, dialect);
    const customer = { email: 'sam.lee@example.com', first_name: 'Sam', last_name: 'Lee' };
    const first = await sale(harness, { sale_id: 'S-1', customer, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(first.body.data.loyalty, { available: 50, pending: 0, tier: 'Member' });
    const customerId = first.body.data.order.customer_id;

    const error = await refusedSale(harness, { sale_id: 'S-2', customer, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['5-OFF'] }, 409, 'loyalty.insufficient_points');
    assert.equal(error.details.available, 50);
    assert.equal(error.details.requested, 100);
    const loyalty = (await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data;
    assert.equal(loyalty.available, 50);
    assert.equal(loyalty.history.length, 1, 'only the first sale earned; nothing was redeemed');

    // Two rewards, the first covered and the second not: the first is rolled back too.
    await sale(harness, { sale_id: 'S-3', customer, lines: [{ sku: 'SKU-BEANIE-01', quantity: 4 }] });
    assert.equal((await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available, 50 + 99);
    await refusedSale(harness, { sale_id: 'S-4', customer, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['5-OFF', '5-OFF'] }, 409, 'loyalty.insufficient_points');
    assert.equal((await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available, 149);
  });

  test(`[${dialect}] payments that do not add up to the total are refused with 422 orders.payment_mismatch, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    // 50.00 + 13 % tax = 56.50; the register says 50.00 was paid.
    const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], payments: [{ method: 'card', amount_minor: 5000 }] }, 422, 'orders.payment_mismatch');
    assert.equal(error.details.field, 'payments');
    assert.equal(error.details.paid_minor, 5000);
    assert.equal(error.details.total_minor, 5650);

    const paid = await sale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], payments: [{ method: 'card', amount_minor: 5000 }, { method: 'cash', amount_minor: 650 }] });
    assert.equal(paid.status, 201, 'split payments that add up are accepted');
  });

  test(`[${dialect}] an unknown promotion code is refused with 422 promotions.unknown_code naming promotion_codes, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['WINTER99'] }, 422, 'promotions.unknown_code');
    assert.equal(error.details.field, 'promotion_codes');
    assert.equal(error.details.code, 'WINTER99');
  });

  test(`[${dialect}] an unknown reward is refused like an unknown promotion code: 422 loyalty.unknown_reward naming rewards, and nothing is written`, async (t) => {
    // Regression: this was a 400 (the code loyalty.reward_not_found matched no status rule) and named no field.
    const harness = await withEngine(t, dialect);
    const error = await refusedSale(harness, { customer: { email: 'sam.lee@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['NO-SUCH-REWARD'] }, 422, 'loyalty.unknown_reward');
    assert.equal(error.details.field, 'rewards');
    assert.equal(error.details.reward, 'NO-SUCH-REWARD');
  });

  test(`[${dialect}] the same promotion code twice in one sale is refused with 422 promotions.code_repeated, and nothing is written`, async (t) => {
    // Regression: ["SUMMER10", "summer10"] took 10 % and then 10 % of the rest (5.00 + 4.50) off a 50.00 wallet.
    const harness = await withEngine(t, dialect);
    for (const codes of [['SUMMER10', 'summer10'], ['SUMMER10', 'SUMMER10'], ['SUMMER10', ' Summer10 ']]) {
      const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: codes }, 422, 'promotions.code_repeated');
      assert.equal(error.details.field, 'promotion_codes');
      assert.equal(error.details.code, 'SUMMER10');
    }
    const once = await sale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['summer10'] });
    assert.equal(once.status, 201, JSON.stringify(once.body));
    assert.equal(once.body.data.order.discount.amount_minor, 500, 'once, it takes its 10 %');
  });

  test(`[${dialect}] a reward with nothing left of the sale to take off is refused with 422 loyalty.reward_not_applicable; no points are spent`, async (t) => {
    // Regression: two 5-OFF on a 3.00 item took 3.00 + 0.00 off and charged 200 points.
    const harness = await withEngine(t, dialect);
    const customer = { email: 'sam.lee@example.com' };
    const earned = await sale(harness, { sale_id: 'S-EARN', customer, lines: [{ sku: 'SKU-WALLET-01', quantity: 5 }] });
    assert.equal(earned.body.data.loyalty.available, 250);

    const error = await refusedSale(harness, { sale_id: 'S-REDEEM', customer, lines: [{ sku: 'SKU-WALLET-01', quantity: 1, unit_price_minor: 300 }], rewards: ['5-OFF', '5-OFF'] }, 422, 'loyalty.reward_not_applicable');
    assert.equal(error.details.field, 'rewards');
    const customerId = earned.body.data.order.customer_id;
    assert.equal((await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available, 250);

    // One reward on the same 3.00 item is still allowed: it takes what there is.
    const one = await sale(harness, { sale_id: 'S-REDEEM-1', customer, lines: [{ sku: 'SKU-WALLET-01', quantity: 1, unit_price_minor: 300 }], rewards: ['5-OFF'] });
    assert.equal(one.status, 201, JSON.stringify(one.body));
    assert.deepEqual(one.body.data.order.discounts.map((discount: { amount: { amount_minor: number } }) => discount.amount.amount_minor), [300]);
    assert.equal(one.body.data.points_redeemed, 100);
  });

  test(`[${dialect}] selling more than the store has available is refused with 409 inventory.insufficient_stock, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    // The store holds 1 lounger (the warehouse holds 5, which the register cannot sell).
    const error = await refusedSale(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU2006-020', quantity: 2 }] }, 409, 'inventory.insufficient_stock');
    assert.equal(error.details.available, 1);
    assert.equal(error.details.requested, 2);
    assert.equal(error.details.location_id, harness.demo.store.id);
  });

  test(`[${dialect}] a sale at an unknown location is refused with 404 locations.not_found, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    await refusedSale(harness, { location_id: 'loc_does_not_exist', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] }, 404, 'locations.not_found');
  });

  test(`[${dialect}] a location mapped to a Shopify or Square location id the merchant already uses is refused with 409 naming the field`, async (t) => {
    // Regression: the unique index answered first, as a 500 internal.error.
    const harness = await withEngine(t, dialect);
    const shopify = await harness.request('POST', '/v1/locations', { body: { name: 'Second Rideau', kind: 'store', shopify_location_id: '24826419' } });
    assertError(shopify, 409, 'locations.duplicate_channel_location');
    assert.equal(shopify.body.error.details.field, 'shopify_location_id');
    const square = await harness.request('POST', '/v1/locations', { body: { name: 'Third Rideau', kind: 'store', square_location_id: 'S8GWD5R9QB376' } });
    assertError(square, 409, 'locations.duplicate_channel_location');
    assert.equal(square.body.error.details.field, 'square_location_id');
    assert.equal((await harness.request('GET', '/v1/locations')).body.data.length, 2, 'no location was created');
  });

  test(`[${dialect}] the same Idempotency-Key with the same body replays the first response; with another body it is 409 idempotency.key_reused`, async (t) => {
    const harness = await withEngine(t, dialect);
    const body = { sale_id: 'S-IDEM', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] };
    const headers = { 'idempotency-key': 'register-1-0001' };

    const first = await sale(harness, body, headers);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const afterFirst = await writtenState(harness);
    assert.equal(afterFirst.stock[`SKU-WALLET-01@${harness.demo.store.id}`], 7);

    const replay = await sale(harness, body, headers);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.body, first.body);
    assert.deepEqual(await writtenState(harness), afterFirst, 'the replay wrote nothing');

    const reused = await sale(harness, { ...body, lines: [{ sku: 'SKU-WALLET-01', quantity: 2 }] }, headers);
    assertError(reused, 409, 'idempotency.key_reused');
    assert.equal(reused.body.error.details.header, 'Idempotency-Key');
    assert.deepEqual(await writtenState(harness), afterFirst, 'the reused key wrote nothing');

    const tooLong = await sale(harness, { ...body, sale_id: 'S-LONG' }, { 'idempotency-key': 'k'.repeat(256) });
    assertError(tooLong, 400, 'request.invalid');
    assert.equal(tooLong.body.error.details.header, 'Idempotency-Key');
    assert.deepEqual(await writtenState(harness), afterFirst);
  });

  test(`[${dialect}] a customer lookup with q shorter than 2 characters, empty or missing is refused with 400 naming q`, async (t) => {
    const harness = await withEngine(t, dialect);
    for (const url of ['/v1/customers/lookup?q=a', '/v1/customers/lookup?q=', '/v1/customers/lookup?q=%20%20%20', `/v1/customers/lookup?q=${'j'.repeat(201)}`]) {
      const response = await harness.request('GET', url);
      assertError(response, 400, 'customers.invalid_query');
      assert.equal(response.body.error.details.field, 'q', url);
    }
    const missing = await harness.request('GET', '/v1/customers/lookup');
    assertError(missing, 400, 'request.invalid');
    assert.ok(missing.body.error.details.issues.some((issue: { field: string }) => issue.field === 'querystring.q'));
  });

  test(`[${dialect}] malformed JSON sent to a /v1 POST is refused with 400 request.malformed_json, and nothing is written`, async (t) => {
    const harness = await withEngine(t, dialect);
    const before = await writtenState(harness);
    for (const payload of ['{"sale_id": "S-1", "lines": [', '', 'not json']) {
      const response = await harness.engine.server.inject({
        method: 'POST', url: '/v1/pos/sales', payload,
        headers: { authorization: `Bearer ${testPosKey}`, 'content-type': 'application/json' },
      });
      assertError({ status: response.statusCode, body: JSON.parse(response.body) }, 400, 'request.malformed_json');
    }
    assert.deepEqual(await writtenState(harness), before);
  });

  test(`[${dialect}] an unknown route answers 404 http.route_not_found with the error shape`, async (t) => {
    const harness = await withEngine(t, dialect);
    for (const [method, url] of [['GET', '/v1/nothing-here'], ['POST', '/v1/pos/refunds'], ['GET', '/']] as const) {
      const response = await harness.request(method, url, method === 'POST' ? { body: {} } : {});
      assertError(response, 404, 'http.route_not_found');
      assert.match(response.body.error.message, new RegExp(url.replaceAll('/', '\\/')));
      assert.equal(response.body.error.details.method, method);
    }
  });
}
