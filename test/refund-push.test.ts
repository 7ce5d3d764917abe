import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSquareOrder } from '../fakes/fake-square.ts';
import { createShopifyAdminClient, createShopifyDeliverer } from '../src/connectors/shopify/index.ts';
import { createSquareClient } from '../src/connectors/square/index.ts';
import { formatRefundMarker, parseRefundMarker } from '../src/connectors/refund-marker.ts';
import { findOrderBySource, listOrderPayments } from '../src/orders/index.ts';
import { AppError } from '../src/shared/app-error.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testSquareMerchantRef, type TestEngine } from './support/engine-harness.ts';

// Issue #6: a return taken in Continuum against a Shopify or Square order pays the money back
// through the channel that took the payment, exactly once, and the channel's own webhook for that
// refund is linked to the return instead of being recorded as a second return.

// Jane's web order of test/fixtures/shopify/orders-create.json, as Shopify holds it: two lines, 10.00
// shipping, one SALE of 252.98 (the parent the refunds fixture names).
const SHOPIFY_ORDER = '820982911946154508';
const AVIATOR_LINE = '487817672276298554';
const LOUNGER_LINE = '976318377106520349';
const SALE_TRANSACTION = 'gid://shopify/OrderTransaction/120560818172775265';

// The Square payment fixture pays this register sale at the demo store.
const SQUARE_ORDER = '03O3USaPaAaFnI6kkwB1JxGgBsUZY';
const SQUARE_PAYMENT = 'hYy9pRFVxpDsO1FB05SunFWUe9JZY';
const STORE_SQUARE_LOCATION = 'S8GWD5R9QB376';
const ANA = { id: 'SQ-CUST-ANA', given_name: 'Ana', family_name: 'Lima', email_address: 'ana.lima@example.com' };

function shopifyHoldsJanesOrder(harness: TestEngine): void {
  harness.fake.setOrder({
    id: SHOPIFY_ORDER, lineItems: [{ id: AVIATOR_LINE, quantity: 1 }, { id: LOUNGER_LINE, quantity: 1 }], shippingAmount: '10.00',
    transactions: [{ id: SALE_TRANSACTION, kind: 'SALE', gateway: 'shopify_payments', amount: '252.98' }],
  });
}

/** Aviator (8999, $9 off, 1053 tax) and two beanies, paid by one card tender that names no payment id. */
function registerSale() {
  return buildSquareOrder({
    id: SQUARE_ORDER, locationId: STORE_SQUARE_LOCATION, customerId: ANA.id,
    lines: [
      { uid: 'line-aviator', name: 'Aviator sunglasses', catalogObjectId: 'SQ-AVIATOR', quantity: 1, unitAmount: 8999, discountAmount: 900, taxAmount: 1053 },
      { uid: 'line-beanie', name: 'Wool beanie', catalogObjectId: 'SQ-BEANIE', quantity: 2, unitAmount: 2499, taxAmount: 650 },
    ],
  });
}

function squarePaymentEvent(eventId: string) {
  const fixture = JSON.parse(readFixture('square/payment.updated.json').toString('utf8')) as { data: { object: { payment: Record<string, unknown> } } };
  return { ...fixture, event_id: eventId, data: { ...fixture.data, object: { payment: { ...fixture.data.object.payment, status: 'COMPLETED', order_id: SQUARE_ORDER } } } };
}

async function recordJanesWebOrder(harness: TestEngine) {
  assert.equal((await harness.deliverShopifyFixture('shopify/orders-create.json')).status, 200);
  await harness.engine.worker.drain();
  const order = await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'shopify', SHOPIFY_ORDER);
  assert.ok(order);
  return order;
}

async function recordAnasRegisterSale(harness: TestEngine) {
  const sale = registerSale();
  harness.fakeSquare.setOrder(sale);
  harness.fakeSquare.setCustomer(ANA);
  harness.fakeSquare.setPayment({ id: SQUARE_PAYMENT, status: 'COMPLETED', order_id: SQUARE_ORDER, location_id: STORE_SQUARE_LOCATION, amount_money: sale['total_money'] as { amount: number; currency: string } });
  assert.equal((await harness.deliverSquareEvent(squarePaymentEvent('evt-sale'))).status, 200);
  await harness.engine.worker.drain();
  const order = await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'square', SQUARE_ORDER);
  assert.ok(order);
  return order;
}

