import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, type TestEngine } from './support/engine-harness.ts';

// Issue #9: shoppers' points and tiers waiting to be mirrored to Shopify go out with ONE
// metafieldsSet call per twelve shoppers (Shopify sets at most 25 metafields a call, two each; a
// mutation costs the same 10 points however many it sets), so a busy day's earnings stay within
// a standard plan's rate. Shopify applies such a call whole or not at all: a shopper it refuses
// (deleted in Shopify) fails alone and waits for a retry, the others are mirrored.

const shopperCount = 14;
const shopifyIdOf = (index: number) => String(640_000_000_000_100 + index);
const gidOf = (index: number) => `gid://shopify/Customer/${shopifyIdOf(index)}`;

async function createShoppers(harness: TestEngine): Promise<string[]> {
  const template = JSON.parse(readFixture('shopify/customers-create.json').toString('utf8'));
  for (let index = 0; index < shopperCount; index += 1) {
    const body = { ...template, id: Number(shopifyIdOf(index)), email: `mirror-${index}@example.com`, first_name: `Mirror${index}` };
    const delivered = await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Webhook-Id': `mirror-${index}`, 'X-Shopify-Event-Id': `mirror-${index}` }, Buffer.from(JSON.stringify(body)));
    assert.equal(delivered.status, 200, JSON.stringify(delivered.body));
  }
  await harness.engine.worker.drain();
  const ids: string[] = [];
  for (let index = 0; index < shopperCount; index += 1) {
    const link = await harness.engine.database.db.selectFrom('customer_identifiers').select('customer_id').where('kind', '=', 'shopify_id').where('value_normalized', '=', shopifyIdOf(index)).executeTakeFirstOrThrow();
    ids.push(link.customer_id);
  }
  return ids;
}

async function grant(harness: TestEngine, customerId: string, points: number, reference: string): Promise<void> {
  const response = await harness.request('POST', `/v1/customers/${customerId}/loyalty/adjustments`, { body: { points, reason: 'mirror batch test', reference } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
}

const mirroredPoints = (harness: TestEngine, index: number) => harness.fake.metafields(gidOf(index)).find((field) => field.key === 'points')?.value;

function metafieldsSetCalls(harness: TestEngine, from: number) {
  return harness.fake.requests.slice(from).filter((request) => request.operation === 'metafieldsSet' && request.outcome === 'executed');
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] fourteen shoppers' new points reach Shopify in two metafieldsSet calls, each shopper with her own figure`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const shoppers = await createShoppers(harness);

    const before = harness.fake.requests.length;
    for (const [index, customerId] of shoppers.entries()) await grant(harness, customerId, 10 * (index + 1), `grant-${index}`);
    await harness.engine.worker.drain();

    const calls = metafieldsSetCalls(harness, before);
    assert.deepEqual(calls.map((call) => (call.variables.metafields as unknown[]).length), [24, 4], 'twelve shoppers in the first call, two in the second');
    for (let index = 0; index < shopperCount; index += 1) assert.equal(mirroredPoints(harness, index), String(10 * (index + 1)), `shopper ${index} shows her points in Shopify`);
    const waiting = await harness.engine.database.db.selectFrom('outbox_events').select(['status']).where('kind', '=', 'customer.mirror').where('status', '!=', 'delivered').execute();
    assert.deepEqual(waiting, [], 'every mirror delivered');
  });

  test(`[${dialect}] a shopper deleted in Shopify fails alone: the others in her call are mirrored and her message waits for a retry`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const shoppers = await createShoppers(harness);
    harness.fake.deleteCustomer(shopifyIdOf(2));

    for (const index of [0, 1, 2]) await grant(harness, shoppers[index]!, 7, `deleted-${index}`);
    await harness.engine.worker.drain();

    assert.equal(mirroredPoints(harness, 0), '7');
    assert.equal(mirroredPoints(harness, 1), '7');
    assert.equal(mirroredPoints(harness, 2), undefined, 'Shopify refused the deleted shopper');
    const mirrors = await harness.engine.database.db.selectFrom('outbox_events').select(['payload', 'status', 'attempts', 'last_error']).where('kind', '=', 'customer.mirror').where('status', '!=', 'delivered').execute();
    assert.equal(mirrors.length, 1, JSON.stringify(mirrors));
    assert.equal(JSON.parse(mirrors[0]!.payload).customer_id, shoppers[2]);
    assert.equal(mirrors[0]!.status, 'pending');
    assert.equal(mirrors[0]!.attempts, 1);
    assert.match(mirrors[0]!.last_error ?? '', /Owner does not exist/);
  });

  test(`[${dialect}] in one claim with online shoppers, a shopper known only at the register is skipped and the others get their own figures`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const shoppers = await createShoppers(harness);
    const enrolled = await harness.request('POST', '/v1/customers', { body: { email: 'register-only@example.com', first_name: 'Walkin' } });
    assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
    const registerOnly = (enrolled.body as { data: { id: string } }).data.id;
    await harness.engine.worker.drain();

    const before = harness.fake.requests.length;
    await grant(harness, shoppers[0]!, 11, 'mixed-0');
    await grant(harness, registerOnly, 5, 'mixed-register');
    await grant(harness, shoppers[1]!, 13, 'mixed-1');
    await harness.engine.worker.drain();

    assert.equal(mirroredPoints(harness, 0), '11');
    assert.equal(mirroredPoints(harness, 1), '13');
    const owners = metafieldsSetCalls(harness, before).flatMap((call) => (call.variables.metafields as { ownerId: string }[]).map((field) => field.ownerId));
    assert.deepEqual([...new Set(owners)].sort(), [gidOf(0), gidOf(1)].sort(), 'only the online shoppers are sent to Shopify');
    const hers = await harness.engine.database.db.selectFrom('outbox_events').select(['payload', 'status', 'last_error']).where('kind', '=', 'customer.mirror').execute();
    const registerMirror = hers.filter((row) => JSON.parse(row.payload).customer_id === registerOnly);
    assert.equal(registerMirror.length, 1, JSON.stringify(hers));
    assert.equal(registerMirror[0]!.status, 'delivered');
    assert.match(registerMirror[0]!.last_error ?? '', /no Shopify id/);
  });
}
