import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonSafely } from '../shared/json.ts';
import { computeResourceKey, needsExactNumbers } from './resource-key.ts';

// The resource key groups the events whose order matters (issue #7): every event about one order,
// customer, product or stock place gets the same key, events about different ones different keys,
// and a key is exact even where JSON.parse would round a Shopify id beyond 2^53.

const fixturesDir = join(import.meta.dirname, '..', '..', 'test', 'fixtures');

function fixture(path: string): unknown {
  return parseJsonSafely(readFileSync(join(fixturesDir, path), 'utf8'));
}

test('Shopify: orders, their refunds, fulfilments and transactions share the order\'s key; the exact id comes from the lossless parse or the GraphQL id', () => {
  const order = fixture('shopify/orders-create.json');
  for (const topic of ['orders/create', 'orders/updated', 'orders/paid', 'orders/cancelled', 'orders/delete']) {
    assert.equal(computeResourceKey('shopify', topic, order), 'shopify:order:820982911946154508', topic);
  }
  assert.equal(computeResourceKey('shopify', 'refunds/create', fixture('shopify/refunds-create.json')), 'shopify:order:820982911946154508', 'a refund follows its order');
  assert.equal(computeResourceKey('shopify', 'fulfillments/create', { id: 1, order_id: '820982911946154508' }), 'shopify:order:820982911946154508');
  assert.equal(computeResourceKey('shopify', 'orders/updated', { id: 450789469 }), 'shopify:order:450789469', 'a safe numeric id without a GraphQL id');
});

test('Shopify: with JSON.parse, an id beyond 2^53 is taken from the GraphQL id when there is one, and otherwise asked for again from a lossless parse', () => {
  const orderText = readFileSync(join(fixturesDir, 'shopify/orders-create.json'), 'utf8');
  assert.equal(computeResourceKey('shopify', 'orders/create', JSON.parse(orderText)), 'shopify:order:820982911946154508', 'admin_graphql_api_id is exact');
  const refundText = readFileSync(join(fixturesDir, 'shopify/refunds-create.json'), 'utf8');
  assert.equal(computeResourceKey('shopify', 'refunds/create', JSON.parse(refundText)), needsExactNumbers, 'order_id 820982911946154508 would be rounded');
  const levelText = readFileSync(join(fixturesDir, 'shopify/inventory_levels-update.json'), 'utf8');
  assert.equal(computeResourceKey('shopify', 'inventory_levels/update', JSON.parse(levelText)), needsExactNumbers);
  assert.equal(computeResourceKey('shopify', 'inventory_levels/update', parseJsonSafely(levelText)), 'shopify:inventory_level:271878346596884015:24826418');
});

test('Shopify: customers by their id (a merge by the customer kept, privacy requests by the customer named), products, inventory items', () => {
  assert.equal(computeResourceKey('shopify', 'customers/create', fixture('shopify/customers-create.json')), 'shopify:customer:706405506930370084');
  assert.equal(computeResourceKey('shopify', 'customers/update', { id: 207119551, admin_graphql_api_id: 'gid://shopify/Customer/207119551' }), 'shopify:customer:207119551');
  assert.equal(computeResourceKey('shopify', 'customers/merge', { admin_graphql_api_customer_kept_id: 'gid://shopify/Customer/1', admin_graphql_api_customer_deleted_id: 'gid://shopify/Customer/2' }), 'shopify:customer:1');
  assert.equal(computeResourceKey('shopify', 'customers/redact', { shop_domain: 'x.myshopify.com', customer: { id: 191167, email: 'john@example.com' } }), 'shopify:customer:191167');
  assert.equal(computeResourceKey('shopify', 'customers_marketing_consent/update', { customer_id: '706405506930370084' }), 'shopify:customer:706405506930370084');
  assert.equal(computeResourceKey('shopify', 'products/update', { id: 632910392, admin_graphql_api_id: 'gid://shopify/Product/632910392' }), 'shopify:product:632910392');
  assert.equal(computeResourceKey('shopify', 'inventory_items/update', { id: '271878346596884015' }), 'shopify:inventory_item:271878346596884015');
});

test('Shopify: shop-wide and unknown topics, and payloads without the id, are unordered (null)', () => {
  assert.equal(computeResourceKey('shopify', 'shop/redact', { shop_id: 954889, shop_domain: 'x.myshopify.com' }), null);
  assert.equal(computeResourceKey('shopify', 'themes/publish', { id: 828155753 }), null);
  assert.equal(computeResourceKey('shopify', 'orders/create', { name: '#1001' }), null, 'no id');
  assert.equal(computeResourceKey('shopify', 'orders/create', { id: 'a:b' }), null, 'a colon would make keys ambiguous');
  assert.equal(computeResourceKey('shopify', 'orders/create', { id: 'x'.repeat(101) }), null, 'longer than any id');
  assert.equal(computeResourceKey('shopify', 'orders/create', { id: -5 }), null);
  assert.equal(computeResourceKey('shopify', 'orders/create', null), null);
  assert.equal(computeResourceKey('shopify', 'orders/create', [1, 2]), null);
});

test('Square: order events and the payments of an order share the order\'s key; a payment without an order, refunds and customers by their own id', () => {
  assert.equal(computeResourceKey('square', 'order.created', fixture('square/order.created.json')), 'square:order:eA3vssLHKJrv9H0IdJCM3gNqfdcZY');
  assert.equal(computeResourceKey('square', 'payment.updated', fixture('square/payment.updated.json')), 'square:order:03O3USaPaAaFnI6kkwB1JxGgBsUZY', 'the payment pays that order');
  assert.equal(computeResourceKey('square', 'order.updated', { type: 'order.updated', data: { id: '03O3USaPaAaFnI6kkwB1JxGgBsUZY', object: { order_updated: { order_id: '03O3USaPaAaFnI6kkwB1JxGgBsUZY', state: 'COMPLETED' } } } }), 'square:order:03O3USaPaAaFnI6kkwB1JxGgBsUZY');
  assert.equal(computeResourceKey('square', 'payment.created', { data: { id: 'PAY1', object: { payment: { id: 'PAY1', status: 'APPROVED' } } } }), 'square:payment:PAY1');
  assert.equal(computeResourceKey('square', 'refund.updated', { data: { id: 'REF1', object: { refund: { id: 'REF1', order_id: 'RETURN-ORDER', payment_id: 'PAY1' } } } }), 'square:refund:REF1');
  assert.equal(computeResourceKey('square', 'customer.updated', { data: { id: 'CUS1', object: { customer: { id: 'CUS1' } } } }), 'square:customer:CUS1');
});

test('Square: count notifications, unknown types and register uploads are unordered (null)', () => {
  // The changes behind a count are applied once each by id, in the order they happened in Square.
  assert.equal(computeResourceKey('square', 'inventory.count.updated', fixture('square/inventory.count.updated.json')), null);
  assert.equal(computeResourceKey('square', 'loyalty.account.updated', { data: { id: 'L1' } }), null);
  assert.equal(computeResourceKey('pos', 'sale', { sale_id: 'S1' }), null, 'register uploads are not webhooks');
});
