import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { generateLoyaltyCode } from '../src/customers/index.ts';
import { customerLookupAnswer } from '../src/http/routes/customer-routes.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';

// The register's lookup is answered whole by one statement that writes its JSON, in SQLite's or
// PostgreSQL's JSON functions (src/commands/lookup-answer.ts, issue #9), apart from the full
// profile's code. These tests prove that it answers exactly what the full profile says, in the
// documented shape, for one customer and for several, by every kind of search.

const createdAt = '2025-03-01T10:00:00.000Z';

async function withEngine(t: TestContext, dialect: (typeof DIALECTS)[number]): Promise<TestEngine> {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  return harness;
}

/** Three "Zelda Q…" profiles: one with points, a flagged email and seven orders; one without an account; one without orders. */
async function seedProfiles(harness: TestEngine): Promise<{ quinn: string; quist: string; quo: string }> {
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  const ids = { quinn: 'cus_lookup_quinn', quist: 'cus_lookup_quist', quo: 'cus_lookup_quo' };
  const names = { quinn: 'Quinn', quist: 'Quist', quo: 'Quo' };
  for (const [key, id] of Object.entries(ids) as [keyof typeof ids, string][]) {
    await db.insertInto('customers').values({ id, merchant_id: merchantId, first_name: 'Zelda', last_name: names[key], name_search: `zelda ${names[key].toLowerCase()}`, loyalty_code: null, source_updated_at: null, created_at: createdAt, updated_at: createdAt, state: 'active', merged_into: null, note: null, preferences_json: '{}' }).execute();
  }
  const identifier = (id: string, customerId: string, kind: 'email' | 'phone', value: string, at: string, flag: string | null = null) =>
    db.insertInto('customer_identifiers').values({ id, merchant_id: merchantId, customer_id: customerId, kind, value_original: value, value_normalized: value, is_valid: 1, created_at: at, flag, verified: 0 }).execute();
  await identifier('cid_lookup_1', ids.quinn, 'email', 'zelda.quinn@example.com', '2025-03-01T10:00:00.000Z');
  await identifier('cid_lookup_2', ids.quinn, 'phone', '+16135550177', '2025-03-02T10:00:00.000Z');
  await identifier('cid_lookup_3', ids.quinn, 'email', 'zq@example.org', '2025-03-03T10:00:00.000Z');
  await identifier('cid_lookup_4', ids.quinn, 'email', 'noemail@example.com', '2025-03-04T10:00:00.000Z', 'blocked');
  await identifier('cid_lookup_5', ids.quist, 'email', 'zelda.quist@example.com', '2025-03-01T10:00:00.000Z');
  await db.insertInto('loyalty_accounts').values({ merchant_id: merchantId, customer_id: ids.quinn, available: 120, pending: 30, lifetime_earned: 400, tier: 'Gold', updated_at: createdAt }).execute();
  await db.insertInto('loyalty_accounts').values({ merchant_id: merchantId, customer_id: ids.quo, available: 5, pending: 0, lifetime_earned: 5, tier: 'Member', updated_at: createdAt }).execute();
  const orders = [...Array.from({ length: 7 }, (_, index) => ({ customerId: ids.quinn, day: 10 + index })), { customerId: ids.quist, day: 3 }, { customerId: ids.quist, day: 12 }];
  for (const [index, order] of orders.entries()) {
    const placedAt = `2025-04-${String(order.day).padStart(2, '0')}T12:00:00.000Z`;
    await db.insertInto('orders').values({
      id: `ord_lookup_${index}`, merchant_id: merchantId, channel: index % 2 ? 'online' : 'store', source: index % 2 ? 'shopify' : 'pos', source_ref: `lookup-${index}`, order_number: `#L${index}`,
      customer_id: order.customerId, location_id: null, register_ref: null, status: 'completed', currency: 'USD', subtotal_minor: 1000 + index, discount_minor: 0, shipping_minor: 0, tax_minor: 0,
      total_minor: 1000 + index, refunded_minor: index === 2 ? 500 : 0, placed_at: placedAt, source_updated_at: null, created_at: placedAt, updated_at: placedAt,
    }).execute();
  }
  return ids;
}

async function lookup(harness: TestEngine, q: string): Promise<any[]> {
  const response = await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent(q)}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  // Parsing strips what the documented schema does not name: equal means the exact documented shape.
  assert.deepEqual(customerLookupAnswer.parse(response.body), response.body, 'the answer has exactly the documented shape');
  return response.body.data;
}

