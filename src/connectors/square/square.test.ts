import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildSquareOrder, startFakeSquare, type FakeSquare } from '../../../fakes/fake-square.ts';
import { AppError } from '../../shared/app-error.ts';
import { BACKOFF_MS_BASE, BACKOFF_MS_MAX, CHANGE_PAGES_MAX, CHANGES_PAGE_LIMIT, computeBackoffMs, createSquareClient, parseRetryAfterMs, RATE_LIMITED_ATTEMPTS_MAX, SQUARE_API_VERSION, type SquareClientOptions } from './client.ts';
import { CHANGES_LOOKBACK_MS, CHANGES_LOOKBACK_MS_MAX, CHANGES_OVERLAP_MS, computeChangesReadStart, planChangeReads } from './inbound.ts';
import { classifySquareInventoryChange, planSquareEvent, translateSquareOrder, translateSquareRefund, translateSquareStockChanges } from './translate.ts';
import { squareInventoryChangeSchema, squareOrderSchema, squareRefundSchema } from './types.ts';

const LOCATION = 'S8GWD5R9QB376';
const OCCURRED_AT = '2026-11-20T15:00:00.000Z';

async function withFake(run: (fake: FakeSquare) => Promise<void>): Promise<void> {
  const fake = await startFakeSquare();
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

function clientFor(fake: FakeSquare, overrides: Partial<SquareClientOptions> = {}) {
  return createSquareClient({ apiUrl: fake.url, accessToken: fake.token, sleep: async () => {}, ...overrides });
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

function twoLineOrder(id = 'ORDER-1') {
  return buildSquareOrder({
    id, locationId: LOCATION, customerId: 'CUST-1',
    lines: [
      { uid: 'L1', name: 'Aviator sunglasses', catalogObjectId: 'SQ-AVIATOR', quantity: 1, unitAmount: 8999, discountAmount: 900, taxAmount: 1053 },
      { uid: 'L2', name: 'Gift wrap', catalogObjectId: null, quantity: 2, unitAmount: 500, taxAmount: 130 },
    ],
  });
}

function envelope(type: string, object: Record<string, unknown>) {
  return { merchant_id: '6SSW7HV8K2ST5', type, event_id: `evt-${type}`, created_at: OCCURRED_AT, data: { type: type.split('.')[0], id: 'x', object } };
}

test('RetrieveOrder returns the order, with the bearer token and the pinned Square-Version', async () => {
  await withFake(async (fake) => {
    fake.setOrder(twoLineOrder());
    const order = await clientFor(fake).retrieveOrder('ORDER-1');
    assert.equal(order.id, 'ORDER-1');
    assert.equal(order.line_items.length, 2);
    assert.deepEqual(fake.requests.map((request) => [request.method, request.path, request.squareVersion, request.outcome]), [['GET', '/v2/orders/ORDER-1', SQUARE_API_VERSION, 'executed']]);
  });
});

test('an unknown order is connectors.square.not_found and a wrong token connectors.square.unauthorized', async () => {
  await withFake(async (fake) => {
    const notFound = await rejectsWithCode(clientFor(fake).retrieveOrder('NOPE'), 'connectors.square.not_found');
    assert.equal((notFound.details.errors as { code: string }[])[0]?.code, 'NOT_FOUND');
    await rejectsWithCode(clientFor(fake, { accessToken: 'wrong' }).retrieveOrder('NOPE'), 'connectors.square.unauthorized');
  });
});

test('a request without Square-Version is refused by the fake, so the client is proven to send it', async () => {
  await withFake(async (fake) => {
    const response = await fetch(`${fake.url}/v2/orders/ANY`, { headers: { authorization: `Bearer ${fake.token}` } });
    assert.equal(response.status, 400);
  });
});

test('429 is retried with growing, jittered backoff, then succeeds', async () => {
  await withFake(async (fake) => {
    fake.setCustomer({ id: 'CUST-1', email_address: 'ana@example.com' });
    fake.rateLimitNext(2);
    const waits: number[] = [];
    const customer = await clientFor(fake, { sleep: async (ms) => void waits.push(ms), random: () => 0.5 }).retrieveCustomer('CUST-1');
    assert.equal(customer.email_address, 'ana@example.com');
    assert.deepEqual(waits, [computeBackoffMs(1, () => 0.5), computeBackoffMs(2, () => 0.5)]);
    assert.ok(waits[1]! > waits[0]!);
    assert.deepEqual(fake.requests.map((request) => request.outcome), ['rate_limited', 'rate_limited', 'executed']);
  });
});

test('a 429 with Retry-After is waited out for that long; one longer than the client waits ends as rate limited with the wait, for the caller to retry', async () => {
  await withFake(async (fake) => {
    fake.setCustomer({ id: 'CUST-1', email_address: 'ana@example.com' });
    fake.rateLimitNext(1, { retryAfterSeconds: 2 });
    const waits: number[] = [];
    await clientFor(fake, { sleep: async (ms) => void waits.push(ms) }).retrieveCustomer('CUST-1');
    assert.deepEqual(waits, [2000]);
    fake.rateLimitNext(1, { retryAfterSeconds: 120 });
    const error = await rejectsWithCode(clientFor(fake).retrieveCustomer('CUST-1'), 'connectors.square.rate_limited');
    assert.equal(error.details.retryAfterMs, 120_000);
    assert.equal(error.details.attempts, 1, 'not retried within the request');
  });
});

test('Retry-After is read as seconds or an HTTP date, never negative; anything else is ignored', () => {
  const now = Date.parse('2026-11-20T15:00:00Z');
  assert.equal(parseRetryAfterMs('2.5', now), 2500);
  assert.equal(parseRetryAfterMs('0', now), 0);
  assert.equal(parseRetryAfterMs('Fri, 20 Nov 2026 15:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfterMs('Fri, 20 Nov 2026 14:00:00 GMT', now), 0);
  assert.equal(parseRetryAfterMs('soon', now), null);
  assert.equal(parseRetryAfterMs(null, now), null);
});

test('customer.deleted unlinks the Square id; a merge names the customer it made', () => {
  assert.deepEqual(planSquareEvent(envelope('customer.deleted', { customer: { id: 'C-1' } })), { action: 'unlink_customer', squareCustomerId: 'C-1', mergedInto: null });
  assert.deepEqual(planSquareEvent(envelope('customer.deleted', { customer: { id: 'C-1' }, event_context: { merge: { from_customer_ids: ['C-1', 'C-2'], to_customer_id: 'C-3' } } })), { action: 'unlink_customer', squareCustomerId: 'C-1', mergedInto: 'C-3' });
  assert.throws(() => planSquareEvent(envelope('customer.deleted', {})), /connectors\.square\.invalid_payload|does not have the expected shape/);
});

test('429 on every attempt ends in connectors.square.rate_limited after the bounded number of attempts', async () => {
  await withFake(async (fake) => {
    fake.rateLimitNext(100);
    const error = await rejectsWithCode(clientFor(fake).retrieveOrder('ORDER-1'), 'connectors.square.rate_limited');
    assert.equal(error.details.attempts, RATE_LIMITED_ATTEMPTS_MAX);
    assert.equal(fake.requests.length, RATE_LIMITED_ATTEMPTS_MAX);
  });
});

test('5xx, a refused connection and a timeout are connectors.square.unavailable, not retried by the client', async () => {
  await withFake(async (fake) => {
    fake.failNext(1, 503);
    const error = await rejectsWithCode(clientFor(fake).retrieveOrder('ORDER-1'), 'connectors.square.unavailable');
    assert.equal(error.details.status, 503);
    assert.equal(fake.requests.length, 1);
    fake.slowNext(1, 200);
    await rejectsWithCode(clientFor(fake, { timeoutMs: 20 }).retrieveOrder('ORDER-1'), 'connectors.square.unavailable');
  });
  await rejectsWithCode(createSquareClient({ apiUrl: 'http://127.0.0.1:1', accessToken: 'token' }).retrieveOrder('ORDER-1'), 'connectors.square.unavailable');
});

test('backoff stays within half and all of its exponential ceiling, capped at the maximum', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, random) => {
    const ceiling = Math.min(BACKOFF_MS_MAX, BACKOFF_MS_BASE * 2 ** (attempt - 1));
    const wait = computeBackoffMs(attempt, () => random);
    return wait >= ceiling / 2 && wait <= ceiling && wait > 0;
  }));
});