/** An engine whose records and fake Shopify both hold Jane's web order. */
async function startWithJanesWebOrder(t: { after(fn: () => Promise<void>): void }, dialect: (typeof DIALECTS)[number]) {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  await harness.engine.worker.drain();
  const order = await recordJanesWebOrder(harness);
  shopifyHoldsJanesOrder(harness);
  return { harness, order };
}

/** A return taken through the API; a manager's override, so the fixtures' old order dates do not close the window. */
async function takeReturn(harness: TestEngine, orderId: string, returnRef: string, lines: { order_line_id: string; quantity: number }[]) {
  const response = await harness.request('POST', '/v1/returns', { body: { order_id: orderId, return_ref: returnRef, override: true, reason: 'Did not fit', lines } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.data as { id: string; total: { amount_minor: number }; shipping: { amount_minor: number }; store_credit: { amount_minor: number } };
}

async function returnRow(harness: TestEngine, returnId: string) {
  return harness.engine.database.db.selectFrom('returns').select(['push_state', 'channel_refund_ref', 'amount_minor']).where('id', '=', returnId).executeTakeFirstOrThrow();
}

async function refundMessages(harness: TestEngine) {
  return harness.engine.database.db.selectFrom('outbox_events').selectAll().where('merchant_id', '=', harness.demo.merchant.id).where('kind', '=', 'refund.create').orderBy('created_at').execute();
}

/** Every refund message made due again, as if delivered twice (a worker that died after the call, a lease that ran out). */
async function deliverRefundMessagesAgain(harness: TestEngine): Promise<void> {
  await harness.engine.database.db.updateTable('outbox_events').set({ status: 'pending', next_attempt_at: '2000-01-01T00:00:00.000Z' }).where('kind', '=', 'refund.create').execute();
  await harness.engine.worker.drain();
}

async function makeRetriesDue(harness: TestEngine): Promise<void> {
  await harness.engine.database.db.updateTable('outbox_events').set({ next_attempt_at: '2000-01-01T00:00:00.000Z' }).where('status', '=', 'pending').execute();
}

async function returnsOf(harness: TestEngine, orderId: string) {
  return harness.engine.database.db.selectFrom('returns').select(['id', 'source']).where('order_id', '=', orderId).execute();
}

async function loyaltyOf(harness: TestEngine, email: string) {
  const [profile] = (await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent(email)}`)).body.data;
  return profile.loyalty as { available: number; pending: number };
}

/** Shopify's `refunds/create` for a refund we pushed: the fixture with Shopify's id for it, our note, and no restock. */
function shopifyEchoOf(refundGid: string, returnId: string): Buffer {
  const refundId = refundGid.slice(refundGid.lastIndexOf('/') + 1);
  const text = readFixture('shopify/refunds-create.json').toString('utf8')
    .replace('"id": 890088186047892319,', `"id": ${refundId},`)
    .replace('gid://shopify/Refund/890088186047892319', refundGid)
    .replace('"note": "Customer changed mind before shipping"', `"note": "${formatRefundMarker(returnId)}"`)
    .replace('"restock": true', '"restock": false')
    .replace('"restock_type": "cancel"', '"restock_type": "no_restock"');
  assert.match(text, new RegExp(`"id": ${refundId},`));
  return Buffer.from(text);
}

test('the refund marker is found in a note or reason a person added to, and nowhere else', () => {
  const returnId = 'ret_01jd2x8v9k3m4n5p6q7r8s9t0v';
  assert.equal(parseRefundMarker(formatRefundMarker(returnId)), returnId);
  assert.equal(parseRefundMarker(`Refunded at the store. ${formatRefundMarker(returnId)} (manager approved)`), returnId);
  for (const text of [null, '', 'Customer changed mind', 'Continuum return', `Continuum return ${returnId}x`, `xContinuum return ${returnId}`, 'Continuum return ret_01JD2X8V9K3M4N5P6Q7R8S9T0V']) {
    assert.equal(parseRefundMarker(text), null, String(text));
  }
  assert.throws(() => formatRefundMarker('ord_01jd2x8v9k3m4n5p6q7r8s9t0v'));
});

for (const dialect of DIALECTS) {
  test(`[${dialect}] a Shopify order exchanged in the store for cheaper goods: Shopify refunds the difference only and takes the goods back; returned for store credit, Shopify takes the goods back with no money`, async (t) => {
    const { harness, order } = await startWithJanesWebOrder(t, dialect);
    const aviator = order.lines.find((line) => line.sourceRef === AVIATOR_LINE)!;
    const lounger = order.lines.find((line) => line.sourceRef === LOUNGER_LINE)!;

    // The aviators (87.47 paid) for a beanie: 28.24 of it pays for the beanie, 59.23 goes back to her card.
    const exchanged = await harness.request('POST', '/v1/exchanges', { body: { order_id: order.id, exchange_ref: 'EX-WEB-1', location_id: harness.demo.store.id, override: true, return_lines: [{ order_line_id: aviator.id, quantity: 1 }], new_lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } });
    assert.equal(exchanged.status, 201, JSON.stringify(exchanged.body));
    const owed = -exchanged.body.data.difference.amount_minor;
    assert.equal(exchanged.body.data.return.total.amount_minor, 8747);
    assert.equal(owed, 8747 - exchanged.body.data.new_order.total.amount_minor);
    await harness.engine.worker.drain();
    const [refund] = harness.fake.refunds(SHOPIFY_ORDER);
    assert.deepEqual(refund?.transactions.map((transaction) => [transaction.parentId, transaction.amount]), [[SALE_TRANSACTION, (owed / 100).toFixed(2)]], 'the difference, not the goods\' whole value');
    assert.deepEqual(refund?.lineItems.map((line) => [line.lineItemId, line.quantity]), [[`gid://shopify/LineItem/${AVIATOR_LINE}`, 1]], 'Shopify\'s order shows the aviators back');

    // The lounger returned for store credit: nothing goes back to the card, and Shopify still hears the goods came back.
    const credited = await harness.request('POST', '/v1/returns', { body: { order_id: order.id, return_ref: 'STORE-R-CREDIT', override: true, refund_method: 'store_credit', reason: 'Did not fit', lines: [{ order_line_id: lounger.id, quantity: 1 }] } });
    assert.equal(credited.status, 201, JSON.stringify(credited.body));
    await harness.engine.worker.drain();
    const goodsOnly = harness.fake.refunds(SHOPIFY_ORDER)[1];
    assert.deepEqual([goodsOnly?.transactions, goodsOnly?.shippingAmount, goodsOnly?.lineItems.map((line) => line.lineItemId)], [[], null, [`gid://shopify/LineItem/${LOUNGER_LINE}`]]);
    assert.equal((await returnRow(harness, credited.body.data.id)).push_state, 'pushed');
  });

  test(`[${dialect}] a Shopify order returned in the store is refunded through Shopify once, without restock, against its sale; Shopify's webhook for it records nothing new`, async (t) => {
    const { harness, order } = await startWithJanesWebOrder(t, dialect);
    const aviator = order.lines.find((line) => line.sourceRef === AVIATOR_LINE)!;

    const returned = await takeReturn(harness, order.id, 'STORE-R-1', [{ order_line_id: aviator.id, quantity: 1 }]);
    assert.equal(returned.total.amount_minor, 8747, '80.99 after the code and 6.48 tax');
    await harness.engine.worker.drain();

    const [refund, ...others] = harness.fake.refunds(SHOPIFY_ORDER);
    assert.ok(refund);
    assert.equal(others.length, 0);
    assert.equal(refund.idempotencyKey, returned.id, 'the return id is the @idempotent key');
    assert.equal(refund.note, formatRefundMarker(returned.id));
    assert.equal(refund.notify, false);
    assert.deepEqual(refund.lineItems, [{ lineItemId: `gid://shopify/LineItem/${AVIATOR_LINE}`, quantity: 1, restockType: 'NO_RESTOCK' }]);
    assert.equal(refund.shippingAmount, null);
    assert.deepEqual(refund.transactions.map((transaction) => [transaction.parentId, transaction.gateway, transaction.amount]), [[SALE_TRANSACTION, 'shopify_payments', '87.47']]);
    const refundNumericId = refund.id.split('/').pop();
    assert.deepEqual(await returnRow(harness, returned.id), { push_state: 'pushed', channel_refund_ref: `shopify:${refundNumericId}`, amount_minor: 8747 });
    assert.equal((await refundMessages(harness))[0]?.status, 'delivered');

    // Delivered again: nothing more is asked of Shopify.
    const requestsBefore = harness.fake.requests.length;
    await deliverRefundMessagesAgain(harness);
    assert.equal(harness.fake.refunds(SHOPIFY_ORDER).length, 1);
    assert.equal(harness.fake.requests.length, requestsBefore, 'an already pushed return asks Shopify nothing');
    assert.match((await refundMessages(harness))[0]?.last_error ?? '', /skipped: already pushed/);

    // Shopify's refunds/create for our refund: linked, not a second return.
    const before = { loyalty: await loyaltyOf(harness, 'jane.doe@example.com'), refunded: (await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'shopify', SHOPIFY_ORDER))?.refundedMinor };
    assert.equal(before.refunded, 8747);
    assert.equal((await harness.deliverShopifyFixture('shopify/refunds-create.json', {}, shopifyEchoOf(refund.id, returned.id))).status, 200);
    await harness.engine.worker.drain();
    assert.deepEqual((await returnsOf(harness, order.id)).map((row) => row.id), [returned.id], 'one return');
    const after = await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'shopify', SHOPIFY_ORDER);
    assert.equal(after?.refundedMinor, 8747, 'the refunded amount is not counted twice');
    assert.equal(after?.lines.find((line) => line.sourceRef === AVIATOR_LINE)?.returnedQuantity, 1);
    assert.deepEqual(await loyaltyOf(harness, 'jane.doe@example.com'), before.loyalty, 'points are not reversed twice');
    assert.deepEqual(await returnRow(harness, returned.id), { push_state: 'pushed', channel_refund_ref: `shopify:${refundNumericId}`, amount_minor: 8747 });
    const [inbox] = await harness.engine.database.db.selectFrom('inbox_events').select(['status', 'error']).where('topic', '=', 'refunds/create').execute();
    assert.deepEqual(inbox, { status: 'ignored', error: `our own refund of return ${returned.id}, linked to it` });

    // The last unit brings the shipping back: refunded against what is left of the same sale.
    const lounger = order.lines.find((line) => line.sourceRef === LOUNGER_LINE)!;
    const second = await takeReturn(harness, order.id, 'STORE-R-2', [{ order_line_id: lounger.id, quantity: 1 }]);
    assert.equal(second.shipping.amount_minor, 1000);
    await harness.engine.worker.drain();
    const latest = harness.fake.refunds(SHOPIFY_ORDER)[1];
    assert.equal(latest?.shippingAmount, '10.00');
    assert.deepEqual(latest?.transactions.map((transaction) => [transaction.parentId, transaction.amount]), [[SALE_TRANSACTION, '165.51']], '252.98 less the 87.47 already refunded');
    assert.equal((await returnRow(harness, second.id)).push_state, 'pushed');
  });

  test(`[${dialect}] a Shopify outage and throttling delay the refund push, which is retried later and refunds once`, async (t) => {
    const { harness, order } = await startWithJanesWebOrder(t, dialect);
    harness.fake.failNext(1, 503, 'refundCreate');
    const returned = await takeReturn(harness, order.id, 'STORE-R-1', [{ order_line_id: order.lines[0]!.id, quantity: 1 }]);
    await harness.engine.worker.drain();

    const [waiting] = await refundMessages(harness);
    assert.equal(waiting?.status, 'pending');
    assert.equal(waiting?.attempts, 1);
    assert.match(waiting?.last_error ?? '', /connectors\.shopify\.unavailable/);
    assert.equal(harness.fake.refunds().length, 0);
    assert.equal((await returnRow(harness, returned.id)).push_state, 'pending');

    harness.fake.throttleNext(1);
    await makeRetriesDue(harness);
    await harness.engine.worker.drain();
    assert.equal(harness.fake.refunds().length, 1, 'delivered once Shopify answers again; the throttled call was waited out');
    const refundRequests = harness.fake.requests.filter((request) => request.operation === 'order' || request.operation === 'refundCreate');
    assert.deepEqual(refundRequests.map((request) => [request.operation, request.outcome]), [['order', 'executed'], ['refundCreate', 'failed'], ['order', 'throttled'], ['order', 'executed'], ['refundCreate', 'executed']]);
    assert.equal((await refundMessages(harness))[0]?.status, 'delivered');
    assert.equal((await returnRow(harness, returned.id)).push_state, 'pushed');
  });

  test(`[${dialect}] a Shopify refund whose answer was lost is found by its note on the retry and linked, not made twice`, async (t) => {
    const { harness, order } = await startWithJanesWebOrder(t, dialect);
    const returned = await takeReturn(harness, order.id, 'STORE-R-1', [{ order_line_id: order.lines[0]!.id, quantity: 1 }]);
    // Shopify makes the refund, but the connection drops before its answer arrives.
    let dropped = 0;
    const deliver = createShopifyDeliverer(harness.engine.database.db, (account) => createShopifyAdminClient({
      adminApiUrl: account.adminApiUrl, accessToken: account.accessToken,
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        if (String(init?.body).includes('refundCreate') && dropped === 0) {
          dropped += 1;
          throw new TypeError('fetch failed: socket hang up');
        }
        return response;
      },
    }));
    const [message] = await refundMessages(harness);
    assert.ok(message);
    await assert.rejects(deliver(message), (error: unknown) => error instanceof AppError && error.code === 'connectors.shopify.unavailable');
    assert.equal(harness.fake.refunds().length, 1, 'Shopify holds the refund');
    assert.equal((await returnRow(harness, returned.id)).push_state, 'pending', 'we do not know it yet');

    assert.match(String(await deliver(message)), /^linked: Shopify already holds this refund/);
    assert.equal(harness.fake.refunds().length, 1);
    assert.equal(harness.fake.requests.filter((request) => request.operation === 'refundCreate').length, 1, 'refundCreate is not sent again');
    assert.equal((await returnRow(harness, returned.id)).channel_refund_ref, `shopify:${harness.fake.refunds()[0]!.id.split('/').pop()}`);
  });

  test(`[${dialect}] a refund Shopify refuses (the line was already refunded in its admin) is marked failed and raised for a person, not retried`, async (t) => {
    const { harness, order } = await startWithJanesWebOrder(t, dialect);
    // Someone refunded the aviator in the Shopify admin; its webhook has not arrived yet.
    const admin = createShopifyAdminClient({ adminApiUrl: harness.fake.url, accessToken: harness.fake.token });
    await admin.createRefund({ orderId: SHOPIFY_ORDER, idempotencyKey: 'admin-refund-1', note: 'Refunded in the Shopify admin', lines: [{ lineItemId: AVIATOR_LINE, quantity: 1 }], shippingAmount: null, transactions: [{ parentId: SALE_TRANSACTION, gateway: 'shopify_payments', amount: '87.47' }] });
    const aviator = order.lines.find((line) => line.sourceRef === AVIATOR_LINE)!;
    const returned = await takeReturn(harness, order.id, 'STORE-R-1', [{ order_line_id: aviator.id, quantity: 1 }]);
    await harness.engine.worker.drain();

    const [message] = await refundMessages(harness);
    assert.equal(message?.status, 'delivered', 'closed: no retry changes a refusal');
    assert.match(message?.last_error ?? '', /^refused: connectors\.shopify\.refund_refused: .*Quantity cannot refund more items/);
    assert.equal((await returnRow(harness, returned.id)).push_state, 'failed');
    assert.equal(harness.fake.refunds().length, 1, 'only the admin refund');
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=sync_failed')).body.data;
    assert.deepEqual(exceptions.map((exception: { subject: string }) => exception.subject), [returned.id]);
    assert.equal(exceptions[0].details.amount_minor, 8747);

    await deliverRefundMessagesAgain(harness);
    assert.equal(harness.fake.requests.filter((request) => request.operation === 'refundCreate').length, 2, 'the admin refund and our one refused attempt');
  });

  test(`[${dialect}] a Square register sale returned in Continuum is refunded through RefundPayment once, naming the sale's payment; Square's refund webhooks link to the return`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const order = await recordAnasRegisterSale(harness);
    const payments = await listOrderPayments(harness.engine.database.db, harness.demo.merchant.id, order.id);
    assert.deepEqual(payments.map((payment) => [payment.method, payment.sourceRef]), [['card', SQUARE_PAYMENT]], 'one tender: the payment the notification reported');

    const aviator = order.lines.find((line) => line.sourceRef === 'line-aviator')!;
    const returned = await takeReturn(harness, order.id, 'REG-R-1', [{ order_line_id: aviator.id, quantity: 1 }]);
    assert.equal(returned.store_credit.amount_minor, 0);
    await harness.engine.worker.drain();

    const [refund, ...others] = harness.fakeSquare.refunds();
    assert.ok(refund);
    assert.equal(others.length, 0);
    assert.equal(refund.payment_id, SQUARE_PAYMENT);
    assert.deepEqual(refund.amount_money, { amount: returned.total.amount_minor, currency: 'USD' });
    assert.equal(refund.reason, formatRefundMarker(returned.id));
    const refundCalls = () => harness.fakeSquare.requests.filter((request) => request.path === '/v2/refunds');
    assert.deepEqual(refundCalls().map((request) => [request.idempotencyKey, request.outcome]), [[returned.id, 'executed']]);
    assert.deepEqual(await returnRow(harness, returned.id), { push_state: 'pushed', channel_refund_ref: `square:${refund.id}`, amount_minor: returned.total.amount_minor });

    await deliverRefundMessagesAgain(harness);
    assert.equal(refundCalls().length, 1, 'delivered again: Square is not asked again');
    assert.equal(harness.fakeSquare.refunds().length, 1);

    const before = { loyalty: await loyaltyOf(harness, ANA.email_address), refunded: (await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'square', SQUARE_ORDER))?.refundedMinor };
    assert.equal(before.refunded, returned.total.amount_minor);
    await harness.deliverSquareEvent(harness.fakeSquare.refundNotification({ merchantId: testSquareMerchantRef, eventId: 'evt-refund-created', refundId: refund.id, type: 'refund.created' }));
    harness.fakeSquare.completeRefund(refund.id);
    await harness.deliverSquareEvent(harness.fakeSquare.refundNotification({ merchantId: testSquareMerchantRef, eventId: 'evt-refund-updated', refundId: refund.id, type: 'refund.updated' }));
    await harness.engine.worker.drain();
    assert.deepEqual((await returnsOf(harness, order.id)).map((row) => row.id), [returned.id], 'one return');
    assert.equal((await findOrderBySource(harness.engine.database.db, harness.demo.merchant.id, 'square', SQUARE_ORDER))?.refundedMinor, before.refunded, 'not refunded twice');
    assert.deepEqual(await loyaltyOf(harness, ANA.email_address), before.loyalty, 'points are not reversed twice');
    assert.deepEqual(await returnRow(harness, returned.id), { push_state: 'pushed', channel_refund_ref: `square:${refund.id}`, amount_minor: returned.total.amount_minor });
    const inbox = await harness.engine.database.db.selectFrom('inbox_events').select(['delivery_id', 'status', 'error']).where('topic', 'in', ['refund.created', 'refund.updated']).orderBy('received_at').execute();
    assert.deepEqual(inbox.map((row) => [row.status, row.error]), [['ignored', `refund ${refund.id} is PENDING; it is recorded once COMPLETED`], ['ignored', `our own refund of return ${returned.id}, linked to it`]]);
  });

  test(`[${dialect}] a refund Square accepts and later reports FAILED is marked failed and raised once for a person; a failed refund made at the register is not ours and raises nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const order = await recordAnasRegisterSale(harness);
    const aviator = order.lines.find((line) => line.sourceRef === 'line-aviator')!;
    const returned = await takeReturn(harness, order.id, 'REG-R-F', [{ order_line_id: aviator.id, quantity: 1 }]);
    await harness.engine.worker.drain();
    const [refund] = harness.fakeSquare.refunds();
    assert.equal(refund?.status, 'PENDING');
    assert.equal((await returnRow(harness, returned.id)).push_state, 'pushed');

    // The card network declines the refund after Square accepted it.
    harness.fakeSquare.completeRefund(refund.id, 'FAILED');
    const failed = (eventId: string, refundId: string) => harness.deliverSquareEvent(harness.fakeSquare.refundNotification({ merchantId: testSquareMerchantRef, eventId, refundId, type: 'refund.updated' }));
    assert.equal((await failed('evt-refund-failed', refund.id)).status, 200);
    await harness.engine.worker.drain();

    assert.deepEqual(await returnRow(harness, returned.id), { push_state: 'failed', channel_refund_ref: `square:${refund.id}`, amount_minor: returned.total.amount_minor });
    const shown = (await harness.request('GET', `/v1/orders/${order.id}`)).body.data.returns as { id: string; channel_refund_state: string }[];
    assert.deepEqual(shown.map((row) => [row.id, row.channel_refund_state]), [[returned.id, 'failed']], 'the order history shows the refund failed');
    const raised = async () => (await harness.request('GET', '/v1/exceptions?kind=sync_failed')).body.data as { subject: string; details: { error: string; amount_minor: number } }[];
    const [exception, ...more] = await raised();
    assert.equal(more.length, 0);
    assert.equal(exception?.subject, returned.id);
    assert.match(exception?.details.error ?? '', new RegExp(`refund ${refund.id} as FAILED after accepting it`));
    assert.equal(exception?.details.amount_minor, returned.total.amount_minor, 'the amount a person must pay back by hand');

    // Square sends the notification again: nothing more is raised or changed.
    await failed('evt-refund-failed-again', refund.id);
    await harness.engine.worker.drain();
    assert.equal((await raised()).length, 1);
    assert.equal((await returnRow(harness, returned.id)).push_state, 'failed');

    // A refund the seller made at the register and the bank declined: never recorded, nothing to follow up.
    const register = createSquareClient({ apiUrl: harness.fakeSquare.url, accessToken: harness.fakeSquare.token });
    const theirs = await register.refundPayment({ idempotencyKey: 'register-refund-f', paymentId: SQUARE_PAYMENT, amountMinor: 1_000, currency: 'USD', reason: 'Refunded at the register' });
    harness.fakeSquare.completeRefund(theirs.id, 'FAILED');
    await failed('evt-register-refund-failed', theirs.id);
    await harness.engine.worker.drain();
    assert.equal((await raised()).length, 1);
    const inbox = await harness.engine.database.db.selectFrom('inbox_events').select(['delivery_id', 'status', 'error']).where('topic', '=', 'refund.updated').orderBy('received_at').execute();
    assert.deepEqual(inbox.map((row) => row.status), ['processed', 'ignored', 'ignored']);
    assert.match(inbox[0]!.error ?? '', /marked failed and raised for a person/);
    assert.match(inbox[2]!.error ?? '', /no refund of ours waits on it/);
  });

  test(`[${dialect}] a Square outage and rate limit delay the refund push, which is retried later and refunds once; an amount Square refuses is raised for a person`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const order = await recordAnasRegisterSale(harness);
    const beanie = order.lines.find((line) => line.sourceRef === 'line-beanie')!;
    // Aimed at RefundPayment: the return's restock also pushes the store's stock to Square.
    harness.fakeSquare.failNext(1, 503, { path: '/v2/refunds' });
    const returned = await takeReturn(harness, order.id, 'REG-R-1', [{ order_line_id: beanie.id, quantity: 1 }]);
    await harness.engine.worker.drain();
    const [waiting] = await refundMessages(harness);
    assert.equal(waiting?.status, 'pending');
    assert.match(waiting?.last_error ?? '', /connectors\.square\.unavailable/);
    assert.equal(harness.fakeSquare.refunds().length, 0);

    harness.fakeSquare.rateLimitNext(1, { path: '/v2/refunds' });
    await makeRetriesDue(harness);
    await harness.engine.worker.drain();
    assert.equal(harness.fakeSquare.refunds().length, 1);
    assert.deepEqual(harness.fakeSquare.requests.filter((request) => request.path === '/v2/refunds').map((request) => request.outcome), ['failed', 'rate_limited', 'executed']);
    assert.equal((await returnRow(harness, returned.id)).push_state, 'pushed');

    // The seller refunded most of the sale at the register: what is left cannot hold the aviator.
    const register = createSquareClient({ apiUrl: harness.fakeSquare.url, accessToken: harness.fakeSquare.token });
    await register.refundPayment({ idempotencyKey: 'register-refund-1', paymentId: SQUARE_PAYMENT, amountMinor: 10_000, currency: 'USD', reason: 'Refunded at the register' });
    const aviator = order.lines.find((line) => line.sourceRef === 'line-aviator')!;
    const refused = await takeReturn(harness, order.id, 'REG-R-2', [{ order_line_id: aviator.id, quantity: 1 }]);
    await harness.engine.worker.drain();
    assert.equal((await returnRow(harness, refused.id)).push_state, 'failed');
    const message = (await refundMessages(harness)).find((row) => JSON.parse(row.payload).return_id === refused.id);
    assert.match(message?.last_error ?? '', /^refused: connectors\.square\.rejected: .*REFUND_AMOUNT_INVALID/);
    const exceptions = (await harness.request('GET', '/v1/exceptions?kind=sync_failed')).body.data;
    assert.deepEqual(exceptions.map((exception: { subject: string }) => exception.subject), [refused.id]);
    assert.equal(harness.fakeSquare.refunds().length, 2, 'ours and the register\'s; none for the refused return');
  });

  test(`[${dialect}] the fakes keep their refund idempotency as documented: same key and input answer the same refund, another input is refused`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    shopifyHoldsJanesOrder(harness);
    const shopify = createShopifyAdminClient({ adminApiUrl: harness.fake.url, accessToken: harness.fake.token });
    const input = { orderId: SHOPIFY_ORDER, idempotencyKey: 'ret-key-1', note: 'one refund', lines: [{ lineItemId: AVIATOR_LINE, quantity: 1 }], shippingAmount: null, transactions: [{ parentId: SALE_TRANSACTION, gateway: 'shopify_payments', amount: '87.47' }] };
    const first = await shopify.createRefund(input);
    assert.deepEqual(await shopify.createRefund(input), first);
    assert.equal(harness.fake.refunds().length, 1);
    await assert.rejects(shopify.createRefund({ ...input, transactions: [{ ...input.transactions[0]!, amount: '80.00' }] }), (error: unknown) => error instanceof AppError && error.code === 'connectors.shopify.graphql_error' && /IDEMPOTENCY_KEY_PARAMETER_MISMATCH/.test(JSON.stringify(error.details)));
    await assert.rejects(shopify.createRefund({ ...input, idempotencyKey: 'ret-key-2', lines: [], transactions: [{ ...input.transactions[0]!, amount: '170.00' }] }), (error: unknown) => error instanceof AppError && error.code === 'connectors.shopify.refund_refused' && /refundable amount of 165\.51/.test(error.message));
    assert.equal(harness.fake.refunds().length, 1);

    const sale = registerSale();
    harness.fakeSquare.setPayment({ id: SQUARE_PAYMENT, status: 'COMPLETED', order_id: SQUARE_ORDER, amount_money: sale['total_money'] as { amount: number; currency: string } });
    const square = createSquareClient({ apiUrl: harness.fakeSquare.url, accessToken: harness.fakeSquare.token });
    const refund = { idempotencyKey: 'ret-key-1', paymentId: SQUARE_PAYMENT, amountMinor: 9152, currency: 'USD', reason: 'one refund' };
    const made = await square.refundPayment(refund);
    assert.deepEqual(await square.refundPayment(refund), made);
    assert.equal(harness.fakeSquare.refunds().length, 1);
    await assert.rejects(square.refundPayment({ ...refund, amountMinor: 100 }), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.rejected' && /IDEMPOTENCY_KEY_REUSED/.test(error.message));
    await assert.rejects(square.refundPayment({ ...refund, idempotencyKey: 'ret-key-2', amountMinor: 14_800 - 9152 + 1 }), (error: unknown) => error instanceof AppError && error.code === 'connectors.square.rejected' && /REFUND_AMOUNT_INVALID/.test(error.message));
    assert.equal(harness.fakeSquare.refunds().length, 1);
  });
}