/** What the lookup must show of a profile: the full profile's summary fields and its five latest orders. */
async function expectedSummary(harness: TestEngine, customerId: string) {
  const profile = (await harness.request('GET', `/v1/customers/${customerId}`)).body.data;
  return { id: profile.id, name: profile.name, emails: profile.emails, phones: profile.phones, loyalty_code: profile.loyalty_code, loyalty: profile.loyalty, orders: profile.orders.slice(0, 5) };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a name search finding several profiles shows each as its full profile does: points or none, linkable identifiers oldest first, the five latest orders`, async (t) => {
    const harness = await withEngine(t, dialect);
    const ids = await seedProfiles(harness);
    const found = await lookup(harness, 'Zelda  Q');
    assert.deepEqual(found.map((profile) => profile.id), [ids.quinn, ids.quist, ids.quo], 'alphabetical by name');
    for (const [index, id] of [ids.quinn, ids.quist, ids.quo].entries()) assert.deepEqual(found[index], await expectedSummary(harness, id));
    const [quinn, quist, quo] = found;
    assert.deepEqual(quinn.emails, ['zelda.quinn@example.com', 'zq@example.org'], 'the blocked email is not shown');
    assert.deepEqual(quinn.loyalty, { available: 120, pending: 30, tier: 'Gold' });
    assert.deepEqual(quinn.orders.map((order: { id: string }) => order.id), ['ord_lookup_6', 'ord_lookup_5', 'ord_lookup_4', 'ord_lookup_3', 'ord_lookup_2'], 'newest first, five of seven');
    assert.deepEqual(quist.orders.map((order: { id: string }) => order.id), ['ord_lookup_8', 'ord_lookup_7']);
    assert.equal(quist.loyalty.available, 0, 'no account: no points');
    assert.deepEqual(quo.orders, []);
  });

  test(`[${dialect}] a phone as typed and an email in any case each find their one profile, shown as the full profile does`, async (t) => {
    const harness = await withEngine(t, dialect);
    const ids = await seedProfiles(harness);
    assert.deepEqual(await lookup(harness, '(613) 555-0177'), [await expectedSummary(harness, ids.quinn)]);
    assert.deepEqual(await lookup(harness, 'ZELDA.QUIST@Example.com'), [await expectedSummary(harness, ids.quist)]);
    assert.deepEqual(await lookup(harness, 'nobody@example.com'), []);
  });

  test(`[${dialect}] a profile found by email shows her name as the full profile does: only a first or a last name, none, quotes, accents and emoji`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    const people = [
      { first: 'Zoë "Zee"', last: 'O\'Brien \\ 🌷', shown: 'Zoë "Zee" O\'Brien \\ 🌷' },
      { first: 'Madonna', last: null, shown: 'Madonna' },
      { first: '', last: 'Solo', shown: 'Solo' },
      { first: null, last: null, shown: '' },
    ];
    for (const [index, person] of people.entries()) {
      const id = `cus_named_${index}`;
      await db.insertInto('customers').values({ id, merchant_id: merchantId, first_name: person.first, last_name: person.last, name_search: person.shown.toLowerCase(), loyalty_code: null, source_updated_at: null, created_at: createdAt, updated_at: createdAt, state: 'active', merged_into: null, note: null, preferences_json: '{}' }).execute();
      await db.insertInto('customer_identifiers').values({ id: `cid_named_${index}`, merchant_id: merchantId, customer_id: id, kind: 'email', value_original: `named.${index}@example.com`, value_normalized: `named.${index}@example.com`, is_valid: 1, created_at: createdAt, flag: null, verified: 0 }).execute();
      const found = await lookup(harness, `Named.${index}@example.com`);
      assert.deepEqual(found, [await expectedSummary(harness, id)]);
      assert.equal(found[0]?.name, person.shown);
    }
  });

  test(`[${dialect}] any name a shopper gives, control characters, quotes, backslashes and any script included, reads back from a lookup as from her full profile`, async (t) => {
    const harness = await withEngine(t, dialect);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    // Text as a person or a channel may send it: any Unicode scalar value but NUL (PostgreSQL's
    // text refuses it), JSON's specials more often than chance would pick them.
    const specials = fc.constantFrom('"', '\\', '\n', '\t', '\u0001', '\u001f', '\u007f', '\u2028', '\u00e9', '\u{1f337}', ' ');
    const nameText = fc.array(fc.oneof(specials, fc.string({ unit: 'grapheme', maxLength: 3 })), { maxLength: 8 }).map((parts) => parts.join('').replaceAll('\u0000', ''));
    let index = 0;
    await fc.assert(fc.asyncProperty(fc.option(nameText), fc.option(nameText), async (first, last) => {
      index += 1;
      const id = `cus_any_name_${index}`;
      const email = `any.name.${index}@example.com`;
      await db.insertInto('customers').values({ id, merchant_id: merchantId, first_name: first, last_name: last, name_search: `any name ${index}`, loyalty_code: null, source_updated_at: null, created_at: createdAt, updated_at: createdAt, state: 'active', merged_into: null, note: null, preferences_json: '{}' }).execute();
      await db.insertInto('customer_identifiers').values({ id: `cid_any_name_${index}`, merchant_id: merchantId, customer_id: id, kind: 'email', value_original: email, value_normalized: email, is_valid: 1, created_at: createdAt, flag: null, verified: 0 }).execute();
      assert.deepEqual(await lookup(harness, email), [await expectedSummary(harness, id)]);
    }), { numRuns: 40 });
  });

  test(`[${dialect}] an email several profiles hold finds each active one, oldest first, each with her own five latest orders`, async (t) => {
    const harness = await withEngine(t, dialect);
    const ids = await seedProfiles(harness);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    // A family's shared address: Quinn (seven orders) and Quist (two, and the older profile), and a
    // profile since merged into Quinn's, which a search never shows.
    await db.updateTable('customers').set({ created_at: '2025-02-01T10:00:00.000Z' }).where('id', '=', ids.quist).execute();
    await db.insertInto('customers').values({ id: 'cus_lookup_merged', merchant_id: merchantId, first_name: 'Zelda', last_name: 'Q', name_search: 'zelda q', loyalty_code: null, source_updated_at: null, created_at: '2025-01-01T10:00:00.000Z', updated_at: createdAt, state: 'merged', merged_into: ids.quinn, note: null, preferences_json: '{}' }).execute();
    for (const [index, customerId] of [ids.quinn, ids.quist, 'cus_lookup_merged'].entries()) {
      await db.insertInto('customer_identifiers').values({ id: `cid_family_${index}`, merchant_id: merchantId, customer_id: customerId, kind: 'email', value_original: 'Family@Example.com', value_normalized: 'family@example.com', is_valid: 1, created_at: '2025-03-05T10:00:00.000Z', flag: null, verified: 0 }).execute();
    }
    const found = await lookup(harness, 'FAMILY@example.com');
    assert.deepEqual(found.map((profile) => profile.id), [ids.quist, ids.quinn], 'the active holders, oldest profile first');
    for (const profile of found) assert.deepEqual(profile, await expectedSummary(harness, profile.id));
    assert.deepEqual(found[1].orders.map((order: { id: string }) => order.id), ['ord_lookup_6', 'ord_lookup_5', 'ord_lookup_4', 'ord_lookup_3', 'ord_lookup_2'], 'Quinn\'s seven orders do not crowd out Quist\'s');
    assert.deepEqual(found[0].orders.map((order: { id: string }) => order.id), ['ord_lookup_8', 'ord_lookup_7']);
  });

  test(`[${dialect}] a loyalty code ranks its profile before the profiles whose names start with what was typed, each shown once`, async (t) => {
    const harness = await withEngine(t, dialect);
    const ids = await seedProfiles(harness);
    const db = harness.engine.database.db;
    const code = generateLoyaltyCode();
    await db.updateTable('customers').set({ loyalty_code: code }).where('id', '=', ids.quo).execute();
    // Two profiles named after the code as typed: the name search finds both, and one of them
    // also holds the code.
    const named = { id: 'cus_lookup_named', name: `${code} Later` };
    const holder = { id: 'cus_lookup_holder', name: `${code} Earlier` };
    for (const profile of [named, holder]) {
      await db.insertInto('customers').values({ id: profile.id, merchant_id: harness.demo.merchant.id, first_name: profile.name, last_name: null, name_search: profile.name.toLowerCase(), loyalty_code: null, source_updated_at: null, created_at: createdAt, updated_at: createdAt, state: 'active', merged_into: null, note: null, preferences_json: '{}' }).execute();
    }
    const found = await lookup(harness, code);
    assert.deepEqual(found.map((profile) => profile.id), [ids.quo, holder.id, named.id], 'the code\'s holder first, then the names alphabetically');
    for (const profile of found) assert.deepEqual(profile, await expectedSummary(harness, profile.id));

    await db.updateTable('customers').set({ loyalty_code: null }).where('id', '=', ids.quo).execute();
    await db.updateTable('customers').set({ loyalty_code: code }).where('id', '=', named.id).execute();
    assert.deepEqual((await lookup(harness, code)).map((profile) => profile.id), [named.id, holder.id], 'a holder whose name matches too ranks first and shows once');
  });
}