test('BatchChangeInventory applies physical counts and adjustments and answers the counts', async () => {
  await withFake(async (fake) => {
    fake.setCount('SQ-AVIATOR', LOCATION, 4);
    const client = clientFor(fake);
    const { counts } = await client.batchChangeInventory({
      idempotencyKey: 'batch-1',
      changes: [
        { type: 'PHYSICAL_COUNT', catalogObjectId: 'SQ-BEANIE', locationId: LOCATION, quantity: 12, occurredAt: OCCURRED_AT },
        { type: 'ADJUSTMENT', catalogObjectId: 'SQ-AVIATOR', locationId: LOCATION, fromState: 'IN_STOCK', toState: 'SOLD', quantity: 1, occurredAt: OCCURRED_AT, referenceId: 'shopify-order-1042' },
      ],
    });
    assert.equal(fake.count('SQ-BEANIE', LOCATION), 12);
    assert.equal(fake.count('SQ-AVIATOR', LOCATION), 3);
    assert.equal(fake.count('SQ-AVIATOR', LOCATION, 'SOLD'), 1);
    const inStock = counts.filter((count) => count.state === 'IN_STOCK').map((count) => [count.catalog_object_id, count.quantity]).sort();
    assert.deepEqual(inStock, [['SQ-AVIATOR', '3'], ['SQ-BEANIE', '12']]);
    const read = await client.retrieveInventoryCounts({ catalogObjectIds: ['SQ-AVIATOR', 'SQ-BEANIE'], locationIds: [LOCATION] });
    assert.deepEqual(read.map((count) => [count.catalog_object_id, count.quantity]).sort(), [['SQ-AVIATOR', '3'], ['SQ-BEANIE', '12']]);
  });
});

