import assert from 'node:assert/strict';
import { test } from 'node:test';
import { awardDueBirthdayBonuses, downgradeDueTiers } from '../src/commands/index.ts';
import { expireDueLots, releaseDuePendingLots, sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// The loyalty program of issue #4 on top of the ledger, through HTTP and the scheduled jobs: tiers
// by qualifying spend (upgrade at once, downgrade by policy), the tier's earn multiplier,
// memberships, pending points and their release, lot expiry, and the sign-up, first-store-visit
// and birthday bonuses. Jobs take `now` so a test runs them in the future instead of faking the clock.

const janeShopifyGid = 'gid://shopify/Customer/115310627314723954';
const dayMs = 86_400_000;
const silver = { name: 'Silver', threshold: 20_000, earnMultiplierBps: 15_000 };
const gold = { name: 'Gold', threshold: 100_000, earnMultiplierBps: 20_000 };

/** Changes the demo merchant's loyalty settings; the next request or job reads them. */
async function setLoyaltySettings(harness: TestEngine, loyalty: Record<string, unknown>) {
  const db = harness.engine.database.db;
  const row = await db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
  const settings = JSON.parse(row.settings_json);
  settings.loyalty = { ...settings.loyalty, ...loyalty };
  await db.updateTable('merchants').set({ settings_json: JSON.stringify(settings) }).where('id', '=', harness.demo.merchant.id).execute();
}

/**
 * Jane's web order (224.98 of merchandise after discounts) as orders/create, placed `placedAt`
 * rather than on the fixture's 2025 date, so it falls in the current qualifying period.
 */
async function deliverJanesWebOrder(harness: TestEngine, placedAt: Date): Promise<string> {
  const text = readFixture('shopify/orders-create.json').toString('utf8')
    .replace('"processed_at": "2025-06-14T09:30:11-04:00"', `"processed_at": "${placedAt.toISOString()}"`)
    .replace('"created_at": "2025-06-14T09:30:12-04:00"', `"created_at": "${placedAt.toISOString()}"`);
  assert.ok(text.includes(placedAt.toISOString()), 'the fixture dates were replaced');
  const delivery = await harness.deliverShopifyFixture('shopify/orders-create.json', {}, Buffer.from(text));
  assert.equal(delivery.status, 200);
  await harness.engine.worker.drain();
  const found = await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent('jane.doe@example.com')}`);
  assert.equal(found.body.data.length, 1, 'one Jane');
  return found.body.data[0].id;
}

async function sellInStore(harness: TestEngine, saleId: string, customer: Record<string, string>, lines: { sku: string; quantity: number }[]) {
  const response = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: saleId, register_id: 'register-1', location_id: harness.demo.store.id, customer, lines } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data;
}

async function loyaltyOf(harness: TestEngine, customerId: string) {
  const response = await harness.request('GET', `/v1/customers/${customerId}/loyalty`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data;
}

/** The ledger's invariants: her cached balances equal the sums of her entries, and every transaction balances. */
async function assertLedgerInvariants(harness: TestEngine, customerIds: string[]) {
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  for (const customerId of customerIds) {
    const account = await db.selectFrom('loyalty_accounts').select(['available', 'pending']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirstOrThrow();
    assert.deepEqual(await sumLoyaltyEntries(db, merchantId, customerId), { available: account.available, pending: account.pending }, 'the cached account equals the sum of its entries');
  }
  const sums = await db.selectFrom('loyalty_entries').select('transaction_id').select((eb) => eb.fn.sum<number>('amount').as('total')).where('merchant_id', '=', merchantId).groupBy('transaction_id').execute();
  assert.ok(sums.length > 0, 'there are transactions to check');
  for (const sum of sums) assert.equal(Number(sum.total), 0, `transaction ${sum.transaction_id} sums to zero`);
}

async function transactionKeys(harness: TestEngine, customerId: string, kind: string): Promise<string[]> {
  const rows = await harness.engine.database.db.selectFrom('loyalty_transactions').select('idempotency_key').where('merchant_id', '=', harness.demo.merchant.id).where('customer_id', '=', customerId).where('kind', '=', kind).orderBy('idempotency_key').execute();
  return rows.map((row) => row.idempotency_key);
}

async function enrol(harness: TestEngine, body: Record<string, string>) {
  const response = await harness.request('POST', '/v1/customers', { key: testPosKey, body });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data.id as string;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] tiers by spend: Jane's 224.98 web order makes her Silver at once, her store purchase earns 1.5× points, and Shopify hears the tier`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { tiers: [silver, gold] });

    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - 2 * dayMs));
    let loyalty = await loyaltyOf(harness, janeId);
    assert.equal(loyalty.available, 224, 'the order that qualifies her earns at the tier she held when it was placed (1×)');
    assert.equal(loyalty.tier.name, 'Silver');
    assert.ok(loyalty.tier.since, 'she holds Silver since the order was recorded');
    assert.deepEqual({ metric: loyalty.tier.metric, period: loyalty.tier.period, qualifying: loyalty.tier.qualifying_amount, multiplier: loyalty.tier.earn_multiplier_bps }, { metric: 'spend', period: 'rolling_12_months', qualifying: 22_498, multiplier: 15_000 });
    assert.deepEqual(loyalty.tier.next_tier, { name: 'Gold', threshold: 100_000, remaining: 100_000 - 22_498 });

    const sale = await sellInStore(harness, 'T-1', { phone: '613.555.0142' }, [{ sku: 'SKU-WALLET-01', quantity: 1 }, { sku: 'SKU-BEANIE-01', quantity: 1 }]);
    assert.equal(sale.order.customer_id, janeId);
    assert.equal(sale.points_earned, 111, '74.99 → 74 base points × 1.5 = 111');
    assert.deepEqual(sale.order.lines.map((line: { points_earned: number }) => line.points_earned), [74, 37], 'allocated to the lines by largest remainder over 50.00 and 24.99');
    assert.deepEqual(sale.loyalty, { available: 224 + 111, pending: 0, tier: 'Silver' });

    loyalty = await loyaltyOf(harness, janeId);
    assert.equal(loyalty.tier.qualifying_amount, 22_498 + 7_499);
    assert.equal(loyalty.tier.next_tier.remaining, 100_000 - 22_498 - 7_499);
    assert.equal(loyalty.earn_multiplier_bps, 15_000);
    await harness.engine.worker.drain();
    assert.deepEqual(Object.fromEntries(harness.fake.metafields(janeShopifyGid).map((field) => [field.key, field.value])), { points: '335', tier: 'Silver' });
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] a return takes the goods back from her qualifying spend, never their tax: the sunglasses returned in the store take 80.99 of 224.98`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { tiers: [silver, gold] });
    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - 2 * dayMs));
    assert.equal((await loyaltyOf(harness, janeId)).tier.qualifying_amount, 22_498);
    const [found] = (await harness.request('GET', '/v1/orders?q=jane.doe@example.com')).body.data;
    const order = (await harness.request('GET', `/v1/orders/${found.id}`)).body.data;
    const sunglasses = order.lines.find((line: { sku: string }) => line.sku === 'SKU2006-001');
    // 89.99 less its 9.00 share of the discount, with 6.48 of tax: 87.47 back to her card.
    const returned = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: order.id, return_ref: 'TIER-R-1', location_id: harness.demo.store.id, lines: [{ order_line_id: sunglasses.id, quantity: 1 }] } });
    assert.equal(returned.status, 201, JSON.stringify(returned.body));
    assert.equal(returned.body.data.total.amount_minor, 8_747);
    const loyalty = await loyaltyOf(harness, janeId);
    assert.equal(loyalty.tier.qualifying_amount, 22_498 - 8_099);
    assert.equal(loyalty.tier.next_tier.remaining, 100_000 - 22_498 + 8_099);
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] an order placed before the qualifying period earns its points but does not qualify for a tier`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { tiers: [silver] });
    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - 400 * dayMs));
    const loyalty = await loyaltyOf(harness, janeId);
    assert.equal(loyalty.available, 224);
    assert.deepEqual({ name: loyalty.tier.name, qualifying: loyalty.tier.qualifying_amount, next: loyalty.tier.next_tier }, { name: 'Member', qualifying: 0, next: { name: 'Silver', threshold: 20_000, remaining: 20_000 } });
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] pending points: with a 30-day return window a purchase's points are pending, a return in the window cancels them, and the release job makes the rest available`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { pendingDays: 30 });

    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - dayMs));
    let loyalty = await loyaltyOf(harness, janeId);
    assert.deepEqual({ available: loyalty.available, pending: loyalty.pending }, { available: 0, pending: 224 });
    assert.equal(loyalty.lots.length, 1);
    assert.equal(loyalty.lots[0].pending, true);
    const availableAt = Date.parse(loyalty.lots[0].available_at);
    assert.ok(Math.abs(availableAt - (Date.now() + 30 * dayMs)) < 60_000, 'available when the return window closes, 30 days on');

    assert.equal((await harness.deliverShopifyFixture('shopify/refunds-create.json')).status, 200);
    await harness.engine.worker.drain();
    loyalty = await loyaltyOf(harness, janeId);
    assert.deepEqual({ available: loyalty.available, pending: loyalty.pending }, { available: 0, pending: 143 }, 'the returned line\'s 81 pending points are cancelled, nothing is taken from available');

    assert.equal(await releaseDuePendingLots(harness.engine.database.db, new Date(Date.now() + 29 * dayMs).toISOString()), 0, 'nothing is due inside the window');
    assert.equal(await releaseDuePendingLots(harness.engine.database.db, new Date(Date.now() + 31 * dayMs).toISOString()), 1);
    assert.equal(await releaseDuePendingLots(harness.engine.database.db, new Date(Date.now() + 31 * dayMs).toISOString()), 0, 'a lot is released once');
    loyalty = await loyaltyOf(harness, janeId);
    assert.deepEqual({ available: loyalty.available, pending: loyalty.pending }, { available: 143, pending: 0 });
    assert.equal(loyalty.lots[0].pending, false);
    assert.equal(loyalty.lots[0].remaining, 143);
    assert.deepEqual(loyalty.history.map((entry: { kind: string }) => entry.kind).sort(), ['earn', 'release', 'reverse']);
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] lot expiry: the expiry job run past a lot's expiry takes what it still holds, once`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - dayMs));
    await sellInStore(harness, 'T-1', { phone: '613.555.0142' }, [{ sku: 'SKU-BEANIE-01', quantity: 1 }]);
    const lots = (await loyaltyOf(harness, janeId)).lots;
    assert.equal(lots.length, 2);
    assert.ok(lots.every((lot: { expires_at: string }) => Math.abs(Date.parse(lot.expires_at) - Date.now() - 365 * dayMs) < 2 * dayMs), 'the demo program expires lots after 12 months');

    assert.equal(await expireDueLots(harness.engine.database.db, new Date(Date.now() + 300 * dayMs).toISOString()), 0);
    assert.equal(await expireDueLots(harness.engine.database.db, new Date(Date.now() + 370 * dayMs).toISOString()), 2);
    assert.equal(await expireDueLots(harness.engine.database.db, new Date(Date.now() + 370 * dayMs).toISOString()), 0, 'an expired lot is not expired again');
    const loyalty = await loyaltyOf(harness, janeId);
    assert.deepEqual({ available: loyalty.available, pending: loyalty.pending }, { available: 0, pending: 0 });
    assert.deepEqual(loyalty.history.filter((entry: { kind: string }) => entry.kind === 'expire').map((entry: { points: number }) => entry.points).sort((a: number, b: number) => a - b), [24, 224]);
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] a paid membership with a 2× perk: purchases earn the larger of tier and membership multipliers while it is active, and ending it stops that`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { tiers: [silver] });
    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - dayMs));

    // Bad input is refused, naming the field, and writes nothing.
    const backwards = await harness.request('POST', `/v1/customers/${janeId}/memberships`, { body: { name: 'VIP Club', kind: 'paid', starts_at: '2027-01-01T00:00:00Z', ends_at: '2026-01-01T00:00:00Z' } });
    assert.equal(backwards.status, 422);
    assert.equal(backwards.body.error.code, 'loyalty.invalid_membership_period');
    const halving = await harness.request('POST', `/v1/customers/${janeId}/memberships`, { body: { name: 'VIP Club', kind: 'paid', perks: { earn_multiplier_bps: 5_000 } } });
    assert.equal(halving.status, 400);
    assert.match(halving.body.error.message, /perks\.earn_multiplier_bps/);
    assert.equal((await harness.request('POST', `/v1/customers/${janeId}/memberships`, { body: { name: 'VIP', kind: 'gold' } })).status, 400);
    assert.equal((await harness.request('POST', `/v1/customers/${janeId}/memberships`, { key: testPosKey, body: { name: 'VIP', kind: 'paid' } })).status, 403, 'granting is an admin\'s');
    assert.equal((await harness.request('POST', '/v1/customers/cus_nobody/memberships', { body: { name: 'VIP', kind: 'paid' } })).status, 404);
    assert.deepEqual((await harness.request('GET', `/v1/customers/${janeId}/memberships`)).body.data, []);

    const granted = await harness.request('POST', `/v1/customers/${janeId}/memberships`, { body: { name: 'VIP Club', kind: 'paid', perks: { earn_multiplier_bps: 20_000 } } });
    assert.equal(granted.status, 201, JSON.stringify(granted.body));
    const membership = granted.body.data;
    assert.deepEqual({ name: membership.name, kind: membership.kind, ends_at: membership.ends_at, perks: membership.perks, active: membership.active }, { name: 'VIP Club', kind: 'paid', ends_at: null, perks: { earn_multiplier_bps: 20_000 }, active: true });
    const loyalty = await loyaltyOf(harness, janeId);
    assert.deepEqual(loyalty.memberships.map((held: { id: string }) => held.id), [membership.id]);
    assert.equal(loyalty.tier.name, 'Silver', 'a membership is independent of the tier');
    assert.equal(loyalty.earn_multiplier_bps, 20_000);

    const asMember = await sellInStore(harness, 'T-1', { phone: '613.555.0142' }, [{ sku: 'SKU-WALLET-01', quantity: 1 }]);
    assert.equal(asMember.points_earned, 100, '50 base points × 2 (the larger of Silver 1.5× and the membership 2×; they do not compound to 3×)');

    const ended = await harness.request('POST', `/v1/memberships/${membership.id}/end`);
    assert.equal(ended.status, 200);
    assert.equal(ended.body.data.active, false);
    const endedAgain = await harness.request('POST', `/v1/memberships/${membership.id}/end`);
    assert.deepEqual(endedAgain.body.data, ended.body.data, 'ending twice changes nothing');
    assert.equal((await harness.request('POST', '/v1/memberships/mbr_nothing/end')).status, 404);
    assert.deepEqual((await loyaltyOf(harness, janeId)).memberships, []);
    assert.equal((await harness.request('GET', `/v1/customers/${janeId}/memberships`)).body.data.length, 1, 'the ended membership stays on record');

    const asSilver = await sellInStore(harness, 'T-2', { phone: '613.555.0142' }, [{ sku: 'SKU-WALLET-01', quantity: 1 }]);
    assert.equal(asSilver.points_earned, 75, 'back to Silver\'s 1.5×');
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] the sign-up bonus is given once, to a profile the enrolment brings into the program, and is available at once`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { pendingDays: 30, bonuses: { signUp: 50, birthday: 0, firstStoreVisit: 0 } });

    const annId = await enrol(harness, { email: 'ann@example.com', first_name: 'Ann' });
    let loyalty = await loyaltyOf(harness, annId);
    assert.deepEqual({ available: loyalty.available, pending: loyalty.pending }, { available: 50, pending: 0 }, 'bonuses do not wait for a return window');
    assert.ok(loyalty.lots[0].expires_at, 'but expire like any lot');
    assert.equal(await enrol(harness, { email: 'ANN@example.com' }), annId, 'the same shopper enrolled again');
    assert.equal((await loyaltyOf(harness, annId)).available, 50, 'no second bonus');
    assert.deepEqual(await transactionKeys(harness, annId, 'bonus'), [`bonus:signup:${annId}`]);

    // Jane is already in the program (her web order earned points): enrolling her is no sign-up.
    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - dayMs));
    assert.equal(await enrol(harness, { phone: '613-555-0142' }), janeId);
    loyalty = await loyaltyOf(harness, janeId);
    assert.deepEqual({ available: loyalty.available, pending: loyalty.pending }, { available: 0, pending: 224 });
    assert.deepEqual(await transactionKeys(harness, janeId, 'bonus'), []);
    await assertLedgerInvariants(harness, [annId, janeId]);
  });

  test(`[${dialect}] the first-store-visit bonus comes with a customer's first store order only, online orders do not count`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { bonuses: { signUp: 0, birthday: 0, firstStoreVisit: 25 } });

    const janeId = await deliverJanesWebOrder(harness, new Date(Date.now() - dayMs));
    assert.equal((await loyaltyOf(harness, janeId)).available, 224, 'a web order is no store visit');
    const first = await sellInStore(harness, 'T-1', { phone: '613.555.0142' }, [{ sku: 'SKU-BEANIE-01', quantity: 1 }]);
    assert.equal(first.points_earned, 24, 'the purchase earns its own points');
    assert.equal(first.loyalty.available, 224 + 24 + 25);
    const second = await sellInStore(harness, 'T-2', { phone: '613.555.0142' }, [{ sku: 'SKU-BEANIE-01', quantity: 1 }]);
    assert.equal(second.loyalty.available, 224 + 24 + 25 + 24, 'the second visit brings no bonus');
    assert.deepEqual(await transactionKeys(harness, janeId, 'bonus'), [`bonus:first-store-visit:${janeId}`]);

    const walkIn = await sellInStore(harness, 'T-3', { email: 'walk.in@example.com' }, [{ sku: 'SKU-WALLET-01', quantity: 1 }]);
    assert.equal(walkIn.loyalty.available, 50 + 25, 'a new shopper\'s first order in the store');
    await assertLedgerInvariants(harness, [janeId, walkIn.order.customer_id]);
  });

  test(`[${dialect}] the birthday bonus is given on her birthday, once a year; February 29 falls on the 28th outside leap years`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, { bonuses: { signUp: 0, birthday: 100, firstStoreVisit: 0 } });
    const db = harness.engine.database.db;
    const annId = await enrol(harness, { email: 'ann@example.com' });
    const leapId = await enrol(harness, { email: 'leap@example.com' });

    for (const [birthday, rule] of [['1990-02-30', 'has no such day in that month'], ['13-01', 'has no such month'], ['March 15', 'is not MM-DD or YYYY-MM-DD'], ['2999-01-01', 'is not a date between 1900 and today']]) {
      const refused = await harness.request('POST', `/v1/customers/${annId}/birthday`, { key: testPosKey, body: { birthday } });
      assert.equal(refused.status, 422, birthday);
      assert.deepEqual({ code: refused.body.error.code, field: refused.body.error.details.field, rule: refused.body.error.details.rule }, { code: 'customers.invalid_birthday', field: 'birthday', rule });
    }
    assert.equal((await harness.request('POST', '/v1/customers/cus_nobody/birthday', { key: testPosKey, body: { birthday: '03-15' } })).status, 404);
    const set = await harness.request('POST', `/v1/customers/${annId}/birthday`, { key: testPosKey, body: { birthday: '1990-03-15' } });
    assert.deepEqual(set.body, { data: { customer_id: annId, birthday: '1990-03-15' } });
    assert.equal((await harness.request('POST', `/v1/customers/${leapId}/birthday`, { key: testPosKey, body: { birthday: '02-29' } })).status, 200);

    assert.equal(await awardDueBirthdayBonuses(db, new Date('2027-03-14T12:00:00Z')), 0, 'not the day before');
    assert.equal(await awardDueBirthdayBonuses(db, new Date('2027-03-15T08:00:00Z')), 1);
    assert.equal(await awardDueBirthdayBonuses(db, new Date('2027-03-15T20:00:00Z')), 0, 'a later run the same day gives nothing');
    assert.equal(await awardDueBirthdayBonuses(db, new Date('2028-03-15T08:00:00Z')), 1, 'next year, again');
    assert.deepEqual(await transactionKeys(harness, annId, 'bonus'), [`bonus:birthday:${annId}:2027`, `bonus:birthday:${annId}:2028`]);
    assert.equal((await loyaltyOf(harness, annId)).available, 200);

    assert.equal(await awardDueBirthdayBonuses(db, new Date('2027-02-28T08:00:00Z')), 1, 'February 29 on the 28th in 2027');
    assert.equal(await awardDueBirthdayBonuses(db, new Date('2028-02-28T08:00:00Z')), 0, '2028 has a February 29');
    assert.equal(await awardDueBirthdayBonuses(db, new Date('2028-02-29T08:00:00Z')), 1);
    assert.deepEqual(await transactionKeys(harness, leapId, 'bonus'), [`bonus:birthday:${leapId}:2027`, `bonus:birthday:${leapId}:2028`]);
    await assertLedgerInvariants(harness, [annId, leapId]);
  });

  test(`[${dialect}] downgrade policy period_end over a rolling period: a tier reached is kept 12 months, then lost when she no longer qualifies`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    await setLoyaltySettings(harness, { tiers: [silver], tierQualification: { metric: 'spend', period: 'rolling_12_months', downgrade: 'period_end', downgradeAfterDays: 30 } });
    const placedAt = Date.now() - 2 * dayMs;
    const janeId = await deliverJanesWebOrder(harness, new Date(placedAt));
    const at = (days: number) => new Date(placedAt + days * dayMs);
    assert.equal(await downgradeDueTiers(db, at(300)), 0, 'she qualifies');
    assert.equal(await downgradeDueTiers(db, at(366)), 0, 'she no longer qualifies, but has held Silver for less than 12 months');
    assert.equal(await downgradeDueTiers(db, at(368)), 1);
    assert.equal((await loyaltyOf(harness, janeId)).tier.name, 'Member');
    await assertLedgerInvariants(harness, [janeId]);
  });

  test(`[${dialect}] downgrade policy after_days: Silver is kept while she qualified at some time in the last 30 days, then she drops to the tier she qualifies for`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    await setLoyaltySettings(harness, { tiers: [silver], tierQualification: { metric: 'spend', period: 'rolling_12_months', downgrade: 'never', downgradeAfterDays: 30 } });
    const placedAt = Date.now() - 2 * dayMs;
    const janeId = await deliverJanesWebOrder(harness, new Date(placedAt));
    assert.equal((await loyaltyOf(harness, janeId)).tier.name, 'Silver');
    const at = (days: number) => new Date(placedAt + days * dayMs);

    assert.equal(await downgradeDueTiers(db, at(400)), 0, 'policy never: she keeps Silver whatever happens');
    await setLoyaltySettings(harness, { tierQualification: { metric: 'spend', period: 'rolling_12_months', downgrade: 'after_days', downgradeAfterDays: 30 } });
    assert.equal(await downgradeDueTiers(db, at(20)), 0, 'within 30 days of reaching it');
    assert.equal(await downgradeDueTiers(db, at(200)), 0, 'she still qualifies');
    assert.equal(await downgradeDueTiers(db, at(380)), 0, 'the order left her window on day 365, but she qualified within the last 30 days');
    assert.equal((await loyaltyOf(harness, janeId)).tier.name, 'Silver');

    assert.equal(await downgradeDueTiers(db, at(400)), 1, '35 days without qualifying');
    const tier = await db.selectFrom('loyalty_accounts').select(['tier', 'tier_since']).where('merchant_id', '=', harness.demo.merchant.id).where('customer_id', '=', janeId).executeTakeFirstOrThrow();
    assert.deepEqual(tier, { tier: 'Member', tier_since: at(400).toISOString() });
    assert.equal(await downgradeDueTiers(db, at(401)), 0, 'the base tier is never downgraded');
    await harness.engine.worker.drain();
    assert.equal(harness.fake.metafields(janeShopifyGid).find((field) => field.key === 'tier')?.value, 'Member', 'Shopify hears the downgrade');
    await assertLedgerInvariants(harness, [janeId]);
  });
}
