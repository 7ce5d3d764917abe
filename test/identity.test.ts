import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLoyaltyCode } from '../src/customers/index.ts';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { newId } from '../src/shared/ids.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';

async function lookup(harness: TestEngine, q: string) {
  const response = await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent(q)}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data as { id: string; name: string; emails: string[]; phones: string[]; loyalty_code: string; loyalty: { available: number } }[];
}

async function sell(harness: TestEngine, saleId: string, customer: Record<string, string>, sku = 'SKU-BEANIE-01') {
  const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: saleId, location_id: harness.demo.store.id, customer, lines: [{ sku, quantity: 1 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  return sale.body.data;
}

async function setIdentitySettings(harness: TestEngine, identity: Record<string, unknown>) {
  const row = await harness.engine.database.db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
  const settings = JSON.parse(row.settings_json);
  settings.identity = { ...settings.identity, ...identity };
  await harness.engine.database.db.updateTable('merchants').set({ settings_json: JSON.stringify(settings) }).where('id', '=', harness.demo.merchant.id).execute();
}

/** A second profile that already holds an email, as legacy data or a register's own enrolment can leave it. */
async function insertLegacyProfile(harness: TestEngine, email: string, firstName: string, verified: boolean) {
  const db = harness.engine.database.db;
  const id = newId('cus');
  const now = new Date().toISOString();
  await db.insertInto('customers').values({ id, merchant_id: harness.demo.merchant.id, first_name: firstName, last_name: 'Doe', name_search: `${firstName.toLowerCase()} doe`, loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now, merged_into: null, note: null }).execute();
  await db.insertInto('customer_identifiers').values({ id: newId('cid'), merchant_id: harness.demo.merchant.id, customer_id: id, kind: 'email', value_original: email, value_normalized: email, is_valid: 1, flag: null, verified: verified ? 1 : 0, created_at: now }).execute();
  return id;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] shoppers at a shared store tablet who give the store's own phone are never merged`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setIdentitySettings(harness, { blockedPhones: ['(613) 555-0100'] });
    for (const [index, name] of ['Ana', 'Ben', 'Cy'].entries()) {
      await sell(harness, `T-${index}`, { phone: '613-555-0100', email: `${name.toLowerCase()}@example.com`, first_name: name, last_name: 'Shopper' });
    }
    await sell(harness, 'T-9', { phone: '000-000-0000', email: 'dee@example.com' });
    assert.equal((await lookup(harness, '613 555 0100')).length, 0, 'the store phone finds nobody');
    for (const name of ['ana', 'ben', 'cy', 'dee']) assert.equal((await lookup(harness, `${name}@example.com`)).length, 1);
    const ids = new Set<string>();
    for (const name of ['ana', 'ben', 'cy', 'dee']) ids.add((await lookup(harness, `${name}@example.com`))[0]!.id);
    assert.equal(ids.size, 4, 'four shoppers, four profiles');
    const ana = (await harness.request('GET', `/v1/customers/${[...ids][0]}`)).body.data;
    assert.deepEqual(ana.identifiers.filter((identifier: { kind: string }) => identifier.kind === 'phone').map((identifier: { flag: string }) => identifier.flag), ['blocked'], 'kept for the record, flagged');
  });

  test(`[${dialect}] an identifier already shared by the maximum number of profiles links no further`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await setIdentitySettings(harness, { maxProfilesPerIdentifier: 2 });
    await insertLegacyProfile(harness, 'family@example.com', 'Pat', false);
    await insertLegacyProfile(harness, 'family@example.com', 'Sam', false);
    const sale = await sell(harness, 'F-1', { email: 'family@example.com', phone: '+1 613 555 0177', first_name: 'Kim' });
    const kim = (await harness.request('GET', `/v1/customers/${sale.order.customer_id}`)).body.data;
    assert.equal(kim.name, 'Kim', 'a new profile, not one of the two sharing the email');
    assert.deepEqual(kim.identifiers.filter((identifier: { kind: string }) => identifier.kind === 'email').map((identifier: { flag: string }) => identifier.flag), ['over_limit']);
  });

  test(`[${dialect}] an enrolled member gets a checksummed loyalty code that finds her when typed loosely and refuses a typo, and a QR card`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const enrolled = await harness.request('POST', '/v1/customers', { key: 'ck_pos_test_key_for_the_journey', body: { email: 'new.member@example.com', first_name: 'Nia', last_name: 'Member' } });
    assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
    const code: string = enrolled.body.data.loyalty_code;
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}$/);
    assert.equal(parseLoyaltyCode(code), code);
    const typedLoosely = code.replaceAll('-', '').toLowerCase();
    assert.deepEqual((await lookup(harness, typedLoosely)).map((profile) => profile.id), [enrolled.body.data.id]);
    const symbols = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const position = 4;
    const wrong = symbols[(symbols.indexOf(code[position]!) + 1) % symbols.length]!;
    const mistyped = code.slice(0, position) + wrong + code.slice(position + 1);
    assert.equal(parseLoyaltyCode(mistyped), undefined, 'one wrong symbol fails the check');
    assert.equal((await lookup(harness, mistyped)).length, 0);
    const swapped = code.slice(0, 4) + code[5] + code[4] + code.slice(6);
    if (swapped !== code) assert.equal(parseLoyaltyCode(swapped), undefined, 'two neighbours swapped fail the check');
    const card = await harness.request('GET', `/v1/customers/${enrolled.body.data.id}/loyalty-card.svg`);
    assert.equal(card.status, 200);
    assert.match(String(card.headers['content-type']), /image\/svg\+xml/);
    assert.match(String(card.body), /<svg/);
    const again = await harness.request('POST', '/v1/customers', { body: { email: 'NEW.MEMBER@example.com' } });
    assert.equal(again.body.data.id, enrolled.body.data.id, 'enrolling twice finds the same member');
  });

  test(`[${dialect}] a shopper known at the register by email is the same profile when her Shopify account arrives with that email`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await sell(harness, 'R-1', { email: 'jane.doe@example.com', first_name: 'Jane', last_name: 'Doe' });
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await harness.engine.worker.drain();
    const found = await lookup(harness, 'jane.doe@example.com');
    assert.equal(found.length, 1);
    assert.equal(found[0]!.loyalty.available, 24 + 224);
    assert.equal((await harness.request('GET', '/v1/exceptions?kind=possible_duplicate')).body.data.length, 0);
  });

  test(`[${dialect}] two accounts with the same email go to review by default, side by side, and merge automatically when the merchant allows verified matches`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const first = await insertLegacyProfile(harness, 'twin@example.com', 'Tia', true);
    const second = await insertLegacyProfile(harness, 'twin@example.com', 'Tia', true);
    const scan = await harness.request('POST', '/v1/customers/duplicates/scan');
    assert.deepEqual(scan.body.data, { shared_values: 1, sent_to_review: 1, merged: 0 });
    const [review] = (await harness.request('GET', '/v1/exceptions?kind=possible_duplicate')).body.data;
    const detail = (await harness.request('GET', `/v1/exceptions/${review.id}`)).body.data;
    assert.deepEqual(detail.profiles.map((profile: { id: string }) => profile.id).sort(), [first, second].sort());
    const notSame = await harness.request('POST', `/v1/exceptions/${review.id}/resolve`, { body: { action: 'not_same_person' } });
    assert.equal(notSame.body.data.state, 'resolved');
    assert.deepEqual((await harness.request('POST', '/v1/customers/duplicates/scan')).body.data.merged, 0);

    await setIdentitySettings(harness, { autoMergeVerifiedEmail: true });
    const third = await insertLegacyProfile(harness, 'auto@example.com', 'Ola', true);
    const fourth = await insertLegacyProfile(harness, 'auto@example.com', 'Ola', true);
    const autoScan = (await harness.request('POST', '/v1/customers/duplicates/scan')).body.data;
    assert.equal(autoScan.merged, 1, 'the verified pair merged; the pair a person declared different did not');
    assert.equal((await lookup(harness, 'twin@example.com')).length, 2);
    assert.deepEqual((await lookup(harness, 'auto@example.com')).map((profile) => profile.id), [third]);
    assert.equal((await harness.request('GET', `/v1/customers/${fourth}`)).body.data.state, 'merged');
  });

  test(`[${dialect}] a merge moves orders, identifiers and points by ledger entries, and unmerge restores both profiles and ledgers exactly`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await engine.worker.drain();
    const jane = (await lookup(harness, 'jane.doe@example.com'))[0]!;
    const storeSale = await sell(harness, 'M-1', { phone: '+1 819 555 0199', first_name: 'Jane', last_name: 'D' }, 'SKU-WALLET-01');
    const storeProfileId: string = storeSale.order.customer_id;
    assert.notEqual(storeProfileId, jane.id);
    const snapshot = async (id: string) => {
      const profile = (await harness.request('GET', `/v1/customers/${id}`)).body.data;
      const loyalty = (await harness.request('GET', `/v1/customers/${id}/loyalty`)).body.data;
      return { profile, balance: { available: loyalty.available, lifetime: loyalty.lifetime_earned }, lots: loyalty.lots };
    };
    const beforeJane = await snapshot(jane.id);
    const beforeStore = await snapshot(storeProfileId);

    const merge = await harness.request('POST', '/v1/customers/merge', { body: { survivor_id: jane.id, merged_id: storeProfileId, reason: 'same shopper' } });
    assert.equal(merge.status, 201, JSON.stringify(merge.body));
    const merged = (await harness.request('GET', `/v1/customers/${jane.id}`)).body.data;
    assert.equal(merged.loyalty.available, 224 + 50);
    assert.deepEqual(merged.orders.map((order: { channel: string }) => order.channel).sort(), ['online', 'store']);
    assert.deepEqual((await lookup(harness, '819-555-0199')).map((profile) => profile.id), [jane.id], 'her store phone now finds the one profile');
    assert.deepEqual((await lookup(harness, beforeStore.profile.loyalty_code)).map((profile) => profile.id), [jane.id], 'the old loyalty card still works');
    assert.equal((await sumLoyaltyEntries(engine.database.db, demo.merchant.id, jane.id)).available, 274);
    assert.equal((await sumLoyaltyEntries(engine.database.db, demo.merchant.id, storeProfileId)).available, 0);
    await engine.worker.drain();
    assert.equal(harness.fake.metafields('gid://shopify/Customer/115310627314723954').find((field) => field.key === 'points')?.value, '274', 'the merged profile was pushed to Shopify');

    const unmerge = await harness.request('POST', `/v1/customers/merges/${merge.body.data.merge_id}/unmerge`);
    assert.equal(unmerge.status, 200, JSON.stringify(unmerge.body));
    const afterJane = await snapshot(jane.id);
    const afterStore = await snapshot(storeProfileId);
    assert.deepEqual(afterJane, beforeJane, 'Jane is exactly as before the merge');
    assert.deepEqual(afterStore, beforeStore, 'the store profile is exactly as before the merge');
    assert.equal((await sumLoyaltyEntries(engine.database.db, demo.merchant.id, storeProfileId)).available, 50);
    const again = await harness.request('POST', `/v1/customers/merges/${merge.body.data.merge_id}/unmerge`);
    assert.equal(again.status, 409, 'a merge is undone once');
    const merges = (await harness.request('GET', `/v1/customers/${jane.id}/merges`)).body.data;
    assert.deepEqual(merges.map((row: { state: string }) => row.state), ['unmerged']);
  });

  test(`[${dialect}] a customers/merge webhook from Shopify merges the deleted customer's profile into the kept one`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    const other = Buffer.from(JSON.stringify({ id: '999000111', email: 'jane.work@example.com', first_name: 'Jane', last_name: 'Doe', verified_email: true }));
    await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Topic': 'customers/create', 'X-Shopify-Webhook-Id': 'c-1', 'X-Shopify-Event-Id': 'c-1' }, other);
    await harness.engine.worker.drain();
    assert.equal((await lookup(harness, 'jane.work@example.com')).length, 1);
    const body = Buffer.from(JSON.stringify({ admin_graphql_api_customer_kept_id: 'gid://shopify/Customer/115310627314723954', admin_graphql_api_customer_deleted_id: 'gid://shopify/Customer/999000111', admin_graphql_api_job_id: 'gid://shopify/Job/1', status: 'completed' }));
    await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Topic': 'customers/merge', 'X-Shopify-Webhook-Id': 'm-1', 'X-Shopify-Event-Id': 'm-1' }, body);
    await harness.engine.worker.drain();
    const janes = await lookup(harness, 'jane.work@example.com');
    assert.equal(janes.length, 1);
    assert.deepEqual(janes[0]!.emails.sort(), ['jane.doe@example.com', 'jane.work@example.com']);
  });
}
