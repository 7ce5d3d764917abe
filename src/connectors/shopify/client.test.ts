import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { startFakeShopify, type FakeShopify, type FakeShopifyOptions } from '../../../fakes/fake-shopify.ts';
import { AppError } from '../../shared/app-error.ts';
import { computePacingWaitMs, computeThrottleWaitMs, createShopifyAdminClient, shopifyGid, type ShopifyAdminClientOptions } from './client.ts';

const ITEM = 'gid://shopify/InventoryItem/123';
const LOCATION = 'gid://shopify/Location/456';
const CUSTOMER = 'gid://shopify/Customer/789';
const REFERENCE = 'gid://continuum/OutboxMessage/1';

async function withFake(options: FakeShopifyOptions, run: (fake: FakeShopify) => Promise<void>): Promise<void> {
  const fake = await startFakeShopify(options);
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

function clientFor(fake: FakeShopify, overrides: Partial<ShopifyAdminClientOptions> = {}) {
  return createShopifyAdminClient({ adminApiUrl: fake.url, accessToken: fake.token, sleep: async () => {}, ...overrides });
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Posts a raw GraphQL body to the fake, bypassing the client. */
async function postRaw(fake: FakeShopify, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await fetch(fake.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-shopify-access-token': fake.token },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as Record<string, unknown>;
}

const ADJUST_MUTATION = `mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}`;

function adjustInput(delta: number) {
  return { name: 'available', reason: 'received', changes: [{ delta, inventoryItemId: ITEM, locationId: LOCATION, changeFromQuantity: null }] };
}

test('a push with the right lastKnown sets the quantity and sends the idempotency key', async () => {
  await withFake({}, async (fake) => {
    fake.setQuantity(ITEM, LOCATION, 5);
    const result = await clientFor(fake).pushAvailable({ inventoryItemId: ITEM, locationId: LOCATION, quantity: 8, lastKnown: 5, idempotencyKey: 'push-1', referenceDocumentUri: REFERENCE });
    assert.deepEqual(result, { previous: 5 });
    assert.equal(fake.quantity(ITEM, LOCATION), 8);
    assert.deepEqual(
      fake.requests.map((request) => [request.operation, request.idempotencyKey, request.outcome]),
      [['inventorySetQuantities', 'push-1', 'executed']],
    );
  });
});

test('a push accepts numeric ids and turns them into GIDs', async () => {
  await withFake({}, async (fake) => {
    await clientFor(fake).pushAvailable({ inventoryItemId: '123', locationId: '456', quantity: 3, lastKnown: 0, idempotencyKey: 'push-numeric', referenceDocumentUri: REFERENCE });
    assert.equal(fake.quantity(ITEM, LOCATION), 3);
  });
});

test('a stale changeFromQuantity re-reads Shopify and retries under a derived key', async () => {
  await withFake({}, async (fake) => {
    fake.setQuantity(ITEM, LOCATION, 7);
    const result = await clientFor(fake).pushAvailable({ inventoryItemId: ITEM, locationId: LOCATION, quantity: 8, lastKnown: 5, idempotencyKey: 'push-2', referenceDocumentUri: REFERENCE });
    assert.deepEqual(result, { previous: 7 });
    assert.equal(fake.quantity(ITEM, LOCATION), 8);
    const writes = fake.requests.filter((request) => request.operation === 'inventorySetQuantities');
    assert.deepEqual(writes.map((request) => request.idempotencyKey), ['push-2', 'push-2-r1']);
  });
});

test('a push without lastKnown reads first, and skips the write when Shopify already holds the target', async () => {
  await withFake({}, async (fake) => {
    fake.setQuantity(ITEM, LOCATION, 4);
    const client = clientFor(fake);
    assert.deepEqual(await client.pushAvailable({ inventoryItemId: ITEM, locationId: LOCATION, quantity: 9, lastKnown: null, idempotencyKey: 'push-3', referenceDocumentUri: REFERENCE }), { previous: 4 });
    assert.deepEqual(fake.requests.map((request) => request.operation), ['inventoryItem', 'inventorySetQuantities']);
    // The outbox retries a push whose answer was lost: the read shows the target, so nothing is written.
    assert.deepEqual(await client.pushAvailable({ inventoryItemId: ITEM, locationId: LOCATION, quantity: 9, lastKnown: null, idempotencyKey: 'push-3', referenceDocumentUri: REFERENCE }), { previous: 9 });
    assert.equal(fake.requests.length, 3);
    assert.equal(fake.quantity(ITEM, LOCATION), 9);
  });
});

test('a quantity that keeps changing ends in connectors.shopify.stale_inventory after 3 writes', async () => {
  await withFake({}, async (fake) => {
    // Another writer bumps the quantity just before each of our writes reaches Shopify.
    const racingFetch: typeof fetch = async (url, init) => {
      if (typeof init?.body === 'string' && init.body.includes('inventorySetQuantities')) fake.setQuantity(ITEM, LOCATION, fake.quantity(ITEM, LOCATION) + 1);
      return fetch(url, init);
    };
    const push = clientFor(fake, { fetch: racingFetch }).pushAvailable({ inventoryItemId: ITEM, locationId: LOCATION, quantity: 50, lastKnown: 0, idempotencyKey: 'push-4', referenceDocumentUri: REFERENCE });
    const error = await rejectsWithCode(push, 'connectors.shopify.stale_inventory');
    assert.equal(error.details.attempts, 3);
    const keys = fake.requests.filter((request) => request.operation === 'inventorySetQuantities').map((request) => request.idempotencyKey);
    assert.deepEqual(keys, ['push-4', 'push-4-r1', 'push-4-r2']);
    assert.notEqual(fake.quantity(ITEM, LOCATION), 50);
  });
});

test('the fake applies a replayed idempotency key once and returns the original result', async () => {
  await withFake({}, async (fake) => {
    fake.setQuantity(ITEM, LOCATION, 10);
    const first = await postRaw(fake, ADJUST_MUTATION, { input: adjustInput(2), key: 'receipt-A' });
    const replay = await postRaw(fake, ADJUST_MUTATION, { input: adjustInput(2), key: 'receipt-A' });
    assert.equal(fake.quantity(ITEM, LOCATION), 12);
    assert.deepEqual(replay.data, first.data);
    assert.deepEqual(fake.requests.map((request) => request.outcome), ['executed', 'replayed']);
    // A second receipt of +2 is a different operation: with its own key it applies.
    await postRaw(fake, ADJUST_MUTATION, { input: adjustInput(2), key: 'receipt-B' });
    assert.equal(fake.quantity(ITEM, LOCATION), 14);
  });
});

test('the fake rejects a key reused with other variables and a mutation without @idempotent', async () => {
  await withFake({}, async (fake) => {
    await postRaw(fake, ADJUST_MUTATION, { input: adjustInput(2), key: 'receipt-C' });
    const reused = await postRaw(fake, ADJUST_MUTATION, { input: adjustInput(3), key: 'receipt-C' });
    assert.match(JSON.stringify(reused.errors), /IDEMPOTENCY_KEY_PARAMETER_MISMATCH/);
    const withoutKey = await postRaw(fake, ADJUST_MUTATION.replace(' @idempotent(key: $key)', '').replace(', $key: String!', ''), { input: adjustInput(1) });
    assert.match(JSON.stringify(withoutKey.errors), /IDEMPOTENCY_KEY_REQUIRED/);
    assert.equal(fake.quantity(ITEM, LOCATION), 2);
  });
});

test('setAvailable sent twice with one key and the same variables writes once', async () => {
  await withFake({}, async (fake) => {
    const client = clientFor(fake);
    const input = { inventoryItemId: ITEM, locationId: LOCATION, quantity: 6, changeFromQuantity: 0, idempotencyKey: 'set-1', referenceDocumentUri: REFERENCE };
    assert.deepEqual(await client.setAvailable(input), { stale: false });
    fake.setQuantity(ITEM, LOCATION, 1);
    // The replay returns the stored success and does not overwrite the 1 set in between.
    assert.deepEqual(await client.setAvailable(input), { stale: false });
    assert.equal(fake.quantity(ITEM, LOCATION), 1);
  });
});

for (const throttleStatus of [200, 429] as const) {
  test(`THROTTLED with status ${throttleStatus} is retried after the wait the throttle status asks for`, async () => {
    let clockMs = 0;
    await withFake({ throttleStatus, maximumAvailable: 1000, restoreRate: 4, nowMs: () => clockMs }, async (fake) => {
      fake.drainBucket();
      const sleptMs: number[] = [];
      const sleep = async (ms: number) => {
        sleptMs.push(ms);
        clockMs += ms;
      };
      const client = clientFor(fake, { sleep });
      await client.pushAvailable({ inventoryItemId: ITEM, locationId: LOCATION, quantity: 2, lastKnown: 0, idempotencyKey: 'throttled-1', referenceDocumentUri: REFERENCE });
      // The mutation costs 10 points, the bucket holds 0 and restores 4 per second: ceil(10 / 4) = 3 s.
      assert.deepEqual(sleptMs, [3000]);
      assert.deepEqual(fake.requests.map((request) => [request.status, request.outcome]), [[throttleStatus, 'throttled'], [200, 'executed']]);
      assert.equal(fake.quantity(ITEM, LOCATION), 2);
      assert.equal(client.lastThrottleStatus()?.maximumAvailable, 1000);
    });
  });
}

test('a request throttled on every attempt fails with connectors.shopify.rate_limited after maxAttempts', async () => {
  await withFake({}, async (fake) => {
    fake.throttleNext(10);
    const sleptMs: number[] = [];
    const client = clientFor(fake, { sleep: async (ms) => void sleptMs.push(ms), maxAttempts: 5 });
    await rejectsWithCode(client.readAvailable({ inventoryItemId: ITEM, locationId: LOCATION }), 'connectors.shopify.rate_limited');
    assert.equal(fake.requests.length, 5);
    // The bucket was full, so the computed wait falls to the 1 s floor.
    assert.deepEqual(sleptMs, [1000, 1000, 1000, 1000]);
  });
});

for (const status of [500, 503]) {
  test(`HTTP ${status} is connectors.shopify.unavailable and is not retried by the client`, async () => {
    await withFake({}, async (fake) => {
      fake.failNext(1, status);
      const error = await rejectsWithCode(clientFor(fake).readAvailable({ inventoryItemId: ITEM, locationId: LOCATION }), 'connectors.shopify.unavailable');
      assert.equal(error.details.status, status);
      assert.equal(fake.requests.length, 1);
    });
  });
}

test('a request slower than the timeout is connectors.shopify.unavailable', async () => {
  await withFake({}, async (fake) => {
    fake.slowNext(1, 500);
    await rejectsWithCode(clientFor(fake, { timeoutMs: 50 }).readAvailable({ inventoryItemId: ITEM, locationId: LOCATION }), 'connectors.shopify.unavailable');
  });
});

test('a closed server is connectors.shopify.unavailable', async () => {
  const fake = await startFakeShopify();
  await fake.close();
  await rejectsWithCode(clientFor(fake).readAvailable({ inventoryItemId: ITEM, locationId: LOCATION }), 'connectors.shopify.unavailable');
});

test('a wrong access token is connectors.shopify.unauthorized', async () => {
  await withFake({}, async (fake) => {
    const client = clientFor(fake, { accessToken: 'shpat_wrong' });
    await rejectsWithCode(client.readAvailable({ inventoryItemId: ITEM, locationId: LOCATION }), 'connectors.shopify.unauthorized');
    assert.deepEqual(fake.requests.map((request) => [request.status, request.outcome]), [[401, 'unauthorized']]);
  });
});

test('top-level GraphQL errors are connectors.shopify.graphql_error with the errors attached', async () => {
  await withFake({}, async (fake) => {
    const error = await rejectsWithCode(clientFor(fake).request('query { shop { name } }', {}), 'connectors.shopify.graphql_error');
    assert.match(error.message, /doesn't exist/);
    assert.ok(Array.isArray(error.details.errors));
  });
});

test('readAvailable returns the quantity Shopify holds and the bucket status', async () => {
  await withFake({}, async (fake) => {
    fake.setQuantity(ITEM, LOCATION, 42);
    const client = clientFor(fake);
    assert.equal(await client.readAvailable({ inventoryItemId: ITEM, locationId: LOCATION }), 42);
    assert.deepEqual(client.lastThrottleStatus(), { maximumAvailable: 2000, currentlyAvailable: 1997, restoreRate: 100 });
  });
});

test('setCustomerMetafields writes points and tier under the continuum namespace', async () => {
  await withFake({}, async (fake) => {
    await clientFor(fake).setCustomerMetafields([{ customerId: CUSTOMER, points: 120, tier: 'Gold' }]);
    const stored = fake.metafields(CUSTOMER).map(({ namespace, key, type, value }) => ({ namespace, key, type, value }));
    assert.deepEqual(stored, [
      { namespace: 'continuum', key: 'points', type: 'number_integer', value: '120' },
      { namespace: 'continuum', key: 'tier', type: 'single_line_text_field', value: 'Gold' },
    ]);
  });
});

test('shopifyGid builds GIDs from numeric ids, keeps GIDs, and rejects a GID of another type', () => {
  assert.equal(shopifyGid('Location', '456'), LOCATION);
  assert.equal(shopifyGid('InventoryItem', 123), ITEM);
  assert.equal(shopifyGid('Customer', CUSTOMER), CUSTOMER);
  assert.throws(() => shopifyGid('Location', CUSTOMER), (error: unknown) => error instanceof AppError && error.code === 'connectors.shopify.invalid_id');
  assert.throws(() => shopifyGid('Location', 'abc'), (error: unknown) => error instanceof AppError && error.code === 'connectors.shopify.invalid_id');
});

test('the throttle wait is whole seconds between 1 and 60 and refills the bucket enough when under the cap', () => {
  const statusArbitrary = fc.record({
    maximumAvailable: fc.integer({ min: 100, max: 20_000 }),
    currentlyAvailable: fc.integer({ min: 0, max: 20_000 }),
    restoreRate: fc.integer({ min: 1, max: 2000 }),
  });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), statusArbitrary, (requestedQueryCost, status) => {
      const waitMs = computeThrottleWaitMs(requestedQueryCost, status);
      assert.ok(waitMs >= 1000 && waitMs <= 60_000 && waitMs % 1000 === 0);
      if (waitMs < 60_000) assert.ok(status.currentlyAvailable + (waitMs / 1000) * status.restoreRate >= requestedQueryCost);
    }),
  );
  assert.equal(computeThrottleWaitMs(undefined, undefined), 1000);
});

test('computePacingWaitMs waits for what the bucket lacks at its restore rate, counting the refill since it was reported, and never longer than a minute', () => {
  const status = { maximumAvailable: 1000, currentlyAvailable: 100, restoreRate: 50 };
  assert.equal(computePacingWaitMs(undefined, status, 0), 0, 'an operation never sent: its cost is not known');
  assert.equal(computePacingWaitMs(80, status, 0), 0, 'the bucket holds enough');
  assert.equal(computePacingWaitMs(300, status, 0), 4000, '(300 - 100) / 50 s');
  assert.equal(computePacingWaitMs(300, status, 1000), 3000, 'a second since the report restored 50');
  assert.equal(computePacingWaitMs(5000, status, 0), 18_000, 'a cost above the bucket waits for a full bucket only');
  assert.equal(computePacingWaitMs(300, { ...status, restoreRate: 1 }, 0), 60_000);
});

test('a client repeating an operation waits for the bucket the last answer reported, so the repeat is not throttled', async () => {
  let clockMs = 0;
  await withFake({ maximumAvailable: 100, restoreRate: 10, nowMs: () => clockMs }, async (fake) => {
    const sleptMs: number[] = [];
    const client = clientFor(fake, { nowMs: () => clockMs, sleep: async (ms) => { sleptMs.push(ms); clockMs += ms; } });
    const query = 'query Paced { products(first: 10) { nodes { id variants(first: 4) { nodes { id } } } } }';
    const first = await client.request(query, {});
    assert.equal(first.requestedQueryCost, 72, 'a connection costs 2 plus first times its node');
    await client.request(query, {});
    assert.deepEqual(sleptMs, [4400], 'the bucket held 28 of the 72 needed, restoring 10 per second');
    assert.deepEqual(fake.requests.map((request) => request.outcome), ['executed', 'executed']);
  });
});