test('the same idempotency key with the same changes applies once; with other changes it is rejected', async () => {
  await withFake(async (fake) => {
    fake.setCount('SQ-AVIATOR', LOCATION, 5);
    const client = clientFor(fake);
    const sale = { type: 'ADJUSTMENT' as const, catalogObjectId: 'SQ-AVIATOR', locationId: LOCATION, fromState: 'IN_STOCK', toState: 'SOLD', quantity: 1, occurredAt: OCCURRED_AT };
    const first = await client.batchChangeInventory({ idempotencyKey: 'sale-1', changes: [sale] });
    const replay = await client.batchChangeInventory({ idempotencyKey: 'sale-1', changes: [sale] });
    assert.deepEqual(replay, first);
    assert.equal(fake.count('SQ-AVIATOR', LOCATION), 4, 'applied once');
    assert.deepEqual(fake.requests.map((request) => request.outcome), ['executed', 'replayed']);
    const reused = await rejectsWithCode(client.batchChangeInventory({ idempotencyKey: 'sale-1', changes: [{ ...sale, quantity: 2 }] }), 'connectors.square.rejected');
    assert.equal((reused.details.errors as { code: string }[])[0]?.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(fake.count('SQ-AVIATOR', LOCATION), 4);
  });
});

test('more than 100 changes are refused by the client before sending, and by the fake', async () => {
  await withFake(async (fake) => {
    const change = { type: 'PHYSICAL_COUNT' as const, catalogObjectId: 'SQ-BEANIE', locationId: LOCATION, quantity: 1, occurredAt: OCCURRED_AT };
    await assert.rejects(clientFor(fake).batchChangeInventory({ idempotencyKey: 'too-many', changes: Array.from({ length: 101 }, () => change) }), /1 to 100 changes/);
    assert.equal(fake.requests.length, 0);
    const raw = Array.from({ length: 101 }, () => ({ type: 'PHYSICAL_COUNT', physical_count: { catalog_object_id: 'SQ-BEANIE', location_id: LOCATION, state: 'IN_STOCK', quantity: '1', occurred_at: OCCURRED_AT } }));
    const response = await fetch(`${fake.url}/v2/inventory/changes/batch-create`, { method: 'POST', headers: { authorization: `Bearer ${fake.token}`, 'square-version': SQUARE_API_VERSION, 'content-type': 'application/json' }, body: JSON.stringify({ idempotency_key: 'raw', changes: raw }) });
    assert.equal(response.status, 400);
    const missingKey = await fetch(`${fake.url}/v2/inventory/changes/batch-create`, { method: 'POST', headers: { authorization: `Bearer ${fake.token}`, 'square-version': SQUARE_API_VERSION, 'content-type': 'application/json' }, body: JSON.stringify({ changes: raw.slice(0, 1) }) });
    assert.equal(missingKey.status, 400, 'idempotency_key is required');
    assert.equal(fake.count('SQ-BEANIE', LOCATION), 0);
  });
});

test('a Square order translates to RecordOrder: store channel, lines by catalog id, money that adds up', () => {
  const command = translateSquareOrder(squareOrderSchema.parse(twoLineOrder()), null);
  assert.equal(command.source, 'square');
  assert.equal(command.channel, 'store');
  assert.equal(command.channelLocationId, LOCATION);
  assert.deepEqual(command.lines.map((line) => [line.sourceRef, line.channelVariantId, line.sku, line.quantity, line.unitPriceMinor, line.discountMinor, line.taxMinor]), [
    ['L1', 'SQ-AVIATOR', null, 1, 8999, 900, 1053],
    ['L2', null, null, 2, 500, 0, 130],
  ]);
  assert.deepEqual([command.subtotalMinor, command.discountMinor, command.taxMinor, command.totalMinor], [9999, 900, 1183, 10282]);
  assert.deepEqual(command.payments, [{ method: 'card', amountMinor: 10282 }]);
  assert.deepEqual(command.customer, { channelIds: [{ kind: 'square_id', value: 'CUST-1' }], source: 'square' });
});

test('an order whose totals do not add up, or that sells a fraction of a unit, fails clearly', () => {
  const order = twoLineOrder();
  const wrongTotal = squareOrderSchema.parse({ ...order, total_money: { amount: 1, currency: 'USD' } });
  assert.throws(() => translateSquareOrder(wrongTotal, null), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.inconsistent_totals');
  const lines = (order['line_items'] as Record<string, unknown>[]).map((line, index) => (index === 0 ? { ...line, quantity: '1.5' } : line));
  assert.throws(() => translateSquareOrder(squareOrderSchema.parse({ ...order, line_items: lines }), null), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.fractional_quantity');
  const inclusive = squareOrderSchema.parse({ ...order, taxes: [{ uid: 'T', name: 'VAT', type: 'INCLUSIVE' }] });
  assert.throws(() => translateSquareOrder(inclusive, null), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.unsupported_order');
});

test('a payment is recorded only once COMPLETED and naming an order', () => {
  const payment = (status: string, orderId?: string) => envelope('payment.updated', { payment: { id: 'PAY-1', status, ...(orderId ? { order_id: orderId } : {}) } });
  assert.deepEqual(planSquareEvent(payment('COMPLETED', 'ORDER-1')), { action: 'record_order', orderId: 'ORDER-1', paymentId: 'PAY-1' });
  for (const status of ['APPROVED', 'PENDING', 'FAILED', 'CANCELED']) assert.equal(planSquareEvent(payment(status, 'ORDER-1')).action, 'ignore');
  assert.equal(planSquareEvent(payment('COMPLETED')).action, 'ignore');
  assert.equal(planSquareEvent(envelope('order.created', { order_created: { order_id: 'ORDER-1', state: 'OPEN' } })).action, 'ignore');
  assert.deepEqual(planSquareEvent(envelope('order.updated', { order_updated: { order_id: 'ORDER-1', state: 'COMPLETED' } })), { action: 'record_order', orderId: 'ORDER-1', paymentId: null });
  assert.equal(planSquareEvent(envelope('labor.shift.created', {})).action, 'ignore');
  assert.throws(() => planSquareEvent({ merchant_id: 'M', type: 'payment.updated', event_id: 'E', data: { object: { payment: { status: 'COMPLETED' } } } }), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.invalid_payload');
});

test('inventory counts: IN_STOCK only, decimal strings to whole units, reportedAt from calculated_at, at most 100', () => {
  const counts = [
    { catalog_object_id: 'SQ-AVIATOR', catalog_object_type: 'ITEM_VARIATION', location_id: LOCATION, quantity: '90.00000', state: 'IN_STOCK', calculated_at: '2020-12-29T18:38:45.10296Z' },
    { catalog_object_id: 'SQ-AVIATOR', catalog_object_type: 'ITEM_VARIATION', location_id: LOCATION, quantity: '3', state: 'SOLD', calculated_at: '2020-12-29T18:38:45.10296Z' },
  ];
  // data.type differs between Square's examples ("inventory", "inventory_counts"); neither is relied on.
  const plan = planSquareEvent({ ...envelope('inventory.count.updated', { inventory_counts: counts }), data: { type: 'inventory_counts', id: 'x', object: { inventory_counts: counts } } });
  assert.equal(plan.action, 'record_stock');
  if (plan.action !== 'record_stock') return;
  assert.deepEqual(translateSquareStockChanges(plan.counts, [], 'square:evt'), [{ channel: 'square', channelItemId: 'SQ-AVIATOR', channelLocationId: LOCATION, changes: [], reported: { available: 90, reportedAt: '2020-12-29T18:38:45.102Z' }, eventRef: 'square:evt' }]);
  const tooMany = Array.from({ length: 101 }, () => counts[0]);
  assert.throws(() => planSquareEvent(envelope('inventory.count.updated', { inventory_counts: tooMany })), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.invalid_payload');
});

test('refunds: PENDING ignored; FAILED and REJECTED followed up; itemized refunds name the sale lines; custom-amount refunds carry no lines', () => {
  const refund = (status: string) => ({ id: 'REFUND-1', status, order_id: 'RETURN-ORDER-1', payment_id: 'PAY-1', amount_money: { amount: 9152, currency: 'USD' }, location_id: LOCATION });
  assert.equal(planSquareEvent(envelope('refund.created', { refund: refund('PENDING') })).action, 'ignore');
  assert.equal(planSquareEvent(envelope('refund.updated', { refund: refund('COMPLETED') })).action, 'record_refund');
  for (const status of ['FAILED', 'REJECTED']) assert.equal(planSquareEvent(envelope('refund.updated', { refund: refund(status) })).action, 'refund_failed', `${status}: followed up if the refund is ours`);
  const returnOrder = squareOrderSchema.parse({
    ...buildSquareOrder({ id: 'RETURN-ORDER-1', locationId: LOCATION, lines: [{ uid: 'X', name: 'unused', catalogObjectId: null, quantity: 1, unitAmount: 0 }] }),
    line_items: [],
    returns: [{ source_order_id: 'ORDER-1', return_line_items: [{ uid: 'R1', source_line_item_uid: 'L1', quantity: '1', item_type: 'ITEM', catalog_object_id: 'SQ-AVIATOR', total_tax_money: { amount: 1053, currency: 'USD' }, total_money: { amount: 9152, currency: 'USD' } }] }],
  });
  const parsedRefund = squareRefundSchema.parse(refund('COMPLETED'));
  assert.deepEqual(translateSquareRefund(parsedRefund, returnOrder), {
    source: 'square', sourceRef: 'REFUND-1', orderSourceRef: 'ORDER-1', amountMinor: 9152, currency: 'USD', note: null,
    lines: [{ lineSourceRef: 'L1', quantity: 1, amountMinor: 8099, taxMinor: 1053, restock: false, channelLocationId: LOCATION }],
  });
  const custom = squareOrderSchema.parse({ ...returnOrder, returns: [{ source_order_id: 'ORDER-1', return_line_items: [{ uid: 'R1', quantity: '1', item_type: 'CUSTOM_AMOUNT', total_money: { amount: 500, currency: 'USD' } }] }] });
  assert.deepEqual(translateSquareRefund(parsedRefund, custom)?.lines, []);
  assert.equal(translateSquareRefund(parsedRefund, null)?.orderSourceRef, 'RETURN-ORDER-1', 'without a return order, the refund\'s order is taken as the sale');
  const unlinked = squareOrderSchema.parse({ ...returnOrder, returns: [{ return_line_items: [] }] });
  assert.equal(translateSquareRefund(parsedRefund, unlinked), null);
});

function adjustment(id: string, fromState: string, toState: string, quantity: string, extra: Record<string, unknown> = {}) {
  return squareInventoryChangeSchema.parse({ type: 'ADJUSTMENT', adjustment: { id, from_state: fromState, to_state: toState, catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity, occurred_at: OCCURRED_AT, created_at: OCCURRED_AT, ...extra } });
}

function physicalCount(id: string, quantity: string, extra: Record<string, unknown> = {}) {
  return squareInventoryChangeSchema.parse({ type: 'PHYSICAL_COUNT', physical_count: { id, state: 'IN_STOCK', catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity, occurred_at: OCCURRED_AT, created_at: OCCURRED_AT, ...extra } });
}

test('inventory changes: counts set on hand, shelf adjustments move it, sales and our own pushes move nothing', () => {
  const verdict = (change: ReturnType<typeof adjustment>) => {
    const classified = classifySquareInventoryChange(change);
    return classified.action === 'skip' ? ['skip', classified.why] : classified.action === 'count' ? ['count', classified.onHand] : [classified.kind, classified.onHandDelta];
  };
  assert.deepEqual(verdict(physicalCount('C1', '53.00000')), ['count', 53]);
  assert.deepEqual(verdict(physicalCount('C2', '7', { state: 'WASTE' })), ['skip', 'off_shelf']);
  assert.deepEqual(verdict(physicalCount('C3', '9', { reference_id: 'continuum:push:42' })), ['skip', 'echo']);
  assert.deepEqual(verdict(adjustment('A1', 'IN_STOCK', 'SOLD', '2')), ['skip', 'order'], 'a register sale arrives as its order');
  assert.deepEqual(verdict(adjustment('A2', 'IN_STOCK', 'RESERVED_FOR_SALE', '1')), ['skip', 'order']);
  assert.deepEqual(verdict(adjustment('A3', 'IN_STOCK', 'WASTE', '1')), ['adjust', -1], 'damage, theft and loss are written off to WASTE');
  assert.deepEqual(verdict(adjustment('A4', 'NONE', 'IN_STOCK', '6')), ['receive', 6]);
  assert.deepEqual(verdict(adjustment('A5', 'RECEIVED_FROM_VENDOR', 'IN_STOCK', '6')), ['receive', 6]);
  assert.deepEqual(verdict(adjustment('A6', 'RETURNED_BY_CUSTOMER', 'IN_STOCK', '1')), ['return', 1], 'the refund does not restock, this change does');
  assert.deepEqual(verdict(adjustment('A7', 'UNLINKED_RETURN', 'IN_STOCK', '1')), ['return', 1]);
  assert.deepEqual(verdict(adjustment('A8', 'SOLD', 'RETURNED_BY_CUSTOMER', '1')), ['skip', 'off_shelf']);
  assert.deepEqual(verdict(adjustment('A9', 'IN_STOCK', 'WASTE', '1', { reference_id: 'continuum:adj:1' })), ['skip', 'echo']);
  assert.deepEqual(verdict(adjustment('A10', 'IN_STOCK', 'WASTE', '1', { reference_id: 'shopify-order-1042' })), ['adjust', -1], 'only our own prefix is an echo');
  assert.throws(() => classifySquareInventoryChange(adjustment('A11', 'IN_STOCK', 'WASTE', '0.5')), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.fractional_quantity');
  assert.throws(() => squareInventoryChangeSchema.parse({ type: 'ADJUSTMENT', physical_count: physicalCount('C4', '1').physical_count }), /carries the object its type names/);
});

test('the changes of a notification are grouped per IN_STOCK count, oldest first, and other places are left out', () => {
  const counts = [
    { catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity: '3', state: 'IN_STOCK', calculated_at: '2026-11-20T15:05:00Z' },
    { catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity: '1', state: 'WASTE', calculated_at: '2026-11-20T15:05:00Z' },
  ];
  const later = adjustment('LATER', 'IN_STOCK', 'WASTE', '1', { occurred_at: '2026-11-20T15:04:00Z' });
  const earlier = physicalCount('EARLIER', '4', { occurred_at: '2026-11-20T15:01:00Z' });
  const elsewhere = adjustment('ELSEWHERE', 'IN_STOCK', 'WASTE', '1', { location_id: 'OTHER-LOCATION' });
  const [command, ...rest] = translateSquareStockChanges(counts.map((count) => ({ ...count, catalog_object_type: 'ITEM_VARIATION' })), [later, elsewhere, earlier], 'square:evt');
  assert.equal(rest.length, 0, 'one command per IN_STOCK count');
  assert.deepEqual(command?.changes.map((change) => change.changeId), ['EARLIER', 'LATER']);
  assert.deepEqual(command?.reported, { available: 3, reportedAt: '2026-11-20T15:05:00.000Z' });
});

test('the changes behind a count are read from the last count seen, at least a short window before the count, at most 72 h', () => {
  const count = '2030-01-01T12:00:00.000Z';
  const minus = (ms: number) => new Date(Date.parse(count) - ms).toISOString();
  assert.equal(computeChangesReadStart(count, null), minus(CHANGES_LOOKBACK_MS), 'a first count: a short window before it');
  assert.equal(computeChangesReadStart(count, minus(3_600_000)), minus(3_600_000 + CHANGES_OVERLAP_MS), 'since the last count seen, with an overlap');
  assert.equal(computeChangesReadStart(count, minus(-60_000)), minus(CHANGES_LOOKBACK_MS), 'a newer count seen first (a retry): still the count\'s own window');
  assert.equal(computeChangesReadStart(count, minus(30 * 24 * 3_600_000)), minus(CHANGES_LOOKBACK_MS_MAX), 'never further back than Square retries');
  fc.assert(fc.property(fc.integer({ min: -CHANGES_LOOKBACK_MS_MAX * 2, max: CHANGES_LOOKBACK_MS_MAX * 2 }), (offsetMs) => {
    const start = Date.parse(computeChangesReadStart(count, minus(offsetMs)));
    return start <= Date.parse(minus(CHANGES_LOOKBACK_MS)) && start >= Date.parse(minus(CHANGES_LOOKBACK_MS_MAX));
  }));
});

test('places whose reads start close together share one request; a place last seen long ago reads alone', () => {
  const reads = planChangeReads([
    { catalogObjectId: 'SQ-AVIATOR', locationId: LOCATION, updatedAfter: '2030-01-01T11:50:00.000Z' },
    { catalogObjectId: 'SQ-WALLET', locationId: LOCATION, updatedAfter: '2029-12-31T09:00:00.000Z' },
    { catalogObjectId: 'SQ-BEANIE', locationId: LOCATION, updatedAfter: '2030-01-01T11:45:00.000Z' },
  ]);
  assert.deepEqual(reads, [
    { catalogObjectIds: ['SQ-WALLET'], locationIds: [LOCATION], updatedAfter: '2029-12-31T09:00:00.000Z' },
    { catalogObjectIds: ['SQ-BEANIE', 'SQ-AVIATOR'], locationIds: [LOCATION], updatedAfter: '2030-01-01T11:45:00.000Z' },
  ]);
  assert.deepEqual(planChangeReads([]), []);
});

test('BatchRetrieveInventoryChanges filters by item, location, type and created_at, and reads every page', async () => {
  await withFake(async (fake) => {
    const before = fake.recordChange({ type: 'PHYSICAL_COUNT', catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity: 10, created_at: '2000-01-01T00:00:00Z' });
    const total = CHANGES_PAGE_LIMIT * 2 + 5;
    for (let index = 0; index < total; index += 1) fake.recordChange({ type: 'ADJUSTMENT', from_state: 'IN_STOCK', to_state: 'WASTE', catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity: 1 });
    fake.recordChange({ type: 'ADJUSTMENT', from_state: 'NONE', to_state: 'IN_STOCK', catalog_object_id: 'SQ-BEANIE', location_id: LOCATION, quantity: 1 });
    fake.recordChange({ type: 'ADJUSTMENT', from_state: 'NONE', to_state: 'IN_STOCK', catalog_object_id: 'SQ-AVIATOR', location_id: 'OTHER', quantity: 1 });
    const changes = await clientFor(fake).retrieveInventoryChanges({ catalogObjectIds: ['SQ-AVIATOR'], locationIds: [LOCATION], updatedAfter: '2020-01-01T00:00:00Z' });
    assert.equal(changes.length, total, 'the count created before updated_after, the other item and the other location are left out');
    assert.ok(!changes.some((change) => change.physical_count?.id === (before['physical_count'] as { id: string }).id));
    assert.equal(fake.requests.length, 3, 'three pages of 100');
    assert.equal(fake.count('SQ-AVIATOR', LOCATION), 10 - total, 'the fake applied the adjustments to its count');
  });
});

test('more changes than the pages a read may take is connectors.square.too_many_pages; the fake refuses TRANSFER and states filters', async () => {
  await withFake(async (fake) => {
    for (let index = 0; index <= CHANGE_PAGES_MAX * CHANGES_PAGE_LIMIT; index += 1) fake.recordChange({ type: 'ADJUSTMENT', from_state: 'NONE', to_state: 'IN_STOCK', catalog_object_id: 'SQ-AVIATOR', location_id: LOCATION, quantity: 1 });
    await rejectsWithCode(clientFor(fake).retrieveInventoryChanges({ catalogObjectIds: ['SQ-AVIATOR'], locationIds: [LOCATION], updatedAfter: '2020-01-01T00:00:00Z' }), 'connectors.square.too_many_pages');
    assert.equal(fake.requests.length, CHANGE_PAGES_MAX);
    const post = (body: unknown) => fetch(`${fake.url}/v2/inventory/changes/batch-retrieve`, { method: 'POST', headers: { authorization: `Bearer ${fake.token}`, 'square-version': SQUARE_API_VERSION, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await post({ types: ['TRANSFER'] })).status, 400);
    assert.equal((await post({ states: ['IN_STOCK'] })).status, 400);
    assert.equal((await post({ updated_after: 'yesterday' })).status, 400);
  });
});
