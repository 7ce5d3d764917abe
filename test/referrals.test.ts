import assert from 'node:assert/strict';
import { test } from 'node:test';
import { payQualifiedReferrals } from '../src/commands/index.ts';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { newId } from '../src/shared/ids.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, testPosKey, testAdminKey, type TestEngine } from './support/engine-harness.ts';

const dayMs = 86_400_000;

/** The demo program with referrals switched on: 500 for the referrer, 200 for the friend, a 30-day return window. */
async function setLoyaltySettings(harness: TestEngine, loyalty: Record<string, unknown> = {}, referral: Record<string, unknown> = {}) {
  const db = harness.engine.database.db;
  const row = await db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
  const settings = JSON.parse(row.settings_json);
  settings.loyalty = { ...settings.loyalty, pendingDays: 30, ...loyalty, referral: { ...settings.loyalty.referral, referrerPoints: 500, friendPoints: 200, ...referral } };
  await db.updateTable('merchants').set({ settings_json: JSON.stringify(settings) }).where('id', '=', harness.demo.merchant.id).execute();
}

async function enrol(harness: TestEngine, body: Record<string, string>): Promise<string> {
  const response = await harness.request('POST', '/v1/customers', { key: testPosKey, body });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data.id;
}

async function referralCodeOf(harness: TestEngine, customerId: string): Promise<string> {
  const response = await harness.request('GET', `/v1/customers/${customerId}/referral-code`, { key: testPosKey });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data.code;
}

function claim(harness: TestEngine, code: string, friend: Record<string, string>) {
  return harness.request('POST', '/v1/referrals', { key: testPosKey, body: { code, friend } });
}

async function sell(harness: TestEngine, saleId: string, customerId: string) {
  const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: saleId, location_id: harness.demo.store.id, customer: { customer_id: customerId }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  return sale.body.data;
}

