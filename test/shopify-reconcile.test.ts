import assert from 'node:assert/strict';
import { test } from 'node:test';
import { neededShopifyTopics, reconcileShopify, runScheduledShopifyReconciliation } from '../src/connectors/shopify/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';

// Reconciliation beyond stock (issue #7): orders whose webhooks were missed are found and recorded
// through the same command; webhook subscriptions Shopify removed are re-created; customers'
// mirrored points and tier and their links are compared and repaired.

const publicUrl = 'https://continuum.example.com';

/** Reconciles with a full bucket: the fake runs on the real clock, and these tests do not test throttling (shopify-backfill does). */
function reconcile(harness: TestEngine, options: Parameters<typeof reconcileShopify>[2]) {
  harness.fake.fillBucket();
  return reconcileShopify(harness.engine.database.db, harness.demo.merchant.id, options);
}

async function postReconcile(harness: TestEngine, body: unknown) {
  harness.fake.fillBucket();
  return harness.request('POST', '/v1/reconciliation/shopify', { body });
}
const money = (amount: string) => ({ shopMoney: { amount, currencyCode: 'USD' } });

/** An order as the Admin API lists it: one line, no tax or shipping, total = price × quantity. */
function listedOrder(input: { id: string; name: string; sku: string; variantId: string; price: string; quantity?: number; createdAt?: string; cancelledAt?: string | null }) {
  const quantity = input.quantity ?? 1;
  const total = (Number(input.price) * quantity).toFixed(2);
  return {
    id: `gid://shopify/Order/${input.id}`, name: input.name, createdAt: input.createdAt ?? new Date(Date.now() - 86_400_000).toISOString(), processedAt: null, updatedAt: new Date().toISOString(),
    cancelledAt: input.cancelledAt ?? null, sourceName: 'web', email: 'late.buyer@example.com', phone: null, displayFinancialStatus: 'PAID', displayFulfillmentStatus: 'UNFULFILLED',
    paymentGatewayNames: ['shopify_payments'], discountCodes: [], retailLocation: null,
    customer: { id: 'gid://shopify/Customer/640000000000000001', firstName: 'Late', lastName: 'Buyer', verifiedEmail: true, defaultEmailAddress: { emailAddress: 'late.buyer@example.com' }, defaultPhoneNumber: null },
    totalPriceSet: money(total), totalTaxSet: money('0.00'), totalShippingPriceSet: money('0.00'), totalDiscountsSet: money('0.00'),
    lineItems: { pageInfo: { hasNextPage: false }, nodes: [{ id: `gid://shopify/LineItem/${input.id}1`, name: input.sku, sku: input.sku, quantity, isGiftCard: false, variant: { id: `gid://shopify/ProductVariant/${input.variantId}` }, originalUnitPriceSet: money(input.price), discountAllocations: [], taxLines: [] }] },
  };
}

