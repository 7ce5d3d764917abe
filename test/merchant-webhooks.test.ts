import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { announceExpiringPoints } from '../src/commands/index.ts';
import { verifyStandardWebhook } from '../src/connectors/merchant/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine } from './support/engine-harness.ts';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A merchant's own system on loopback; it can be told to fail the next deliveries. */
async function startSubscriber() {
  const received: Received[] = [];
  let failures = 0;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    request.on('end', () => {
      if (failures > 0) {
        failures -= 1;
        response.writeHead(503).end();
        return;
      }
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, failNext: (count: number) => { failures = count; }, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] the merchant's own systems hear points earned, rewards redeemed, tiers changed and points expiring, signed per Standard Webhooks, retried when they fail`, async (t) => {
    const harness = await startTestEngine(dialect);
    const subscriber = await startSubscriber();
    t.after(async () => { await harness.dispose(); await subscriber.close(); });
    const { engine, demo } = harness;
    const settings = await engine.database.db.selectFrom('merchants').select('settings_json').where('id', '=', demo.merchant.id).executeTakeFirstOrThrow();
    const program = JSON.parse(settings.settings_json);
    program.loyalty.tiers = [{ name: 'Member', threshold: 0, earnMultiplierBps: 10000 }, { name: 'Gold', threshold: 10000, earnMultiplierBps: 10000 }];
    await engine.database.db.updateTable('merchants').set({ settings_json: JSON.stringify(program) }).where('id', '=', demo.merchant.id).execute();

    const subscription = await harness.request('POST', '/v1/webhook-subscriptions', { body: { url: subscriber.url, event_types: ['loyalty.points_earned', 'loyalty.reward_redeemed', 'loyalty.tier_changed', 'loyalty.points_expiring'] } });
    assert.equal(subscription.status, 201, JSON.stringify(subscription.body));
    const secret: string = subscription.body.data.secret;
    assert.match(secret, /^whsec_/);
    const listed = (await harness.request('GET', '/v1/webhook-subscriptions')).body.data;
    assert.equal(JSON.stringify(listed).includes(secret), false, 'the secret is shown once');

    const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'WH-1', location_id: demo.store.id, customer: { email: 'hook.shopper@example.com' }, lines: [{ sku: 'SKU2006-020', quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const redeem = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'WH-2', location_id: demo.store.id, customer: { email: 'hook.shopper@example.com' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], rewards: ['5-OFF'] } });
    assert.equal(redeem.status, 201, JSON.stringify(redeem.body));
    subscriber.failNext(2);
    await engine.worker.drain();
    await engine.database.db.updateTable('outbox_events').set({ next_attempt_at: '2000-01-01T00:00:00.000Z' }).where('status', '=', 'pending').execute();
    await engine.worker.drain();
    assert.equal(await announceExpiringPoints(engine.database.db, new Date(Date.now() + 360 * 86_400_000)), 2, 'both lots (the purchases, earned at 12 months) expire within 30 days of that day');
    await engine.worker.drain();

    const events = subscriber.received.map((delivery) => {
      const headers = { id: String(delivery.headers['webhook-id']), timestamp: String(delivery.headers['webhook-timestamp']), signature: String(delivery.headers['webhook-signature']) };
      assert.ok(verifyStandardWebhook(secret, headers, delivery.body), 'every delivery verifies with the subscription secret');
      assert.equal(verifyStandardWebhook('whsec_' + Buffer.from('another secret').toString('base64'), headers, delivery.body), false);
      return JSON.parse(delivery.body) as { type: string; data: Record<string, unknown> };
    });
    const types = events.map((event) => event.type).sort();
    assert.deepEqual(types, ['loyalty.points_earned', 'loyalty.points_earned', 'loyalty.points_expiring', 'loyalty.points_expiring', 'loyalty.reward_redeemed', 'loyalty.tier_changed']);
    assert.deepEqual(events.find((event) => event.type === 'loyalty.tier_changed')?.data, { customer_id: sale.body.data.order.customer_id, from: 'Member', to: 'Gold', direction: 'up' });
    assert.equal(new Set(subscriber.received.map((delivery) => delivery.headers['webhook-id'])).size, subscriber.received.length, 'one delivery per event once it succeeded');
    assert.equal(await announceExpiringPoints(engine.database.db, new Date(Date.now() + 360 * 86_400_000)), 0, 'each lot is announced once');
  });
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] the merchant's own systems hear every order recorded, every return, every merge and every case raised for a person`, async (t) => {
    const harness = await startTestEngine(dialect);
    const subscriber = await startSubscriber();
    t.after(async () => { await harness.dispose(); await subscriber.close(); });
    const { engine, demo } = harness;
    const subscription = await harness.request('POST', '/v1/webhook-subscriptions', { body: { url: subscriber.url, event_types: ['order.recorded', 'order.returned', 'customer.merged', 'exception.raised'] } });
    assert.equal(subscription.status, 201, JSON.stringify(subscription.body));

    await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Triggered-At': new Date().toISOString() });
    await engine.worker.drain();
    const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'WH-ORD-1', location_id: demo.store.id, customer: { email: 'second.profile@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const order = sale.body.data.order;
    const returned = await harness.request('POST', '/v1/returns', { body: { order_id: order.id, return_ref: 'WH-RET-1', lines: [{ order_line_id: order.lines[0].id, quantity: 1 }] } });
    assert.equal(returned.status, 201, JSON.stringify(returned.body));
    const jane = (await harness.request('GET', '/v1/customers/lookup?q=jane.doe@example.com')).body.data[0];
    const merged = await harness.request('POST', '/v1/customers/merge', { body: { survivor_id: jane.id, merged_id: order.customer_id } });
    assert.equal(merged.status, 201, JSON.stringify(merged.body));
    // A store sale of a SKU nobody mapped in Shopify POS: recorded, and a case for a person.
    const unmapped = readFixture('shopify/orders-create.json').toString('utf8').replace('"820982911946154508"', '"820982911946154599"').replace(/"id":\s*820982911946154508/, '"id":820982911946154599').replace(/"sku":\s*"SKU2006-001"/, '"sku":"SKU-NOBODY"').replace(/"variant_id":\s*642667041472713922/, '"variant_id":1');
    await harness.deliverShopifyFixture('shopify/orders-create.json', { 'X-Shopify-Webhook-Id': 'wh-unmapped', 'X-Shopify-Event-Id': 'wh-unmapped', 'X-Shopify-Triggered-At': new Date().toISOString() }, Buffer.from(unmapped));
    await engine.worker.drain();
    await engine.worker.drain();

    const events = subscriber.received.map((delivery) => JSON.parse(delivery.body) as { type: string; data: Record<string, any> });
    const ofType = (type: string) => events.filter((event) => event.type === type);
    assert.deepEqual(ofType('order.recorded').map((event) => event.data.source).sort(), ['pos', 'shopify', 'shopify']);
    assert.equal(ofType('order.recorded').find((event) => event.data.source === 'pos')?.data.total_minor, order.total.amount_minor);
    assert.deepEqual(ofType('order.returned').map((event) => [event.data.order_id, event.data.amount_minor]), [[order.id, returned.body.data.total.amount_minor]]);
    assert.deepEqual(ofType('customer.merged').map((event) => [event.data.survivor_id, event.data.merged_id]), [[jane.id, order.customer_id]]);
    assert.ok(ofType('exception.raised').some((event) => event.data.kind === 'unmapped_sku'), 'the unmapped SKU is announced');
  });
}