async function balanceOf(harness: TestEngine, customerId: string): Promise<{ available: number; pending: number }> {
  const response = await harness.request('GET', `/v1/customers/${customerId}/loyalty`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return { available: response.body.data.available, pending: response.body.data.pending };
}

async function referralsOf(harness: TestEngine, customerId: string) {
  const response = await harness.request('GET', `/v1/referrals?customer_id=${customerId}`, { key: testPosKey });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data as { id: string; referrer_id: string; friend_id: string; state: string; reason: string | null; order_id: string | null; qualifies_at: string | null }[];
}

/** Every cached balance equals the sum of its entries, and every loyalty transaction sums to zero. */
async function assertLedgerHolds(harness: TestEngine, customerIds: string[]) {
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  for (const customerId of customerIds) {
    const cached = await db.selectFrom('loyalty_accounts').select(['available', 'pending']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
    assert.deepEqual({ available: cached?.available ?? 0, pending: cached?.pending ?? 0 }, await sumLoyaltyEntries(db, merchantId, customerId), `cached balance of ${customerId} equals its entries`);
  }
  const sums = await db.selectFrom('loyalty_entries').select('transaction_id').select((eb) => eb.fn.sum<number>('amount').as('total')).where('merchant_id', '=', merchantId).groupBy('transaction_id').execute();
  assert.ok(sums.length > 0);
  for (const row of sums) assert.equal(Number(row.total), 0, `transaction ${row.transaction_id} sums to zero`);
}

function assertRefused(response: { status: number; body: { error?: { code: string; details: Record<string, unknown> } } }, status: number, reason: string) {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body.error?.code, 'loyalty.referral_refused');
  assert.equal(response.body.error?.details['reason'], reason);
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a friend's first order earns her reward at once and pays the referrer once, only after the return window`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness);
    const ria = await enrol(harness, { email: 'ria@example.com', phone: '+1 613 555 0101', first_name: 'Ria' });
    const code = await referralCodeOf(harness, ria);
    assert.match(code, /^REF-[0-9A-HJKMNP-TV-Z]{6}$/);
    assert.equal(await referralCodeOf(harness, ria), code, 'one code per member, the same on every ask');

    const claimed = await claim(harness, code.toLowerCase().replace('-', ' '), { email: 'Sam@Example.com', first_name: 'Sam' });
    assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
    assert.equal(claimed.body.data.state, 'pending');
    assert.equal(claimed.body.data.referrer_id, ria);
    const sam = claimed.body.data.friend_id;
    assert.notEqual(sam, ria, 'the friend is enrolled as her own profile');

    const sale = await sell(harness, 'REF-SALE-1', sam);
    assert.deepEqual(await balanceOf(harness, sam), { available: 200, pending: sale.points_earned }, 'her reward at once; her purchase points wait for the window');
    const [waiting] = await referralsOf(harness, ria);
    assert.equal(waiting?.state, 'awaiting_return_window');
    assert.equal(waiting?.order_id, sale.order.id);
    assert.equal(Date.parse(waiting!.qualifies_at!), Date.parse(sale.order.placed_at) + 30 * dayMs);

    await sell(harness, 'REF-SALE-2', sam);
    assert.equal((await balanceOf(harness, sam)).available, 200, 'a second order is not a first order');
    assert.equal(await payQualifiedReferrals(harness.engine.database.db), 0, 'the window is still open');
    assert.deepEqual(await balanceOf(harness, ria), { available: 0, pending: 0 });

    const afterWindow = new Date(Date.parse(waiting!.qualifies_at!) + 1000).toISOString();
    const concurrent = await Promise.all([payQualifiedReferrals(harness.engine.database.db, afterWindow), payQualifiedReferrals(harness.engine.database.db, afterWindow)]);
    assert.equal(concurrent[0] + concurrent[1], 1, 'two runs at once settle the referral once');
    assert.equal(await payQualifiedReferrals(harness.engine.database.db, afterWindow), 0, 'a later run finds nothing to pay');
    assert.deepEqual(await balanceOf(harness, ria), { available: 500, pending: 0 });
    assert.equal((await referralsOf(harness, sam))[0]?.state, 'paid', 'the friend sees the referral she was named in');
    await assertLedgerHolds(harness, [ria, sam]);
  });

  test(`[${dialect}] claims are refused when the code is unknown, the friend is the referrer, already a customer, or already referred; nothing is written`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness);
    const ria = await enrol(harness, { email: 'ria@example.com', phone: '+1 613 555 0101', first_name: 'Ria' });
    const code = await referralCodeOf(harness, ria);

    assertRefused(await claim(harness, 'REF-000000', { email: 'new@example.com' }), 422, 'unknown_code');
    assertRefused(await claim(harness, 'not a code', { email: 'new@example.com' }), 422, 'unknown_code');
    assertRefused(await claim(harness, code, { customer_id: ria }), 422, 'self_referral');
    assertRefused(await claim(harness, code, { email: 'RIA@example.com', first_name: 'Ria' }), 422, 'self_referral');
    const lookup = await harness.request('GET', '/v1/customers/lookup?q=new@example.com');
    assert.equal(lookup.body.data.length, 0, 'a refused claim enrols nobody');

    const shopper = await enrol(harness, { email: 'shopper@example.com' });
    await sell(harness, 'OLD-1', shopper);
    assertRefused(await claim(harness, code, { email: 'shopper@example.com' }), 409, 'already_customer');

    const ben = await enrol(harness, { email: 'ben@example.com' });
    const first = await claim(harness, code, { email: 'sam@example.com' });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assertRefused(await claim(harness, await referralCodeOf(harness, ben), { email: 'sam@example.com' }), 409, 'already_referred');
    assertRefused(await claim(harness, code, { email: 'sam@example.com' }), 409, 'already_referred');
    assert.deepEqual((await referralsOf(harness, ria)).map((referral) => referral.state), ['pending'], 'one referral held, none for the refusals');

    const invalid = await harness.request('POST', '/v1/referrals', { key: testPosKey, body: { code, friend: { first_name: 'Nobody' } } });
    assert.equal(invalid.status, 400, 'a friend named by nothing is bad input');
    assert.equal(invalid.body.error.code, 'request.invalid');
  });

  test(`[${dialect}] a second profile of the referrer (her phone) and a burst over the velocity limit go to review, and a person decides`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness, {}, { velocityMax: 2, velocityWindowDays: 30 });
    const ria = await enrol(harness, { email: 'ria@example.com', phone: '+1 613 555 0101', first_name: 'Ria' });
    const code = await referralCodeOf(harness, ria);
    // A second profile holding her phone, as legacy data or a register's own enrolment can leave it.
    const db = harness.engine.database.db;
    const second = newId('cus');
    const now = new Date().toISOString();
    await db.insertInto('customers').values({ id: second, merchant_id: harness.demo.merchant.id, first_name: 'R', last_name: null, name_search: 'r', loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now, merged_into: null, note: null }).execute();
    await db.insertInto('customer_identifiers').values({ id: newId('cid'), merchant_id: harness.demo.merchant.id, customer_id: second, kind: 'phone', value_original: '613-555-0101', value_normalized: '+16135550101', is_valid: 1, flag: null, verified: 0, created_at: now }).execute();

    const selfAgain = await claim(harness, code, { customer_id: second });
    assert.equal(selfAgain.status, 201, JSON.stringify(selfAgain.body));
    assert.equal(selfAgain.body.data.state, 'review');
    assert.match(selfAgain.body.data.reason, /phone/);
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=referral_review')).body.data;
    assert.equal(exceptions.length, 1);
    assert.equal(exceptions[0].details.referral_id, selfAgain.body.data.id);
    assert.deepEqual(exceptions[0].details.shared, ['phone']);

    const second2 = await claim(harness, code, { email: 'amy@example.com' });
    assert.equal(second2.body.data.state, 'pending', 'the second referral in the window is within the limit');
    const third = await claim(harness, code, { email: 'bo@example.com' });
    assert.equal(third.status, 201, JSON.stringify(third.body));
    assert.equal(third.body.data.state, 'review', 'the third referral in the window is over the limit of 2');
    assert.match(third.body.data.reason, /more than 2 referrals within 30 days/);

    const byRegister = await harness.request('POST', `/v1/referrals/${third.body.data.id}/approve`, { key: testPosKey, body: {} });
    assert.equal(byRegister.status, 403, 'a register cannot approve its own review');
    // Bo ordered while her referral waited for a person: once approved, that order is her first.
    const boSale = await sell(harness, 'BO-1', third.body.data.friend_id);
    assert.equal((await balanceOf(harness, third.body.data.friend_id)).available, 0, 'no reward while in review');
    const approved = await harness.request('POST', `/v1/referrals/${third.body.data.id}/approve`, { key: testAdminKey, body: { note: 'a real friend, checked' } });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.data.state, 'awaiting_return_window');
    assert.equal(approved.body.data.order_id, boSale.order.id);
    assert.equal((await balanceOf(harness, third.body.data.friend_id)).available, 200);

    const rejected = await harness.request('POST', `/v1/referrals/${selfAgain.body.data.id}/reject`, { key: testAdminKey });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal(rejected.body.data.state, 'refused');
    const again = await harness.request('POST', `/v1/referrals/${selfAgain.body.data.id}/approve`, { key: testAdminKey });
    assert.equal(again.status, 409, 'a decided review is not decided again');
    assert.equal(again.body.error.code, 'loyalty.referral_conflict');
    assert.equal((await harness.request('GET', '/v1/exceptions?kind=referral_review&state=open')).body.data.length, 0, 'both reviews are closed');
    assert.equal((await harness.request('POST', '/v1/referrals/ref_unknown/approve', { key: testAdminKey })).status, 404);
    await assertLedgerHolds(harness, [ria, third.body.data.friend_id]);
  });

  test(`[${dialect}] a first order that comes back before its window closes pays the referrer nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness);
    const ria = await enrol(harness, { email: 'ria@example.com', first_name: 'Ria' });
    const claimed = await claim(harness, await referralCodeOf(harness, ria), { phone: '613 555 0177', first_name: 'Cat' });
    assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
    const cat = claimed.body.data.friend_id;
    const pickup = await harness.request('POST', '/v1/pickups', { key: testPosKey, body: { sale_id: 'WEB-CAT-1', location_id: harness.demo.store.id, customer: { customer_id: cat }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    assert.equal(pickup.status, 201, JSON.stringify(pickup.body));
    assert.equal((await referralsOf(harness, cat))[0]?.state, 'awaiting_return_window');
    assert.equal((await harness.request('POST', `/v1/pickups/${pickup.body.data.pickup_id}/cancel`, { key: testPosKey })).status, 200);

    const farFuture = new Date(Date.now() + 365 * dayMs).toISOString();
    assert.equal(await payQualifiedReferrals(harness.engine.database.db, farFuture), 1);
    const [settled] = await referralsOf(harness, ria);
    assert.equal(settled?.state, 'refused');
    assert.equal(settled?.reason, 'first order returned');
    assert.deepEqual(await balanceOf(harness, ria), { available: 0, pending: 0 }, 'the referrer is never paid');
    assert.equal(await payQualifiedReferrals(harness.engine.database.db, farFuture), 0);
    await assertLedgerHolds(harness, [ria, cat]);
  });

  test(`[${dialect}] a web order from Shopify is a first order too, and one whose window already closed is paid on the next run`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setLoyaltySettings(harness);
    const ria = await enrol(harness, { email: 'ria@example.com', first_name: 'Ria' });
    const claimed = await claim(harness, await referralCodeOf(harness, ria), { email: 'jane.doe@example.com', first_name: 'Jane' });
    assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
    assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
    await harness.engine.worker.drain();
    const jane = claimed.body.data.friend_id;
    assert.equal((await balanceOf(harness, jane)).available, 200, 'the order attached to her profile and gave her the reward');
    // The fixture order was placed in June 2025: its 30-day window closed long ago.
    await harness.engine.scheduler.runAll();
    assert.deepEqual(await balanceOf(harness, ria), { available: 500, pending: 0 });
    assert.equal((await referralsOf(harness, ria))[0]?.state, 'paid');
    await assertLedgerHolds(harness, [ria, jane]);
  });
}