async function warehouseAvailable(harness: TestEngine, sku: string): Promise<number> {
  return (await harness.request('GET', `/v1/inventory?sku=${sku}`)).body.data.find((row: { location_id: string }) => row.location_id === harness.demo.warehouse.id).available;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] reconciliation finds an order whose webhook never came and records it through the order command; a different total is reported`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    harness.fake.setListedOrder(listedOrder({ id: '5550000000000000001', name: '#2001', sku: 'SKU-BEANIE-01', variantId: '642667041472714000', price: '24.99', quantity: 2 }));
    harness.fake.setListedOrder(listedOrder({ id: '5550000000000000002', name: '#1990', sku: 'SKU-BEANIE-01', variantId: '642667041472714000', price: '24.99', createdAt: new Date(Date.now() - 30 * 86_400_000).toISOString() }));
    await harness.deliverShopifyFixture('shopify/orders-create.json');
    await harness.engine.worker.drain();
    harness.fake.setListedOrder(listedOrder({ id: '820982911946154508', name: '#1001', sku: 'SKU2006-001', variantId: '642667041472713922', price: '100.00' }));

    const report = await postReconcile(harness, { scopes: ['orders'] });
    assert.equal(report.status, 200, JSON.stringify(report.body));
    const { orders } = report.body.data;
    assert.equal(orders.checked, 2, 'only the last 7 days are compared');
    assert.deepEqual(orders.drifts.map((drift: { order_number: string; reason: string }) => [drift.order_number, drift.reason]), [['#2001', 'missing_webhook'], ['#1001', 'total_differs']]);
    assert.equal(orders.drifts[1].continuum.total_minor, 25298);
    assert.equal(orders.repaired, 0, 'a report changes nothing');
    assert.equal(await warehouseAvailable(harness, 'SKU-BEANIE-01'), 30);

    const repaired = await postReconcile(harness, { scopes: ['orders'], repair: true });
    assert.equal(repaired.body.data.orders.repaired, 1);
    const found = (await harness.request('GET', '/v1/orders?q=late.buyer@example.com')).body.data;
    assert.equal(found.length, 1, 'the missed order is recorded');
    assert.equal(await warehouseAvailable(harness, 'SKU-BEANIE-01'), 28, 'and moved stock as its webhook would have');
    const again = await postReconcile(harness, { scopes: ['orders'], repair: true });
    assert.deepEqual(again.body.data.orders.drifts.map((drift: { reason: string }) => drift.reason), ['total_differs'], 'the recorded order no longer drifts; the other total is only reported');
    assert.equal(again.body.data.orders.repaired, 0);
  });

  test(`[${dialect}] an order recovered by the reconciliation counts the use of the automatic discount Shopify gave it, by its promotion's name`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const defined = await harness.request('POST', '/v1/promotions', { body: { name: 'Beanie week', automatic: true, action: { type: 'percent_off', target: 'lines', percent_bps: 2000, skus: ['SKU-BEANIE-01'] } } });
    assert.equal(defined.status, 201, JSON.stringify(defined.body));
    await harness.engine.worker.drain();
    const order = listedOrder({ id: '5550000000000000003', name: '#2002', sku: 'SKU-BEANIE-01', variantId: '642667041472714000', price: '25.00', quantity: 2 });
    const automatic = { __typename: 'AutomaticDiscountApplication', title: 'Beanie week' };
    order.lineItems.nodes[0]!.discountAllocations = [{ allocatedAmountSet: money('10.00'), discountApplication: automatic }] as never[];
    Object.assign(order, { totalPriceSet: money('40.00'), totalDiscountsSet: money('10.00') });
    harness.fake.setListedOrder(order);

    const repaired = await postReconcile(harness, { scopes: ['orders'], repair: true });
    assert.equal(repaired.body.data.orders.repaired, 1, JSON.stringify(repaired.body));
    const usage = (await harness.request('GET', `/v1/promotions/${defined.body.data.id}`)).body.data.usage;
    assert.deepEqual(usage, { total: 1, by_channel: { online: 1 } });
    const redemption = await harness.engine.database.db.selectFrom('promotion_redemptions').select('amount_minor').executeTakeFirstOrThrow();
    assert.equal(redemption.amount_minor, 1000);
  });

  test(`[${dialect}] an order recovered by the reconciliation counts an automatic free-shipping discount, which Shopify allocates to its shipping line only`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const defined = await harness.request('POST', '/v1/promotions', { body: { name: 'Free shipping week', automatic: true, action: { type: 'free_shipping' } } });
    assert.equal(defined.status, 201, JSON.stringify(defined.body));
    await harness.engine.worker.drain();
    const order = listedOrder({ id: '5550000000000000004', name: '#2003', sku: 'SKU-BEANIE-01', variantId: '642667041472714000', price: '25.00' });
    const automatic = { __typename: 'AutomaticDiscountApplication', title: 'Free shipping week' };
    // Shipping of 7.00 taken off whole: the lines carry no allocation, the shipping line does.
    Object.assign(order, { shippingLines: { nodes: [{ discountAllocations: [{ allocatedAmountSet: money('7.00'), discountApplication: automatic }] }] }, totalDiscountsSet: money('7.00') });
    harness.fake.setListedOrder(order);

    const repaired = await postReconcile(harness, { scopes: ['orders'], repair: true });
    assert.equal(repaired.body.data.orders.repaired, 1, JSON.stringify(repaired.body));
    assert.deepEqual((await harness.request('GET', `/v1/promotions/${defined.body.data.id}`)).body.data.usage, { total: 1, by_channel: { online: 1 } });
    const redemption = await harness.engine.database.db.selectFrom('promotion_redemptions').select('amount_minor').executeTakeFirstOrThrow();
    assert.equal(redemption.amount_minor, 700, 'what it took off the shipping');
  });

  test(`[${dialect}] reconciliation re-creates the webhook subscriptions Shopify removed, at the engine's public URL, on request and on schedule`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    const needed = neededShopifyTopics();
    assert.ok(needed.includes('app/uninstalled') && needed.includes('locations/delete') && !needed.includes('customers/redact'), 'the privacy topics are configured in the app, not subscribed by API');

    const first = await reconcile(harness, { scopes: ['webhooks'], repair: true, publicUrl });
    assert.equal(first.webhooks?.drifts.length, needed.length, 'nothing was subscribed yet');
    assert.equal(harness.fake.webhookSubscriptions().length, needed.length);
    assert.ok(harness.fake.webhookSubscriptions().every((subscription) => subscription.uri === `${publicUrl}/webhooks/shopify` && subscription.format === 'JSON'));

    assert.equal(harness.fake.removeWebhookSubscriptions('ORDERS_CREATE'), 1, 'Shopify removes a subscription after repeated delivery failures');
    const found = await reconcile(harness, { scopes: ['webhooks'], repair: false, publicUrl });
    assert.deepEqual(found.webhooks?.drifts, [{ topic: 'orders/create', reason: 'missing', uris: [] }]);
    harness.fake.fillBucket();
    assert.equal(await runScheduledShopifyReconciliation(db, { publicUrl }), 1, 'the scheduled run re-creates it');
    assert.ok(harness.fake.webhookSubscriptions().some((subscription) => subscription.topic === 'ORDERS_CREATE'));
    assert.deepEqual((await reconcile(harness, { scopes: ['webhooks'], repair: false, publicUrl })).webhooks?.drifts, []);

    const moved = await reconcile(harness, { scopes: ['webhooks'], repair: false, publicUrl: 'https://new-host.example.com' });
    assert.ok(moved.webhooks?.drifts.every((drift) => drift.reason === 'other_address' && drift.uris[0] === `${publicUrl}/webhooks/shopify`), 'a moved engine sees its subscriptions at the old address');
    const unconfigured = await postReconcile(harness, { scopes: ['webhooks'] });
    assert.equal(unconfigured.status, 400);
    assert.equal(unconfigured.body.error.code, 'connectors.shopify.not_configured');
  });

  test(`[${dialect}] customer reconciliation compares the mirrored points and tier and the links, and repair pushes Continuum's truth`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    await harness.deliverShopifyFixture('shopify/customers-create.json');
    await harness.engine.worker.drain();
    harness.fake.setCustomer({ id: '706405506930370084', firstName: 'Bob', lastName: 'Biller', email: 'bob@biller.com', updatedAt: '2021-12-31T19:00:00-05:00' });
    harness.fake.setCustomer({ id: '640000000000000099', firstName: 'Nora', lastName: 'Unlinked', email: 'nora@example.com', updatedAt: '2026-01-01T00:00:00Z' });

    const found = await reconcile(harness, { scopes: ['customers'], repair: false, publicUrl: null });
    assert.equal(found.customers?.complete, true);
    assert.deepEqual(found.customers?.drifts.map((drift) => [drift.shopify_customer_id, drift.reason]), [['640000000000000099', 'not_linked'], ['706405506930370084', 'not_mirrored']]);

    const repaired = await reconcile(harness, { scopes: ['customers'], repair: true, publicUrl: null });
    assert.equal(repaired.customers?.repaired, 2);
    await harness.engine.worker.drain();
    assert.deepEqual(harness.fake.metafields('gid://shopify/Customer/706405506930370084').map((metafield) => [metafield.key, metafield.value]).sort(), [['points', '0'], ['tier', 'Member']]);
    assert.deepEqual((await reconcile(harness, { scopes: ['customers'], repair: false, publicUrl: null })).customers?.drifts, [], 'the linked shopper was mirrored too');

    const { customer_id: bobId } = await db.selectFrom('customer_identifiers').select('customer_id').where('kind', '=', 'shopify_id').where('value_normalized', '=', '706405506930370084').executeTakeFirstOrThrow();
    await harness.request('POST', `/v1/customers/${bobId}/loyalty/adjustments`, { body: { points: 40, reason: 'service recovery' } });
    const drifted = await reconcile(harness, { scopes: ['customers'], repair: false, publicUrl: null });
    assert.deepEqual(drifted.customers?.drifts.map((drift) => [drift.reason, drift.continuum?.points, drift.shopify?.points]), [['points_differ', 40, '0']], 'an undelivered mirror shows as drift');

    harness.fake.deleteCustomer('640000000000000099');
    const missing = await reconcile(harness, { scopes: ['customers'], repair: false, publicUrl: null });
    assert.ok(missing.customers?.drifts.some((drift) => drift.shopify_customer_id === '640000000000000099' && drift.reason === 'missing_in_shopify'), 'a customer Shopify deleted while its webhook was missed');
  });
}
