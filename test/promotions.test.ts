import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LosslessNumber, parse as parseExactly, stringify as stringifyExactly } from 'lossless-json';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Promotions (issue #6) through HTTP: one rule engine prices carts for every channel
// (POST /v1/carts/price and the register agree), automatic promotions, buy X get Y, member prices
// unlocked by a tier, why a promotion did not apply, usage limits shared by the web store and the
// register (a use past a limit online is recorded and raised), and promotions pushed to Shopify.

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;
const beanieVariantGid = gid('ProductVariant', '642667041472714000');

type Body = Record<string, unknown>;

function assertError(response: { status: number; body: any }, status: number, code: string) {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
  return response.body.error as { code: string; message: string; details: Record<string, any> };
}

async function start(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]): Promise<TestEngine> {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

async function promotionDefined(harness: TestEngine, body: Body) {
  const response = await harness.request('POST', '/v1/promotions', { body });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data;
}

function priceCart(harness: TestEngine, body: Body) {
  return harness.request('POST', '/v1/carts/price', { key: testPosKey, body: { channel: 'store', location_id: harness.demo.store.id, ...body } });
}

async function cartPriced(harness: TestEngine, body: Body) {
  const response = await priceCart(harness, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data;
}

function sale(harness: TestEngine, body: Body) {
  return harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { register_id: 'register-1', location_id: harness.demo.store.id, ...body } });
}

