import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Rewards and redemption (issue #4): every reward kind at the register, limits counted across
// channels, online redemption as a single-use code pushed to Shopify, an order using it, cancelling
// an unused one for its points back, and two registers racing for the same last points. Every test
// ends by checking the ledger: each transaction's entries sum to zero and the cached balance is the
// sum of the entries.

const janeShopifyGid = 'gid://shopify/Customer/115310627314723954';
const webOrderId = '820982911946154508';
const rewardCodePattern = /^RWD-[0-9A-HJKMNP-TV-Z]{8}$/;

interface Harness extends TestEngine {
  janeId: string;
}

function assertError(response: { status: number; body: any }, status: number, code: string) {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
  return response.body.error as { code: string; message: string; details: Record<string, unknown> };
}

/** An engine with Jane known from her web order: 224 points available in the demo program. */
async function startWithJane(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]): Promise<Harness> {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
  await harness.engine.worker.drain();
  const found = await harness.request('GET', '/v1/customers/lookup?q=jane.doe%40example.com');
  const [jane] = found.body.data;
  assert.equal(jane.loyalty.available, 224, JSON.stringify(found.body));
  return Object.assign(harness, { janeId: jane.id as string });
}

async function available(harness: Harness, customerId = harness.janeId): Promise<number> {
  const response = await harness.request('GET', `/v1/customers/${customerId}/loyalty`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const row = await harness.engine.database.db.selectFrom('loyalty_accounts').select('available').where('customer_id', '=', customerId).executeTakeFirst();
  return Number(row?.available ?? 0);
}

function addReward(harness: Harness, body: Record<string, unknown>) {
  return harness.request('POST', '/v1/rewards', { body: { name: String(body['code']), ...body } });
}

async function rewardCreated(harness: Harness, body: Record<string, unknown>) {
  const response = await addReward(harness, body);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data;
}

function sale(harness: Harness, body: Record<string, unknown>) {
  return harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { register_id: 'register-1', location_id: harness.demo.store.id, customer: { customer_id: harness.janeId }, ...body } });
}

function redeemOnline(harness: Harness, reward: string, customerId = harness.janeId) {
  return harness.request('POST', `/v1/customers/${customerId}/rewards/${reward}/redeem`, { key: testPosKey });
}

async function codeIssued(harness: Harness, reward: string): Promise<string> {
  const response = await redeemOnline(harness, reward);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data.reward_code.code;
}

function cancelCode(harness: Harness, code: string) {
  return harness.request('POST', `/v1/reward-codes/${code}/cancel`, { key: testPosKey });
}

