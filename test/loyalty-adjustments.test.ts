import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine } from './support/engine-harness.ts';

for (const dialect of DIALECTS) {
  test(`[${dialect}] an admin corrects a balance with a reason: audited, applied once per reference, never below zero, and mirrored to Shopify`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await harness.engine.worker.drain();
    const jane = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data[0];
    const add = await harness.request('POST', `/v1/customers/${jane.id}/loyalty/adjustments`, { body: { points: 50, reason: 'Goodwill for a late parcel', reference: 'ticket-88' } });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    assert.equal(add.body.data.available, 274);
    const again = await harness.request('POST', `/v1/customers/${jane.id}/loyalty/adjustments`, { body: { points: 50, reason: 'Goodwill for a late parcel', reference: 'ticket-88' } });
    assert.equal(again.status, 200);
    assert.equal(again.body.data.available, 274, 'the same reference adjusts once');
    const tooMuch = await harness.request('POST', `/v1/customers/${jane.id}/loyalty/adjustments`, { body: { points: -1000, reason: 'Mistaken correction' } });
    assert.equal(tooMuch.status, 409);
    assert.equal(tooMuch.body.error.code, 'loyalty.insufficient_points');
    const noReason = await harness.request('POST', `/v1/customers/${jane.id}/loyalty/adjustments`, { body: { points: 5 } });
    assert.equal(noReason.status, 400);
    const posKey = await harness.request('POST', `/v1/customers/${jane.id}/loyalty/adjustments`, { key: 'ck_pos_test_key_for_the_journey', body: { points: 5, reason: 'Trying' } });
    assert.equal(posKey.status, 403, 'only an admin adjusts');
    const take = await harness.request('POST', `/v1/customers/${jane.id}/loyalty/adjustments`, { body: { points: -74, reason: 'Duplicate goodwill' } });
    assert.equal(take.body.data.available, 200);
    const audit = await harness.engine.database.db.selectFrom('audit_log').select(['action', 'subject', 'details_json']).where('action', '=', 'loyalty.adjust').execute();
    assert.equal(audit.length, 2);
    assert.ok(audit.every((row) => row.subject === jane.id && JSON.parse(row.details_json).reason));
    assert.equal((await sumLoyaltyEntries(harness.engine.database.db, harness.demo.merchant.id, jane.id)).available, 200);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.metafields('gid://shopify/Customer/115310627314723954').find((field) => field.key === 'points')?.value, '200');
  });
}