async function customerCreated(harness: TestEngine, email: string): Promise<string> {
  const response = await harness.request('POST', '/v1/customers', { key: testPosKey, body: { email } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data.id;
}

async function janeId(harness: TestEngine): Promise<string> {
  const [jane, ...others] = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe%40example.com')).body.data;
  assert.equal(others.length, 0);
  return jane.id;
}

/** Jane's web order (the orders/create fixture) using `code` instead of SUMMER10. */
async function deliverWebOrderWithCode(harness: TestEngine, code: string): Promise<void> {
  const body = Buffer.from(readFixture('shopify/orders-create.json').toString('utf8').split('SUMMER10').join(code));
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', {}, body)).status, 200);
  await harness.engine.worker.drain();
}

/**
 * Jane's web order (the orders/create fixture) whose 10 % came from Shopify's automatic discount
 * `title` instead of the code SUMMER10: the same allocations on the lines, no code.
 */
async function deliverWebOrderWithAutomaticDiscount(harness: TestEngine, title: string, headers: Record<string, string> = {}): Promise<void> {
  // lossless-json: the fixture's ids are past 2^53 and must stay exact (the variants are mapped by them).
  const order = parseExactly(readFixture('shopify/orders-create.json').toString('utf8')) as any;
  order.discount_codes = [];
  order.discount_applications = [{ target_type: 'line_item', type: 'automatic', value: '10.0', value_type: 'percentage', allocation_method: 'across', target_selection: 'all', title, description: title }];
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', headers, Buffer.from(stringifyExactly(order) ?? ''))).status, 200);
  await harness.engine.worker.drain();
}

async function rowCounts(harness: TestEngine) {
  const db = harness.engine.database.db;
  const count = async (table: 'orders' | 'promotion_redemptions' | 'outbox_events' | 'customers' | 'exceptions') => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { orders: await count('orders'), redemptions: await count('promotion_redemptions'), outbox: await count('outbox_events'), customers: await count('customers'), exceptions: await count('exceptions') };
}

const amounts = (entries: { amount: { amount_minor: number } }[]) => entries.map((entry) => entry.amount.amount_minor);

for (const dialect of DIALECTS) {
  test(`[${dialect}] carts/price applies an automatic promotion without a code, splits every discount per line, taxes the net, and writes nothing`, async (t) => {
    const harness = await start(t, dialect);
    const beanieWeek = await promotionDefined(harness, { name: 'Beanie week', automatic: true, action: { type: 'percent_off', target: 'lines', percent_bps: 2000, skus: ['SKU-BEANIE-01'] } });
    assert.equal(beanieWeek.code, null, 'an automatic promotion needs no code');
    const before = await rowCounts(harness);

    const cart = await cartPriced(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-BEANIE-01', quantity: 2 }] });
    assert.deepEqual(cart.applied.map((applied: any) => [applied.promotion_id, applied.code, applied.automatic, applied.amount.amount_minor]), [[beanieWeek.id, null, true, 1000]], '20 % of 49.98, half away from zero');
    assert.deepEqual(cart.applied[0].lines, [{ line: 1, amount: { amount_minor: 1000, currency: 'USD' } }]);
    assert.deepEqual(cart.lines.map((line: any) => [line.gross.amount_minor, line.discount.amount_minor, line.net.amount_minor, line.tax.amount_minor]), [[5000, 0, 5000, 650], [4998, 1000, 3998, 520]]);
    assert.deepEqual(cart.totals, { subtotal: { amount_minor: 9998, currency: 'USD' }, discount: { amount_minor: 1000, currency: 'USD' }, shipping: { amount_minor: 0, currency: 'USD' }, tax: { amount_minor: 1170, currency: 'USD' }, total: { amount_minor: 10168, currency: 'USD' } });

    // With SUMMER10 too: the line discount first, then 10 % of what is left (89.98), spread by largest remainder.
    const both = await cartPriced(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-BEANIE-01', quantity: 2 }], promotion_codes: ['summer10'] });
    assert.deepEqual(both.applied.map((applied: any) => [applied.code ?? applied.promotion_id, applied.amount.amount_minor]), [[beanieWeek.id, 1000], ['SUMMER10', 900]]);
    assert.deepEqual(both.applied[1].lines.map((line: any) => line.amount.amount_minor), [500, 400]);
    assert.deepEqual(both.lines.map((line: any) => amounts(line.discounts)), [[500], [1000, 400]]);

    // The register prices the same cart the same way, and records both uses.
    const rung = await sale(harness, { sale_id: 'A-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-BEANIE-01', quantity: 2 }], promotion_codes: ['SUMMER10'] });
    assert.equal(rung.status, 201, JSON.stringify(rung.body));
    const order = rung.body.data.order;
    assert.deepEqual(order.lines.map((line: any) => line.discount.amount_minor), both.lines.map((line: any) => line.discount.amount_minor));
    assert.equal(order.total.amount_minor, both.totals.total.amount_minor);
    assert.deepEqual(order.discounts.map((discount: any) => [discount.kind, discount.code, discount.amount.amount_minor]), [['promotion', null, 1000], ['promotion', 'SUMMER10', 900]]);
    const after = await rowCounts(harness);
    assert.equal(after.redemptions - before.redemptions, 2, 'the automatic promotion and the code both count a use');
    assert.equal(after.orders - before.orders, 1, 'pricing wrote nothing; the sale wrote one order');
  });

  test(`[${dialect}] buy 2 beanies get 1 free, by code: the third beanie is free; with two it says what is missing`, async (t) => {
    const harness = await start(t, dialect);
    await promotionDefined(harness, { code: 'BEANIE3', name: 'Three beanies for two', action: { type: 'buy_x_get_y', buy: { skus: ['SKU-BEANIE-01'], quantity: 2 }, get: { skus: ['SKU-BEANIE-01'], quantity: 1 } } });
    const three = await cartPriced(harness, { lines: [{ sku: 'SKU-BEANIE-01', quantity: 3 }, { sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['BEANIE3'] });
    assert.deepEqual(three.applied.map((applied: any) => [applied.code, applied.amount.amount_minor]), [['BEANIE3', 2499]]);
    assert.deepEqual(three.lines.map((line: any) => line.discount.amount_minor), [2499, 0]);
    const two = await cartPriced(harness, { lines: [{ sku: 'SKU-BEANIE-01', quantity: 2 }], promotion_codes: ['BEANIE3'] });
    assert.deepEqual(two.applied, []);
    assert.equal(two.not_applied[0].code, 'BEANIE3');
    assert.equal(two.not_applied[0].reason, 'no_matching_items');
    assert.match(two.not_applied[0].message, /needs 2 of SKU-BEANIE-01 and 1 of SKU-BEANIE-01/);
  });

  test(`[${dialect}] a member price unlocked by a tier: Silver pays 39.99 for the wallet, a Member does not, an unnamed shopper is asked who she is`, async (t) => {
    const harness = await start(t, dialect);
    const db = harness.engine.database.db;
    const row = await db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
    const settings = JSON.parse(row.settings_json);
    settings.loyalty = { ...settings.loyalty, tiers: [{ name: 'Silver', threshold: 4_000, earnMultiplierBps: 10_000 }] };
    await db.updateTable('merchants').set({ settings_json: JSON.stringify(settings) }).where('id', '=', harness.demo.merchant.id).execute();
    const silverPrice = await promotionDefined(harness, { name: 'Silver wallet price', automatic: true, conditions: { customer_tiers: ['Silver'] }, action: { type: 'member_price', prices: [{ sku: 'SKU-WALLET-01', unit_price_minor: 3999 }] } });

    // A 50.00 purchase makes Jane Silver at once; Sam's 24.99 keeps him a Member.
    assert.equal((await sale(harness, { sale_id: 'T-1', customer: { email: 'jane.doe@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] })).status, 201);
    assert.equal((await sale(harness, { sale_id: 'T-2', customer: { email: 'sam.lee@example.com' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] })).status, 201);
    const jane = await janeId(harness);
    const sam = (await harness.request('GET', '/v1/customers/lookup?q=sam.lee%40example.com')).body.data[0].id;

    const janeCart = await cartPriced(harness, { customer_id: jane, lines: [{ sku: 'SKU-WALLET-01', quantity: 2 }] });
    assert.deepEqual(janeCart.applied.map((applied: any) => [applied.promotion_id, applied.amount.amount_minor]), [[silverPrice.id, 2 * 1001]]);
    const samCart = await cartPriced(harness, { customer_id: sam, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] });
    assert.deepEqual(samCart.applied, []);
    assert.deepEqual(samCart.not_applied.map((entry: any) => [entry.promotion_id, entry.reason]), [[silverPrice.id, 'tier_required']]);
    assert.match(samCart.not_applied[0].message, /tiers Silver; the customer is Member/);
    const anonymous = await cartPriced(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] });
    assert.equal(anonymous.not_applied[0].reason, 'customer_required');
  });

  test(`[${dialect}] carts/price lists every promotion that did not apply with its reason; the register refuses a code that does not apply (422)`, async (t) => {
    const harness = await start(t, dialect);
    const jane = await customerCreated(harness, 'jane.doe@example.com');
    assert.equal((await sale(harness, { sale_id: 'R-0', customer: { customer_id: jane }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] })).status, 201);
    const big = await promotionDefined(harness, { name: 'Ten off a hundred', automatic: true, conditions: { min_subtotal_minor: 10_000 }, action: { type: 'amount_off', amount_minor: 1000 } });
    const web = await promotionDefined(harness, { name: 'Web only', automatic: true, channels: ['online'], action: { type: 'percent_off', percent_bps: 500 } });
    const mondays = await promotionDefined(harness, { name: 'Monday mornings', automatic: true, conditions: { hours: { days: [1], start: '09:00', end: '12:00', time_zone: 'America/Toronto' } }, action: { type: 'percent_off', percent_bps: 500 } });
    const welcome = await promotionDefined(harness, { name: 'First order', automatic: true, conditions: { first_order: true }, action: { type: 'amount_off', amount_minor: 500 } });
    await promotionDefined(harness, { code: 'SPRING', name: 'Spring', ends_at: '2026-03-21T00:00:00Z', action: { type: 'percent_off', percent_bps: 1500 } });
    const vip = await promotionDefined(harness, { code: 'VIPNIGHT', name: 'VIP night', exclusive: true, priority: 10, action: { type: 'percent_off', percent_bps: 3000 } });

    // A Wednesday to come, 59.99 of merchandise, Jane (who has ordered before), four codes given.
    const cart = await cartPriced(harness, { customer_id: jane, at: '2030-06-05T15:00:00Z', lines: [{ sku: 'SKU-WALLET-01', quantity: 1, unit_price_minor: 5999 }], promotion_codes: ['VIPNIGHT', 'SUMMER10', 'SPRING', 'NOSUCH'] });
    assert.deepEqual(cart.applied.map((applied: any) => applied.promotion_id), [vip.id], 'the exclusive promotion with the highest priority applies alone');
    const reasons = Object.fromEntries(cart.not_applied.map((entry: any) => [entry.code ?? entry.promotion_id, entry.reason]));
    assert.deepEqual(reasons, {
      NOSUCH: 'unknown_code', SPRING: 'ended', SUMMER10: 'exclusive_conflict',
      [big.id]: 'min_subtotal', [web.id]: 'not_in_channel', [mondays.id]: 'outside_hours', [welcome.id]: 'first_order_only',
    });
    const messageOf = (key: string) => cart.not_applied.find((entry: any) => (entry.code ?? entry.promotion_id) === key).message;
    assert.match(messageOf(big.id), /needs 100\.00, cart has 59\.99/);
    assert.match(messageOf('SUMMER10'), /VIPNIGHT applies alone/);
    assert.equal(cart.not_applied_left_off, 0);

    assertError(await sale(harness, { sale_id: 'R-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['NOSUCH'] }), 422, 'promotions.unknown_code');
    const ended = assertError(await sale(harness, { sale_id: 'R-2', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['SPRING'] }), 422, 'promotions.not_applicable');
    assert.deepEqual([ended.details.field, ended.details.code, ended.details.reason], ['promotion_codes', 'SPRING', 'ended']);
    assertError(await priceCart(harness, { location_id: undefined, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] }), 422, 'carts.invalid_location');
  });

  test(`[${dialect}] a promotion limited to one use per customer, used in a Shopify web order, is refused at the register with the reason`, async (t) => {
    const harness = await start(t, dialect);
    await promotionDefined(harness, { code: 'WELCOME1', name: 'Welcome, once', usage_limit_per_customer: 1, action: { type: 'percent_off', percent_bps: 1000 } });
    await deliverWebOrderWithCode(harness, 'WELCOME1');
    const jane = await janeId(harness);

    const cart = await cartPriced(harness, { customer_id: jane, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['welcome1'] });
    assert.deepEqual(cart.applied, []);
    assert.deepEqual([cart.not_applied[0].code, cart.not_applied[0].reason], ['WELCOME1', 'usage_limit_per_customer']);
    assert.match(cart.not_applied[0].message, /1 time\(s\) per customer, across channels, and this customer has used it 1/);
    const refused = assertError(await sale(harness, { sale_id: 'L-1', customer: { customer_id: jane }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['WELCOME1'] }), 422, 'promotions.not_applicable');
    assert.equal(refused.details.reason, 'usage_limit_per_customer');

    // Another shopper may still use it, and the uses are counted per customer on request.
    const sam = await customerCreated(harness, 'sam.lee@example.com');
    assert.equal((await sale(harness, { sale_id: 'L-2', customer: { customer_id: sam }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['WELCOME1'] })).status, 201);
    const usage = (await harness.request('GET', `/v1/promotions/WELCOME1?customer_id=${jane}&by_customer=true`)).body.data.usage;
    assert.deepEqual(usage.customer, { customer_id: jane, total: 1, by_channel: { online: 1 } });
    assert.deepEqual({ total: usage.total, by_channel: usage.by_channel }, { total: 2, by_channel: { online: 1, store: 1 } });
    assert.deepEqual(usage.by_customer.map((entry: any) => entry.total), [1, 1]);
  });

  test(`[${dialect}] used at the register first, the same promotion in a later Shopify order is recorded as it happened and raises promotion_limit_exceeded`, async (t) => {
    const harness = await start(t, dialect);
    await promotionDefined(harness, { code: 'WELCOME1', name: 'Welcome, once', usage_limit_per_customer: 1, action: { type: 'percent_off', percent_bps: 1000 } });
    const inStore = await sale(harness, { sale_id: 'S-1', customer: { email: 'jane.doe@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['WELCOME1'] });
    assert.equal(inStore.status, 201, JSON.stringify(inStore.body));
    const jane = inStore.body.data.order.customer_id;

    await deliverWebOrderWithCode(harness, 'WELCOME1');
    const [profile] = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe%40example.com')).body.data;
    assert.equal(profile.id, jane);
    assert.deepEqual(profile.orders.map((order: any) => order.channel).sort(), ['online', 'store'], 'the web order is recorded as Shopify took it');
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=promotion_limit_exceeded')).body.data;
    assert.equal(exceptions.length, 1);
    assert.equal(exceptions[0].subject, 'WELCOME1');
    assert.deepEqual([exceptions[0].details.reason, exceptions[0].details.customer_id, exceptions[0].details.source, exceptions[0].details.used_before], ['usage_limit_per_customer', jane, 'shopify', 1]);
    const usage = (await harness.request('GET', '/v1/promotions/WELCOME1')).body.data.usage;
    assert.deepEqual(usage, { total: 2, by_channel: { online: 1, store: 1 } });

    // The same order delivered again as a new event records and raises nothing more.
    await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'again', 'X-Shopify-Event-Id': 'again' }, Buffer.from(readFixture('shopify/orders-create.json').toString('utf8').split('SUMMER10').join('WELCOME1')));
    await harness.engine.worker.drain();
    assert.equal((await harness.request('GET', '/v1/exceptions?kind=promotion_limit_exceeded')).body.data.length, 1);
  });

  test(`[${dialect}] Shopify's automatic discount for a promotion is counted as its use: past the total limit a web order is recorded, raised, and counted once; an unknown title counts nothing`, async (t) => {
    const harness = await start(t, dialect);
    const promotion = await promotionDefined(harness, { name: 'Summer sale', automatic: true, usage_limit_total: 1, action: { type: 'percent_off', percent_bps: 1000 } });
    await harness.engine.worker.drain();
    // The register takes the one use; Shopify, told to stop, applied it online before the news arrived.
    assert.equal((await sale(harness, { sale_id: 'A-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] })).status, 201);
    await deliverWebOrderWithAutomaticDiscount(harness, 'Summer sale');

    const usage = (await harness.request('GET', `/v1/promotions/${promotion.id}`)).body.data.usage;
    assert.deepEqual(usage, { total: 2, by_channel: { online: 1, store: 1 } });
    const redemption = await harness.engine.database.db.selectFrom('promotion_redemptions').select(['amount_minor', 'channel']).where('channel', '=', 'online').executeTakeFirstOrThrow();
    assert.equal(redemption.amount_minor, 900 + 1600, 'what the discount took off the two lines');
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=promotion_limit_exceeded')).body.data;
    assert.equal(exceptions.length, 1);
    assert.deepEqual([exceptions[0].subject, exceptions[0].details.promotion_id, exceptions[0].details.reason, exceptions[0].details.used_before], ['Summer sale', promotion.id, 'usage_limit_total', 1]);

    // Delivered again, the order counts nothing more; a discount Continuum did not push counts nothing.
    await deliverWebOrderWithAutomaticDiscount(harness, 'Summer sale', { 'X-Shopify-Webhook-Id': 'again', 'X-Shopify-Event-Id': 'again' });
    assert.equal((await harness.request('GET', `/v1/promotions/${promotion.id}`)).body.data.usage.total, 2);
    const before = await rowCounts(harness);
    const other = parseExactly(readFixture('shopify/orders-create.json').toString('utf8')) as any;
    other.id = new LosslessNumber('820982911946159999'); other.name = '#9999'; other.discount_codes = [];
    other.discount_applications = [{ target_type: 'line_item', type: 'automatic', value: '10.0', value_type: 'percentage', allocation_method: 'across', target_selection: 'all', title: 'Made in the Shopify admin' }];
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'other', 'X-Shopify-Event-Id': 'other' }, Buffer.from(stringifyExactly(other) ?? ''))).status, 200);
    await harness.engine.worker.drain();
    const after = await rowCounts(harness);
    assert.deepEqual([after.orders, after.redemptions, after.exceptions], [before.orders + 1, before.redemptions, before.exceptions]);
  });

  test(`[${dialect}] promotions valid online are pushed to Shopify as the discount Shopify documents; changes update it, deactivation ends it`, async (t) => {
    const harness = await start(t, dialect);
    const { engine, fake } = harness;
    await promotionDefined(harness, {
      code: 'beanie25', name: 'A quarter off beanies', starts_at: '2026-01-01T00:00:00Z', ends_at: '2027-01-01T00:00:00Z', usage_limit_total: 100, usage_limit_per_customer: 1,
      conditions: { min_subtotal_minor: 5000 }, action: { type: 'percent_off', target: 'lines', percent_bps: 2500, skus: ['SKU-BEANIE-01'] },
    });
    const bogo = await promotionDefined(harness, { name: 'Beanies: buy 2 get 1', automatic: true, action: { type: 'buy_x_get_y', buy: { skus: ['SKU-BEANIE-01'], quantity: 2 }, get: { skus: ['SKU-BEANIE-01'], quantity: 1 }, uses_per_order_max: 2 } });
    const storeOnly = await promotionDefined(harness, { code: 'STOREDAY', name: 'In store only', channels: ['store'], action: { type: 'amount_off', amount_minor: 500 } });
    const silver = await promotionDefined(harness, { code: 'SILVER5', name: 'Silver five', conditions: { customer_tiers: ['Silver'] }, action: { type: 'amount_off', amount_minor: 500 } });
    await engine.worker.drain();

    const code = fake.codeDiscount('BEANIE25');
    assert.ok(code, 'the code promotion was created in Shopify');
    assert.equal(code.type, 'DiscountCodeBasic');
    assert.deepEqual(code.input, {
      title: 'A quarter off beanies', code: 'BEANIE25', startsAt: '2026-01-01T00:00:00.000Z', endsAt: '2027-01-01T00:00:00.000Z', context: { all: 'ALL' },
      combinesWith: { orderDiscounts: true, productDiscounts: true, shippingDiscounts: true }, minimumRequirement: { subtotal: { greaterThanOrEqualToSubtotal: '50.00' } },
      usageLimit: 100, appliesOncePerCustomer: true, customerGets: { value: { percentage: 0.25 }, items: { products: { productVariantsToAdd: [beanieVariantGid] } } },
    });
    const [automatic, ...others] = fake.automaticDiscounts();
    assert.equal(others.length, 0, 'the store-only and the tier promotions are not pushed');
    assert.equal(automatic!.type, 'DiscountAutomaticBxgy');
    assert.deepEqual(automatic!.input['customerBuys'], { value: { quantity: '2' }, items: { products: { productVariantsToAdd: [beanieVariantGid] } } });
    assert.deepEqual(automatic!.input['customerGets'], { value: { discountOnQuantity: { quantity: '1', effect: { percentage: 1 } } }, items: { products: { productVariantsToAdd: [beanieVariantGid] } } });
    assert.equal(automatic!.input['usesPerOrderLimit'], 2);
    const created = fake.requests.find((request) => request.operation === 'discountAutomaticBxgyCreate');
    assert.equal(created?.outcome, 'executed');
    const outbox = (await harness.request('GET', '/v1/outbox?destination=shopify')).body.data;
    assert.equal(outbox.filter((message: any) => message.payload.promotion_id === storeOnly.id).length, 0, 'a store-only promotion is never sent');
    const skipped = outbox.find((message: any) => message.payload.promotion_id === silver.id);
    assert.match(skipped.last_error, /^skipped: Shopify discounts cannot check customer tiers/);
    const promotions = (await harness.request('GET', '/v1/promotions')).body.data;
    assert.equal(promotions.find((promotion: any) => promotion.id === bogo.id).shopify_discount_id, automatic!.id);

    // A change updates the same discount; deactivation ends it in Shopify.
    const renamed = await harness.request('PATCH', '/v1/promotions/BEANIE25', { body: { name: 'Beanies, 25 % off', usage_limit_total: 50 } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    await engine.worker.drain();
    assert.equal(fake.codeDiscount('BEANIE25')!.title, 'Beanies, 25 % off');
    assert.equal(fake.codeDiscount('BEANIE25')!.usageLimit, 50);
    assert.ok(fake.requests.some((request) => request.operation === 'discountCodeBasicUpdate' && request.outcome === 'executed'));
    assert.equal((await harness.request('POST', `/v1/promotions/${bogo.id}/deactivate`)).status, 200);
    await engine.worker.drain();
    assert.equal(fake.automaticDiscounts()[0]!.status, 'EXPIRED');
    const inactive = await cartPriced(harness, { lines: [{ sku: 'SKU-BEANIE-01', quantity: 3 }] });
    assert.deepEqual(inactive.applied, [], 'a deactivated automatic promotion applies nowhere');
  });

  test(`[${dialect}] when the uses across channels reach the total limit, Shopify is told to stop accepting the code`, async (t) => {
    const harness = await start(t, dialect);
    await promotionDefined(harness, { code: 'ONCE', name: 'Once in all', usage_limit_total: 1, action: { type: 'amount_off', amount_minor: 500 } });
    await harness.engine.worker.drain();
    assert.equal(harness.fake.codeDiscount('ONCE')!.status, 'ACTIVE');
    assert.equal(harness.fake.codeDiscount('ONCE')!.usageLimit, 1);
    assert.equal((await sale(harness, { sale_id: 'O-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['ONCE'] })).status, 201);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.codeDiscount('ONCE')!.status, 'EXPIRED', 'the store use took the last one');
    const cart = await cartPriced(harness, { lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['ONCE'] });
    assert.equal(cart.not_applied[0].reason, 'usage_limit_total');
  });

  test(`[${dialect}] POST /v1/promotions keeps the first shape, and bad rules are refused naming the field and the rule, with nothing written`, async (t) => {
    const harness = await start(t, dialect);
    const legacy = await promotionDefined(harness, { code: 'FALL5', name: 'Fall', kind: 'amount_off_order', value: 500, channels: ['store'] });
    assert.deepEqual([legacy.kind, legacy.value, legacy.action], ['amount_off_order', 500, { type: 'amount_off', target: 'order', amount_minor: 500 }]);
    const before = (await harness.request('GET', '/v1/promotions')).body.data.length;

    const refuse = async (body: Body, status: number, code: string, field: string) => {
      const error = assertError(await harness.request('POST', '/v1/promotions', { body: { name: 'Bad', ...body } }), status, code);
      const named = error.details.field ?? error.details.issues?.[0]?.field;
      assert.ok(String(named).includes(field), `${JSON.stringify(error)} names ${field}`);
    };
    await refuse({ code: 'MEMBERS', action: { type: 'member_price', prices: [{ sku: 'SKU-WALLET-01', unit_price_minor: 100 }] } }, 422, 'promotions.invalid_rule', 'conditions.customer_tiers');
    await refuse({ code: 'BOTH', kind: 'amount_off_order', value: 5, action: { type: 'free_shipping' } }, 400, 'request.invalid', 'action');
    await refuse({ code: 'TOOMUCH', action: { type: 'percent_off', percent_bps: 20_000 } }, 400, 'request.invalid', 'percent_bps');
    await refuse({ action: { type: 'free_shipping' } }, 400, 'request.invalid', 'code');
    await refuse({ code: 'GHOST', action: { type: 'free_item', sku: 'SKU-GHOST' } }, 422, 'promotions.unknown_sku', 'action');
    await refuse({ code: 'MARS', conditions: { hours: { days: [1], start: '09:00', end: '10:00', time_zone: 'Mars/Olympus' } }, action: { type: 'free_shipping' } }, 422, 'promotions.invalid_rule', 'conditions.hours.time_zone');
    await refuse({ code: 'SEGMENT', conditions: { segment: 'vip' }, action: { type: 'free_shipping' } }, 400, 'request.invalid', 'conditions');
    await refuse({ code: 'SUMMER10', action: { type: 'free_shipping' } }, 409, 'promotions.duplicate_code', 'code');
    assert.equal((await harness.request('GET', '/v1/promotions')).body.data.length, before, 'nothing was written');

    const kindChange = assertError(await harness.request('PATCH', '/v1/promotions/FALL5', { body: { action: { type: 'free_shipping' } } }), 422, 'promotions.invalid_change');
    assert.equal(kindChange.details.field, 'action.type');
    assertError(await harness.request('PATCH', '/v1/promotions/NOSUCH', { body: { name: 'x' } }), 404, 'promotions.not_found');
  });
}