async function rewardCodes(harness: Harness, customerId = harness.janeId) {
  const response = await harness.request('GET', `/v1/customers/${customerId}/reward-codes`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data as { code: string; state: string; order_id: string | null; reward: { code: string } }[];
}

/** Jane's web order again under a new order id, paid with `code`, delivered as a new webhook. */
async function deliverWebOrderUsing(harness: Harness, code: string, newOrderId: string) {
  const body = Buffer.from(readFixture('shopify/orders-create.json').toString('utf8').replaceAll(webOrderId, newOrderId).replaceAll('SUMMER10', code));
  const delivery = await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': `webhook-${newOrderId}`, 'X-Shopify-Event-Id': `event-${newOrderId}` }, body);
  assert.deepEqual(delivery, { status: 200, body: { received: true, duplicate: false } });
  await harness.engine.worker.drain();
  const order = await harness.engine.database.db.selectFrom('orders').select('id').where('source', '=', 'shopify').where('source_ref', '=', newOrderId).executeTakeFirst();
  assert.ok(order, `order ${newOrderId} was recorded`);
  return order.id;
}

/** Every transaction balances, and every customer's cached balance equals the sum of her entries. */
async function assertLedgerInvariants(harness: Harness) {
  const db = harness.engine.database.db;
  const unbalanced = await db.selectFrom('loyalty_entries').select('transaction_id').groupBy('transaction_id').having(sql`sum(amount)`, '<>', 0).execute();
  assert.deepEqual(unbalanced, [], 'every transaction sums to zero');
  const accounts = await db.selectFrom('loyalty_accounts').select(['merchant_id', 'customer_id', 'available', 'pending']).execute();
  for (const account of accounts) {
    const entries = await sumLoyaltyEntries(db, account.merchant_id, account.customer_id);
    assert.deepEqual(entries, { available: Number(account.available), pending: Number(account.pending) }, `account ${account.customer_id} equals its entries`);
  }
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] every reward kind at the register: percent off after promotions, one unit of a product free, free shipping refused`, async (t) => {
    const harness = await startWithJane(t, dialect);
    await rewardCreated(harness, { code: 'PCT-10', points_cost: 50, kind: 'percent_off', percent_off_bps: 1000 });
    await rewardCreated(harness, { code: 'FREE-BEANIE', points_cost: 60, kind: 'free_product', free_sku: 'SKU-BEANIE-01' });
    await rewardCreated(harness, { code: 'SHIP-FREE', points_cost: 10, kind: 'free_shipping' });

    // 50.00 wallet; SUMMER10 takes 5.00, then 10 % of the 45.00 left is 4.50; 13 % tax on 40.50.
    const percent = await sale(harness, { sale_id: 'K-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: ['SUMMER10'], rewards: ['PCT-10'] });
    assert.equal(percent.status, 201, JSON.stringify(percent.body));
    const percentOrder = percent.body.data.order;
    assert.deepEqual(percentOrder.discounts.map((discount: any) => [discount.kind, discount.code, discount.amount.amount_minor]), [['promotion', 'SUMMER10', 500], ['reward', 'PCT-10', 450]]);
    assert.equal(percentOrder.tax.amount_minor, 527, '13 % of 40.50, rounded half away from zero');
    assert.equal(percentOrder.total.amount_minor, 5000 - 950 + 527);
    assert.equal(percent.body.data.points_redeemed, 50);

    // Wallet and two beanies: one beanie's 24.99 comes off the beanie line, not spread over the sale.
    const free = await sale(harness, { sale_id: 'K-2', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-BEANIE-01', quantity: 2 }], rewards: ['FREE-BEANIE'] });
    assert.equal(free.status, 201, JSON.stringify(free.body));
    const freeOrder = free.body.data.order;
    assert.deepEqual(freeOrder.lines.map((line: any) => [line.sku, line.discount.amount_minor]), [['SKU-WALLET-01', 0], ['SKU-BEANIE-01', 2499]]);
    assert.deepEqual(freeOrder.discounts.map((discount: any) => [discount.kind, discount.code, discount.amount.amount_minor]), [['reward', 'FREE-BEANIE', 2499]]);
    assert.equal(free.body.data.points_redeemed, 60);

    const before = await available(harness);
    const noBeanie = assertError(await sale(harness, { sale_id: 'K-3', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['FREE-BEANIE'] }), 422, 'loyalty.reward_not_applicable');
    assert.equal(noBeanie.details['sku'], 'SKU-BEANIE-01');
    assert.equal(noBeanie.details['field'], 'rewards');
    // One beanie can be given once: a second free beanie on a one-beanie sale has nothing left to give.
    assertError(await sale(harness, { sale_id: 'K-4', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['FREE-BEANIE', 'FREE-BEANIE'] }), 422, 'loyalty.reward_not_applicable');
    const shipping = assertError(await sale(harness, { sale_id: 'K-5', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], rewards: ['SHIP-FREE'] }), 422, 'loyalty.reward_not_applicable');
    assert.equal(shipping.details['reward'], 'SHIP-FREE');
    assert.equal(await available(harness), before, 'a refused sale spends no points');
    const orders = await harness.engine.database.db.selectFrom('orders').select('order_number').where('source', '=', 'pos').execute();
    assert.deepEqual(orders.map((order) => order.order_number).sort(), ['K-1', 'K-2']);
    await assertLedgerInvariants(harness);
  });

  test(`[${dialect}] POST /v1/rewards takes a kind with its own value and optional limits; bad input names the field`, async (t) => {
    const harness = await startWithJane(t, dialect);
    const percent = await rewardCreated(harness, { code: 'PCT-15', points_cost: 80, kind: 'percent_off', percent_off_bps: 1500, per_customer_max: 2, total_max: 100 });
    assert.deepEqual({ kind: percent.kind, percentOffBps: percent.percentOffBps, amountOffMinor: percent.amountOffMinor, perCustomerMax: percent.perCustomerMax, totalMax: percent.totalMax }, { kind: 'percent_off', percentOffBps: 1500, amountOffMinor: null, perCustomerMax: 2, totalMax: 100 });
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ code: 'BAD-1', points_cost: 10, kind: 'percent_off' }, 400, 'request.invalid', 'percent_off_bps'],
      [{ code: 'BAD-2', points_cost: 10, kind: 'percent_off', percent_off_bps: 10_001 }, 400, 'request.invalid', 'percent_off_bps'],
      [{ code: 'BAD-3', points_cost: 10, kind: 'amount_off', amount_off_minor: 100, percent_off_bps: 500 }, 400, 'request.invalid', 'percent_off_bps'],
      [{ code: 'BAD-4', points_cost: 10, kind: 'free_product' }, 400, 'request.invalid', 'free_sku'],
      [{ code: 'BAD-5', points_cost: 10, kind: 'free_shipping', per_customer_max: 0 }, 400, 'request.invalid', 'per_customer_max'],
      [{ code: 'BAD-6', points_cost: 10, kind: 'gift_card' }, 400, 'request.invalid', 'kind'],
      [{ code: 'BAD-7', points_cost: 10, kind: 'free_product', free_sku: 'NO-SUCH-SKU' }, 422, 'catalog.unknown_sku', 'free_sku'],
    ];
    for (const [body, status, code, field] of cases) {
      const error = assertError(await addReward(harness, body), status, code);
      assert.match(JSON.stringify(error), new RegExp(field), `${JSON.stringify(body)} names ${field}`);
    }
    const listed = (await harness.request('GET', '/v1/rewards')).body.data.map((reward: { code: string }) => reward.code).sort();
    assert.deepEqual(listed, ['5-OFF', 'PCT-15'], 'refused rewards were not written');
  });

  test(`[${dialect}] limits: a per-customer maximum counts register redemptions and issued codes alike; a total maximum counts every customer`, async (t) => {
    const harness = await startWithJane(t, dialect);
    await rewardCreated(harness, { code: 'ONCE', points_cost: 10, kind: 'amount_off', amount_off_minor: 100, per_customer_max: 1 });
    assert.equal((await sale(harness, { sale_id: 'L-1', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['ONCE'] })).status, 201);
    const second = assertError(await sale(harness, { sale_id: 'L-2', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['ONCE'] }), 409, 'loyalty.reward_limit_reached');
    assert.deepEqual([second.details['limit'], second.details['max'], second.details['used']], ['per_customer_max', 1, 1]);
    assertError(await redeemOnline(harness, 'ONCE'), 409, 'loyalty.reward_limit_reached');

    // Two registers taking the last use at once: the reward's lock makes the second count the first's.
    await rewardCreated(harness, { code: 'ONCE-RACE', points_cost: 10, kind: 'amount_off', amount_off_minor: 100, per_customer_max: 1 });
    const race = (await Promise.all([
      sale(harness, { sale_id: 'L-R1', register_id: 'register-1', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['ONCE-RACE'] }),
      sale(harness, { sale_id: 'L-R2', register_id: 'register-2', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['ONCE-RACE'] }),
    ])).sort((a, b) => a.status - b.status);
    assert.deepEqual(race.map((response) => response.status), [201, 409], JSON.stringify(race.map((response) => response.body)));
    assertError(race[1]!, 409, 'loyalty.reward_limit_reached');

    // Online first: the code counts; cancelling it gives the use back.
    await rewardCreated(harness, { code: 'ONCE-ONLINE', points_cost: 10, kind: 'amount_off', amount_off_minor: 100, per_customer_max: 1 });
    const code = await codeIssued(harness, 'ONCE-ONLINE');
    assertError(await sale(harness, { sale_id: 'L-3', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['ONCE-ONLINE'] }), 409, 'loyalty.reward_limit_reached');
    assert.equal((await cancelCode(harness, code)).status, 200);
    assert.equal((await redeemOnline(harness, 'ONCE-ONLINE')).status, 201, 'a cancelled code no longer counts');

    // A total maximum of one: Jane takes it, and Sam is refused for the limit before his (empty) balance is looked at.
    await rewardCreated(harness, { code: 'LAST-ONE', points_cost: 10, kind: 'free_shipping', total_max: 1 });
    assert.equal((await redeemOnline(harness, 'LAST-ONE')).status, 201);
    const sam = await harness.request('POST', '/v1/customers', { key: testPosKey, body: { email: 'sam.lee@example.com', first_name: 'Sam' } });
    assert.equal(sam.status, 201, JSON.stringify(sam.body));
    const total = assertError(await redeemOnline(harness, 'LAST-ONE', sam.body.data.id), 409, 'loyalty.reward_limit_reached');
    assert.equal(total.details['limit'], 'total_max');
    await assertLedgerInvariants(harness);
  });

  test(`[${dialect}] online: redeeming issues a single-use code pushed to Shopify for her alone; a Shopify order using it marks it used, and a second order raises reward_code_reused`, async (t) => {
    const harness = await startWithJane(t, dialect);
    const redeemed = await redeemOnline(harness, '5-OFF');
    assert.equal(redeemed.status, 201, JSON.stringify(redeemed.body));
    const code: string = redeemed.body.data.reward_code.code;
    assert.match(code, rewardCodePattern);
    assert.equal(redeemed.body.data.reward_code.state, 'issued');
    assert.equal(redeemed.body.data.loyalty.available, 124, '224 − the 100 points of 5-OFF, spent now');
    assert.equal(await available(harness), 124);
    const history = (await harness.request('GET', `/v1/customers/${harness.janeId}/loyalty`)).body;
    assert.match(JSON.stringify(history), /redeem/);

    await harness.engine.worker.drain();
    const discount = harness.fake.codeDiscount(code);
    assert.ok(discount, 'Shopify holds the discount');
    assert.equal(discount.type, 'DiscountCodeBasic');
    assert.equal(discount.status, 'ACTIVE');
    assert.equal(discount.usageLimit, 1);
    assert.equal(discount.appliesOncePerCustomer, true);
    assert.deepEqual(discount.context, { customers: { add: [janeShopifyGid] } }, 'only Jane may use it');
    assert.deepEqual(discount.customerGets, { value: { discountAmount: { amount: '5.00', appliesOnEachItem: false } }, items: { all: true } });
    const requestsAfterCreate = harness.fake.requests.length;
    await harness.engine.worker.drain();
    assert.equal(harness.fake.requests.length, requestsAfterCreate, 'the code is created once');

    const firstOrderId = await deliverWebOrderUsing(harness, code, '820982911946155001');
    let [held] = await rewardCodes(harness);
    assert.deepEqual([held?.code, held?.state, held?.order_id], [code, 'used', firstOrderId]);

    // Shopify would refuse a second use, but if an order arrives with it anyway it is recorded and flagged.
    const secondOrderId = await deliverWebOrderUsing(harness, code, '820982911946155002');
    [held] = await rewardCodes(harness);
    assert.deepEqual([held?.state, held?.order_id], ['used', firstOrderId], 'the first use stands');
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=reward_code_reused')).body.data;
    assert.equal(exceptions.length, 1);
    assert.deepEqual([exceptions[0].subject, exceptions[0].details.first_order_id, exceptions[0].details.order_id], [code, firstOrderId, secondOrderId]);
    assertError(await cancelCode(harness, code), 409, 'loyalty.reward_code_conflict');
    await assertLedgerInvariants(harness);
  });

  test(`[${dialect}] a reward code given at the register among the promotion codes applies its value once; the same code again is 409`, async (t) => {
    const harness = await startWithJane(t, dialect);
    await rewardCreated(harness, { code: 'PCT-20', points_cost: 40, kind: 'percent_off', percent_off_bps: 2000 });
    const code = await codeIssued(harness, 'PCT-20');
    await harness.engine.worker.drain();
    assert.equal(harness.fake.codeDiscount(code)?.status, 'ACTIVE');
    const before = await available(harness);

    const used = await sale(harness, { sale_id: 'C-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: [code.toLowerCase()] });
    assert.equal(used.status, 201, JSON.stringify(used.body));
    assert.deepEqual(used.body.data.order.discounts.map((discount: any) => [discount.kind, discount.code, discount.amount.amount_minor]), [['reward', code, 1000]]);
    assert.equal(used.body.data.points_redeemed, 0, 'its points were spent when it was issued');
    assert.equal(await available(harness), before + used.body.data.points_earned);
    const [held] = await rewardCodes(harness);
    assert.deepEqual([held?.state, held?.order_id], ['used', used.body.data.order.id]);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.codeDiscount(code)?.status, 'EXPIRED', 'used in the store, Shopify stops accepting it');

    assertError(await sale(harness, { sale_id: 'C-2', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: [code] }), 409, 'loyalty.reward_code_conflict');
    assertError(await sale(harness, { sale_id: 'C-3', customer: { email: 'sam.lee@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: [code] }), 422, 'promotions.unknown_code');
    const replay = await sale(harness, { sale_id: 'C-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: [code.toLowerCase()] });
    assert.equal(replay.status, 200, 'the same sale again is its replay, not a second use');
    assert.equal(replay.body.data.order.id, used.body.data.order.id);
    await assertLedgerInvariants(harness);
  });

  test(`[${dialect}] cancelling an unused code gives its points back and deactivates it in Shopify; a cancelled or used code cannot be cancelled`, async (t) => {
    const harness = await startWithJane(t, dialect);
    const code = await codeIssued(harness, '5-OFF');
    assert.equal(await available(harness), 124);
    await harness.engine.worker.drain();

    const cancelled = await cancelCode(harness, code.toLowerCase());
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    assert.equal(cancelled.body.data.reward_code.state, 'cancelled');
    assert.equal(cancelled.body.data.points_restored, 100);
    assert.equal(cancelled.body.data.loyalty.available, 224);
    assert.equal(await available(harness), 224);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.codeDiscount(code)?.status, 'EXPIRED', 'Shopify no longer accepts it');
    assert.ok(harness.fake.requests.some((request) => request.operation === 'discountCodeDeactivate' && request.outcome === 'executed'));

    const again = assertError(await cancelCode(harness, code), 409, 'loyalty.reward_code_conflict');
    assert.equal(again.details['state'], 'cancelled');
    assert.equal(await available(harness), 224, 'points come back once');
    assertError(await sale(harness, { sale_id: 'X-1', lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }], promotion_codes: [code] }), 409, 'loyalty.reward_code_conflict');

    const usedCode = await codeIssued(harness, '5-OFF');
    await deliverWebOrderUsing(harness, usedCode, '820982911946156001');
    const used = assertError(await cancelCode(harness, usedCode), 409, 'loyalty.reward_code_conflict');
    assert.equal(used.details['state'], 'used');
    assertError(await cancelCode(harness, 'RWD-00000000'), 404, 'loyalty.reward_code_not_found');
    assertError(await harness.request('GET', '/v1/customers/cus_nobody/reward-codes'), 404, 'customers.not_found');

    // A code cancelled before its create message went out never reaches Shopify.
    const early = await codeIssued(harness, '5-OFF');
    assert.equal((await cancelCode(harness, early)).status, 200);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.codeDiscount(early), undefined);
    assert.deepEqual((await rewardCodes(harness)).map((held) => held.state), ['cancelled', 'used', 'cancelled']);
    await assertLedgerInvariants(harness);
  });

  test(`[${dialect}] two registers redeeming the last points at the same moment: one 201, one 409 loyalty.insufficient_points, never a negative balance`, async (t) => {
    const harness = await startWithJane(t, dialect);
    await rewardCreated(harness, { code: 'BIG', points_cost: 150, kind: 'amount_off', amount_off_minor: 1500 });
    const [first, second] = await Promise.all([
      sale(harness, { sale_id: 'R1-9', register_id: 'register-1', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['BIG'] }),
      sale(harness, { sale_id: 'R2-9', register_id: 'register-2', lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['BIG'] }),
    ]);
    const outcomes = [first, second].sort((a, b) => a.status - b.status);
    assert.deepEqual(outcomes.map((response) => response.status), [201, 409], JSON.stringify(outcomes.map((response) => response.body)));
    assertError(outcomes[1]!, 409, 'loyalty.insufficient_points');
    const winner = outcomes[0]!.body.data;
    assert.equal(await available(harness), 224 - 150 + winner.points_earned);

    // Online, the same: two codes for the last points, one issued.
    await rewardCreated(harness, { code: 'REST', points_cost: await available(harness), kind: 'free_shipping' });
    const online = (await Promise.all([redeemOnline(harness, 'REST'), redeemOnline(harness, 'REST')])).sort((a, b) => a.status - b.status);
    assert.deepEqual(online.map((response) => response.status), [201, 409]);
    assertError(online[1]!, 409, 'loyalty.insufficient_points');
    assert.equal(await available(harness), 0);
    assert.equal((await rewardCodes(harness)).length, 1, 'the refused redemption left no code');
    await assertLedgerInvariants(harness);
  });
}
