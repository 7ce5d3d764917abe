import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getStockLevel } from '../src/inventory/index.ts';
import { getStoreCredit, sumLoyaltyEntries, sumStoreCreditEntries } from '../src/loyalty/index.ts';
import { DIALECTS } from './support/databases.ts';
import { readFixture, startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Returns anywhere (issue #6): the refund computed by one allocation function and the merchant's
// policy, shown before anything is committed, and then exactly that refunded, with the stock, the
// points and the store credit following.

async function ringUpMixedCart(harness: TestEngine) {
  const { engine, demo } = harness;
  // The wallet is sold as final sale.
  await engine.database.db.updateTable('variants').set({ final_sale: 1 }).where('merchant_id', '=', demo.merchant.id).where('sku', '=', 'SKU-WALLET-01').execute();
  // Points to redeem: Jane's online order earns them.
  await harness.deliverShopifyFixture('shopify/orders-create.json');
  await engine.worker.drain();
  const sale = await harness.request('POST', '/v1/pos/sales', {
    key: testPosKey,
    body: {
      sale_id: 'MIX-1', register_id: 'till-1', location_id: demo.store.id, customer: { email: 'jane.doe@example.com' },
      // Full price, a line sold below list, several units, a final-sale line; SUMMER10 off the order; the 5-OFF reward.
      lines: [{ sku: 'SKU2006-001', quantity: 2 }, { sku: 'SKU-BEANIE-01', quantity: 3, unit_price_minor: 1999 }, { sku: 'SKU-WALLET-01', quantity: 1 }],
      promotion_codes: ['SUMMER10'], rewards: ['5-OFF'],
    },
  });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  return sale.body.data;
}

function lineOf(order: any, sku: string) {
  return order.lines.find((line: any) => line.sku === sku);
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a mixed cart returned in parts refunds exactly what was paid, with points and stock following`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    const sale = await ringUpMixedCart(harness);
    const order = sale.order;
    const customerId: string = order.customer_id;
    const aviator = lineOf(order, 'SKU2006-001');
    const beanie = lineOf(order, 'SKU-BEANIE-01');
    const wallet = lineOf(order, 'SKU-WALLET-01');
    const available = async () => (await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available;
    const pointsAfterSale = await available();
    const storeBeanies = (await getStockLevel(engine.database.db, demo.merchant.id, demo.store.id, beanie.variant_id ?? (await variantId(harness, 'SKU-BEANIE-01')))).onHand;

    // The preview shows the refund and commits nothing.
    const body = { order_id: order.id, return_ref: 'R-1', location_id: demo.store.id, lines: [{ order_line_id: beanie.id, quantity: 2 }] };
    const preview = await harness.request('POST', '/v1/returns/preview', { key: testPosKey, body });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    const previewed = preview.body.data;
    assert.equal(previewed.lines[0].gross.amount_minor, 2 * 1999);
    assert.ok(previewed.lines[0].discount.amount_minor > 0, 'the order-level promotion and the reward are spread onto the line');
    assert.equal(previewed.total.amount_minor, previewed.lines[0].refund.amount_minor);
    assert.equal((await harness.request('GET', `/v1/orders/${order.id}`)).body.data.refunded.amount_minor, 0, 'a preview changes nothing');

    const first = await harness.request('POST', '/v1/returns', { key: testPosKey, body });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.data.total.amount_minor, previewed.total.amount_minor, 'the refund is the one previewed');
    assert.equal(first.body.data.lines[0].went_to, 'restocked');
    assert.equal(first.body.data.channel_refund.state, 'not_needed', 'the register gives the money back itself');
    const again = await harness.request('POST', '/v1/returns', { key: testPosKey, body });
    assert.equal(again.status, 200, 'the same return sent again');
    assert.equal(again.body.data.id, first.body.data.id);

    // The final-sale wallet: refused for the associate, accepted on a manager's override.
    const walletBody = { order_id: order.id, return_ref: 'R-2', location_id: demo.store.id, lines: [{ order_line_id: wallet.id, quantity: 1 }] };
    const refused = await harness.request('POST', '/v1/returns', { key: testPosKey, body: walletBody });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'returns.final_sale');
    const notManager = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { ...walletBody, override: true } });
    assert.equal(notManager.status, 403);
    const overridden = await harness.request('POST', '/v1/returns', { body: { ...walletBody, override: true } });
    assert.equal(overridden.status, 201, JSON.stringify(overridden.body));

    // The rest, in two more returns.
    const rest1 = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: order.id, return_ref: 'R-3', lines: [{ order_line_id: aviator.id, quantity: 1 }, { order_line_id: beanie.id, quantity: 1 }] } });
    assert.equal(rest1.status, 201, JSON.stringify(rest1.body));
    const tooMany = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: order.id, return_ref: 'R-4', lines: [{ order_line_id: aviator.id, quantity: 2 }] } });
    assert.equal(tooMany.status, 422);
    assert.equal(tooMany.body.error.details.field, 'lines.0.quantity');
    const rest2 = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: order.id, return_ref: 'R-4', lines: [{ order_line_id: aviator.id, quantity: 1 }] } });
    assert.equal(rest2.status, 201, JSON.stringify(rest2.body));

    const refunded = [first, overridden, rest1, rest2].reduce((sum, response) => sum + response.body.data.total.amount_minor, 0);
    const after = (await harness.request('GET', `/v1/orders/${order.id}`)).body.data;
    assert.equal(refunded, order.total.amount_minor, 'every unit back: exactly the order total, never more');
    assert.equal(after.refunded.amount_minor, order.total.amount_minor);
    assert.equal(after.returns.length, 4, 'the order shows its returns');

    const earned = order.lines.reduce((sum: number, line: any) => sum + line.points_earned, 0);
    assert.equal(await available(), pointsAfterSale - earned + 100, 'the points the sale earned are taken back and the 100 redeemed come back');
    assert.equal((await sumLoyaltyEntries(engine.database.db, demo.merchant.id, customerId)).available, await available(), 'the ledger balances');
    const storeBeaniesAfter = (await getStockLevel(engine.database.db, demo.merchant.id, demo.store.id, await variantId(harness, 'SKU-BEANIE-01'))).onHand;
    assert.equal(storeBeaniesAfter, storeBeanies + 3, 'the beanies are back on the store shelf');
  });

  test(`[${dialect}] an online order returned in the store restocks there, sets the damaged unit aside, refunds shipping with the last item and pushes the refund to Shopify`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    // The fixture's order, placed a week ago (inside the 30-day return window).
    // Edited as text: JSON.parse would round the fixture's 18-digit ids.
    const recent = readFixture('shopify/orders-create.json').toString('utf8').replace(/"processed_at":\s*"[^"]*"/, `"processed_at":"${new Date(Date.now() - 7 * 86_400_000).toISOString()}"`);
    await harness.deliverShopifyFixture('shopify/orders-create.json', {}, Buffer.from(recent));
    await engine.worker.drain();
    const orders = (await harness.request('GET', '/v1/orders?q=jane.doe@example.com')).body.data;
    const online = (await harness.request('GET', `/v1/orders/${orders[0].id}`)).body.data;
    assert.equal(online.channel, 'online');
    const aviator = lineOf(online, 'SKU2006-001');
    const lounger = lineOf(online, 'SKU2006-020');
    const db = engine.database.db;
    const level = async (locationId: string, sku: string) => (await getStockLevel(db, demo.merchant.id, locationId, await variantId(harness, sku))).onHand;
    const before = { storeAviators: await level(demo.store.id, 'SKU2006-001'), warehouseAviators: await level(demo.warehouse.id, 'SKU2006-001'), storeLoungers: await level(demo.store.id, 'SKU2006-020') };

    const returned = await harness.request('POST', '/v1/returns', {
      key: testPosKey,
      body: { order_id: online.id, return_ref: 'STORE-R-1', location_id: demo.store.id, reason: 'Changed her mind', lines: [{ order_line_id: aviator.id, quantity: 1 }, { order_line_id: lounger.id, quantity: 1, disposition: 'damaged' }] },
    });
    assert.equal(returned.status, 201, JSON.stringify(returned.body));
    const data = returned.body.data;
    assert.equal(data.total.amount_minor, online.total.amount_minor, 'everything back: 252.98 with the shipping and its tax');
    assert.equal(data.shipping.amount_minor, 1000);
    assert.deepEqual(data.lines.map((line: any) => [line.went_to, line.location_id]), [['restocked', demo.store.id], ['damaged', demo.store.id]]);
    assert.equal(await level(demo.store.id, 'SKU2006-001'), before.storeAviators + 1, 'restocked at the store it was returned to');
    assert.equal(await level(demo.warehouse.id, 'SKU2006-001'), before.warehouseAviators, 'not at the warehouse that shipped it');
    assert.equal(await level(demo.store.id, 'SKU2006-020'), before.storeLoungers, 'the damaged lounger is not for sale');
    assert.equal(data.channel_refund.state, 'pending', 'the money goes back through Shopify, which took the payment');
    const outbox = await db.selectFrom('outbox_events').select(['destination', 'kind', 'payload']).where('merchant_id', '=', demo.merchant.id).where('kind', '=', 'refund.create').execute();
    assert.deepEqual(outbox.map((row) => [row.destination, JSON.parse(row.payload).return_id]), [['shopify', data.id]]);
  });

  test(`[${dialect}] a refund as store credit is spendable at the register, and a spend it does not cover changes nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'SC-1', location_id: demo.store.id, customer: { email: 'sam@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const order = sale.body.data.order;
    const returned = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: order.id, return_ref: 'SC-R', lines: [{ order_line_id: order.lines[0].id, quantity: 1 }], refund_method: 'store_credit' } });
    assert.equal(returned.status, 201, JSON.stringify(returned.body));
    const credit = 5650;
    assert.equal(returned.body.data.store_credit.amount_minor, credit, '50.00 and 13 % tax');
    const customerId: string = order.customer_id;
    const balance = await harness.request('GET', `/v1/customers/${customerId}/store-credit`);
    assert.equal(balance.body.data.balance.amount_minor, credit);

    const tooMuch = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'SC-2', location_id: demo.store.id, customer: { customer_id: customerId }, lines: [{ sku: 'SKU2006-001', quantity: 1 }], payments: [{ method: 'store_credit', amount_minor: 10169 }] } });
    assert.equal(tooMuch.status, 409, JSON.stringify(tooMuch.body));
    assert.equal(tooMuch.body.error.code, 'store_credit.insufficient_balance');
    const spend = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'SC-3', location_id: demo.store.id, customer: { customer_id: customerId }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], payments: [{ method: 'store_credit', amount_minor: 2824 }] } });
    assert.equal(spend.status, 201, JSON.stringify(spend.body));
    const db = engine.database.db;
    assert.equal((await getStoreCredit(db, demo.merchant.id, customerId, 'USD')).balanceMinor, credit - 2824);
    assert.equal(await sumStoreCreditEntries(db, demo.merchant.id, customerId), credit - 2824, 'the balance equals its ledger entries');

    // Her credit follows her through a merge with a second profile, and comes back with the unmerge.
    const other = await harness.request('POST', '/v1/customers', { body: { email: 'sam.work@example.com', first_name: 'Sam' } });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    const merged = await harness.request('POST', '/v1/customers/merge', { body: { survivor_id: other.body.data.id, merged_id: customerId } });
    assert.equal(merged.status, 201, JSON.stringify(merged.body));
    assert.equal((await getStoreCredit(db, demo.merchant.id, other.body.data.id, 'USD')).balanceMinor, credit - 2824);
    assert.equal((await getStoreCredit(db, demo.merchant.id, customerId, 'USD')).balanceMinor, 0);
    assert.equal((await harness.request('POST', `/v1/customers/merges/${merged.body.data.merge_id}/unmerge`)).status, 200);
    assert.equal((await getStoreCredit(db, demo.merchant.id, customerId, 'USD')).balanceMinor, credit - 2824, 'back with her after the unmerge');
    assert.equal(await sumStoreCreditEntries(db, demo.merchant.id, customerId), credit - 2824);
    assert.equal((await db.selectFrom('orders').select('id').where('merchant_id', '=', demo.merchant.id).where('order_number', '=', 'SC-2').execute()).length, 0, 'the refused sale left nothing behind');
  });
}

async function variantId(harness: TestEngine, sku: string): Promise<string> {
  const row = await harness.engine.database.db.selectFrom('variants').select('id').where('merchant_id', '=', harness.demo.merchant.id).where('sku', '=', sku).executeTakeFirstOrThrow();
  return row.id;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] exchanges: an even exchange leaves loyalty untouched, an uneven one charges or refunds only the difference, and both orders link`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    const db = engine.database.db;
    const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'EX-1', location_id: demo.store.id, customer: { email: 'ex@example.com' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 2 }, { sku: 'SKU-BEANIE-01', quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const order = sale.body.data.order;
    const customerId: string = order.customer_id;
    const wallet = lineOf(order, 'SKU-WALLET-01');
    const beanie = lineOf(order, 'SKU-BEANIE-01');
    const loyalty = async () => (await harness.request('GET', `/v1/customers/${customerId}/loyalty`)).body.data.available;
    const level = async (sku: string) => (await getStockLevel(db, demo.merchant.id, demo.store.id, await variantId(harness, sku))).onHand;
    const pointsBefore = await loyalty();
    const walletsBefore = await level('SKU-WALLET-01');

    // Even: one wallet for another wallet (a different colour would be a different SKU; the price is what matters).
    const even = await harness.request('POST', '/v1/exchanges', { key: testPosKey, body: { order_id: order.id, exchange_ref: 'EX-1-A', location_id: demo.store.id, return_lines: [{ order_line_id: wallet.id, quantity: 1 }], new_lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    assert.equal(even.status, 201, JSON.stringify(even.body));
    assert.equal(even.body.data.difference.amount_minor, 0);
    assert.equal(await loyalty(), pointsBefore, 'an even exchange leaves the balance untouched');
    assert.equal(await level('SKU-WALLET-01'), walletsBefore, 'one wallet back on the shelf, one out');
    const newOrder = even.body.data.new_order;
    assert.equal(newOrder.total.amount_minor, wallet.unit_price.amount_minor + wallet.tax.amount_minor / 2);
    assert.deepEqual(newOrder.payments.map((payment: any) => payment.method), ['exchange']);
    const originalView = (await harness.request('GET', `/v1/orders/${order.id}`)).body.data;
    assert.equal(originalView.returns[0].exchange_order_id, newOrder.id, 'the original shows the exchange');
    assert.equal((await harness.request('GET', `/v1/orders/${newOrder.id}`)).body.data.exchange_of_order_id, order.id, 'and the new order the original');
    assert.equal((await harness.request('POST', '/v1/exchanges', { key: testPosKey, body: { order_id: order.id, exchange_ref: 'EX-1-A', location_id: demo.store.id, return_lines: [{ order_line_id: wallet.id, quantity: 1 }], new_lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } })).status, 200, 'sent again: nothing more');

    // Up: the beanie (24.99) for sunglasses (89.99): the shopper pays the difference, and earns only on it.
    const aviatorPrice = 8999;
    const difference = Math.round((aviatorPrice - 2499) * 1.13);
    const up = await harness.request('POST', '/v1/exchanges', { key: testPosKey, body: { order_id: order.id, exchange_ref: 'EX-1-B', location_id: demo.store.id, return_lines: [{ order_line_id: beanie.id, quantity: 1 }], new_lines: [{ sku: 'SKU2006-001', quantity: 1 }], payments: [{ method: 'card', amount_minor: difference }] } });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.data.difference.amount_minor, difference);
    const afterUp = await loyalty();
    assert.equal(afterUp - pointsBefore, up.body.data.new_order.lines[0].points_earned - beanie.points_earned, 'only the extra value earns');

    // Down: the remaining wallet (50.00) for a beanie (24.99): the difference comes back as store credit.
    const down = await harness.request('POST', '/v1/exchanges', { key: testPosKey, body: { order_id: order.id, exchange_ref: 'EX-1-C', location_id: demo.store.id, return_lines: [{ order_line_id: wallet.id, quantity: 1 }], new_lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }], refund_method: 'store_credit' } });
    assert.equal(down.status, 201, JSON.stringify(down.body));
    assert.ok(down.body.data.difference.amount_minor < 0);
    assert.equal(down.body.data.return.store_credit.amount_minor, -down.body.data.difference.amount_minor, 'the difference is refunded as store credit');
    assert.equal((await getStoreCredit(db, demo.merchant.id, customerId, 'USD')).balanceMinor, -down.body.data.difference.amount_minor);
    assert.equal((await sumLoyaltyEntries(db, demo.merchant.id, customerId)).available, await loyalty(), 'the ledger balances');
  });
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a refused return names the field and the rule and writes nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { engine, demo } = harness;
    const db = engine.database.db;
    const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'BAD-1', location_id: demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
    const order = sale.body.data.order;
    const lineId: string = order.lines[0].id;
    const tables = ['returns', 'return_lines', 'stock_movements', 'loyalty_transactions', 'loyalty_entries', 'store_credit_accounts', 'outbox_events'] as const;
    const state = async () => {
      const counts: Record<string, number> = {};
      for (const table of tables) counts[table] = Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()).count);
      const held = await db.selectFrom('order_lines').select('returned_quantity').where('id', '=', lineId).executeTakeFirstOrThrow();
      return { counts, returned: held.returned_quantity, refunded: (await harness.request('GET', `/v1/orders/${order.id}`)).body.data.refunded.amount_minor };
    };
    const before = await state();
    const refused = async (body: Record<string, unknown>, status: number, code: string, field?: string) => {
      const response = await harness.request('POST', '/v1/returns', { key: testPosKey, body: { order_id: order.id, lines: [{ order_line_id: lineId, quantity: 1 }], ...body } });
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.error.code, code);
      if (field) assert.equal(response.body.error.details.field, field);
      assert.deepEqual(await state(), before, `${code}: nothing written`);
    };
    await refused({ lines: [{ order_line_id: lineId, quantity: 2 }] }, 422, 'returns.quantity_exceeds_purchase', 'lines.0.quantity');
    await refused({ lines: [{ order_line_id: 'line_nope', quantity: 1 }] }, 422, 'returns.unknown_line', 'lines.0.order_line_id');
    await refused({ lines: [{ order_line_id: lineId, quantity: 0 }] }, 400, 'request.invalid');
    await refused({ refund_method: 'store_credit' }, 422, 'returns.customer_required', 'refund_method');
    await refused({ order_id: 'ord_nope' }, 404, 'orders.not_found');
    await refused({ location_id: 'loc_nope' }, 404, 'locations.not_found');
    await engine.database.db.updateTable('orders').set({ placed_at: '2020-01-01T00:00:00.000Z' }).where('id', '=', order.id).execute();
    await refused({}, 422, 'returns.window_closed', 'override');
  });
}
