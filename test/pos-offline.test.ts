import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getLoyaltyBalance, listLots, sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { findVariantBySku } from '../src/catalog/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// Registers that were offline upload what they did (issue #7, docs/pos-offline.md): each operation
// applies once, in the order it happened, and a sale is never refused because it happened; what it
// conflicts with is applied and raised for a person.

const LOUNGER = 'SKU2006-020';
const WALLET = 'SKU-WALLET-01';
const BEANIE = 'SKU-BEANIE-01';

async function enrol(harness: TestEngine, email: string, points: number): Promise<string> {
  const created = await harness.request('POST', '/v1/customers', { key: testPosKey, body: { email, first_name: 'Ana' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.data.id as string;
  if (points > 0) {
    const adjusted = await harness.request('POST', `/v1/customers/${id}/loyalty/adjustments`, { body: { points, reason: 'opening balance' } });
    assert.equal(adjusted.status, 201, JSON.stringify(adjusted.body));
  }
  return id;
}

async function upload(harness: TestEngine, registerId: string, ops: unknown[]) {
  const response = await harness.request('POST', '/v1/pos/uploads', { key: testPosKey, body: { register_id: registerId, location_id: harness.demo.store.id, ops } });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.data as { results: { op_id: string; status: string; order_id?: string; customer_id?: string; conflicts: { kind: string }[]; notes: { kind: string }[]; error?: { code: string }; points_earned?: number }[]; summary: Record<string, number> };
}

/** A one-line sale as a register charges it offline: its own price, the reward's amount off, 13 % tax on the rest. */
function saleOp(opId: string, occurredAt: string, input: { sku: string; unitPriceMinor: number; quantity?: number; customer?: Record<string, string>; rewards?: { reward: string; amount_minor: number }[]; sequence?: number }) {
  const quantity = input.quantity ?? 1;
  const discount = (input.rewards ?? []).reduce((sum, reward) => sum + reward.amount_minor, 0);
  const tax = Math.round((input.unitPriceMinor * quantity - discount) * 0.13);
  return {
    op_id: opId, sequence: input.sequence ?? 1, occurred_at: occurredAt, type: 'sale', ...(input.customer ? { customer: input.customer } : {}),
    lines: [{ sku: input.sku, quantity, unit_price_minor: input.unitPriceMinor, discount_minor: discount, tax_minor: tax }],
    rewards: input.rewards ?? [], total_minor: input.unitPriceMinor * quantity - discount + tax,
  };
}

async function storeLevel(harness: TestEngine, sku: string) {
  const rows = (await harness.request('GET', `/v1/inventory?sku=${sku}`)).body.data as { location_id: string; on_hand: number; available: number }[];
  return rows.find((row) => row.location_id === harness.demo.store.id)!;
}

/** The stock level equals the sum of its movements: nothing moved without a movement. */
async function assertStockMatchesMovements(harness: TestEngine, sku: string): Promise<void> {
  const db = harness.engine.database.db;
  const variant = await findVariantBySku(db, harness.demo.merchant.id, sku);
  assert.ok(variant);
  const row = await db.selectFrom('stock_movements').select((eb) => eb.fn.sum<number>('on_hand_delta').as('total')).where('merchant_id', '=', harness.demo.merchant.id).where('location_id', '=', harness.demo.store.id).where('variant_id', '=', variant.id).executeTakeFirstOrThrow();
  assert.equal((await storeLevel(harness, sku)).on_hand, Number(row.total), `${sku}: on hand is the sum of its movements`);
}

/** The cached balance is the sum of the ledger's entries, and the lots hold what she can spend. */
async function assertLedgerBalanced(harness: TestEngine, customerId: string): Promise<{ available: number }> {
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  const balance = await getLoyaltyBalance(db, merchantId, customerId, 'Member');
  const sums = await sumLoyaltyEntries(db, merchantId, customerId);
  assert.deepEqual({ available: balance.available, pending: balance.pending }, sums, 'the balance is the sum of the entries');
  const lots = (await listLots(db, merchantId, customerId)).filter((lot) => lot.pending === 0).reduce((sum, lot) => sum + lot.remaining, 0);
  assert.equal(lots, Math.max(balance.available, 0), 'available lots hold max(available, 0)');
  return { available: balance.available };
}

async function enrolPoints(harness: TestEngine, customerId: string, points: number): Promise<void> {
  const adjusted = await harness.request('POST', `/v1/customers/${customerId}/loyalty/adjustments`, { body: { points, reason: 'opening balance' } });
  assert.equal(adjusted.status, 201, JSON.stringify(adjusted.body));
}

async function offlineExceptions(harness: TestEngine) {
  return (await harness.request('GET', '/v1/exceptions?kind=offline_conflict')).body.data as { subject: string; details: Record<string, any> }[];
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] two registers offline sell the last unit and redeem the same reward: both sales are recorded, each conflict raised, ledgers balanced`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const reward = await harness.request('POST', '/v1/rewards', { body: { code: 'TEN-OFF', name: '$10 off', points_cost: 500, amount_off_minor: 1000 } });
    assert.equal(reward.status, 201);
    const ana = await enrol(harness, 'ana@example.com', 500);
    assert.equal((await storeLevel(harness, LOUNGER)).on_hand, 1, 'the store holds one lounger');

    // Both registers lost the connection, and each sold Ana the lounger with her $10 reward.
    const saleA = saleOp('A-1', '2026-11-20T15:00:00Z', { sku: LOUNGER, unitPriceMinor: 15999, customer: { customer_id: ana }, rewards: [{ reward: 'TEN-OFF', amount_minor: 1000 }] });
    const saleB = saleOp('B-1', '2026-11-20T15:02:00-00:00', { sku: LOUNGER, unitPriceMinor: 15999, customer: { customer_id: ana }, rewards: [{ reward: 'TEN-OFF', amount_minor: 1000 }] });
    const first = await upload(harness, 'REG-A', [saleA]);
    assert.deepEqual(first.results.map((result) => [result.status, result.conflicts.length]), [['applied', 0]]);
    const second = await upload(harness, 'REG-B', [saleB]);
    const [result] = second.results;
    assert.equal(result?.status, 'applied', 'the sale happened: it is recorded');
    assert.deepEqual(result?.conflicts.map((conflict) => conflict.kind).sort(), ['oversold', 'points_overdrawn']);

    const orders = await harness.engine.database.db.selectFrom('orders').select(['source_ref', 'total_minor', 'customer_id']).where('source', '=', 'pos').orderBy('source_ref').execute();
    assert.deepEqual(orders.map((order) => [order.source_ref, Number(order.total_minor), order.customer_id]), [['REG-A:A-1', 16949, ana], ['REG-B:B-1', 16949, ana]], 'both at the price the register charged');
    assert.deepEqual(await storeLevel(harness, LOUNGER), { location_id: harness.demo.store.id, sku: LOUNGER, on_hand: -1, reserved: 0, safety: 0, available: -1 });
    await assertStockMatchesMovements(harness, LOUNGER);
    // 500 − 500 + 149 (A) − 500 + 149 (B): the second redemption left a debt that her earnings pay first.
    assert.deepEqual(await assertLedgerBalanced(harness, ana), { available: -202 });

    const exceptions = await offlineExceptions(harness);
    assert.equal(exceptions.length, 1, 'one case per operation with conflicts');
    assert.equal(exceptions[0]?.subject, result?.order_id);
    assert.equal(exceptions[0]?.details.register_id, 'REG-B');
    assert.deepEqual(exceptions[0]?.details.conflicts.map((conflict: { kind: string }) => conflict.kind).sort(), ['oversold', 'points_overdrawn']);
    const overdrawn = exceptions[0]?.details.conflicts.find((conflict: { kind: string }) => conflict.kind === 'points_overdrawn');
    assert.deepEqual(overdrawn, { kind: 'points_overdrawn', reward: 'TEN-OFF', points: 500, balanceAfter: -351, pointsForgiven: 0 });

    // The channels are told the store has nothing left of the lounger.
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity('gid://shopify/InventoryItem/271878346596884016', 'gid://shopify/Location/24826419'), 0);
  });

  test(`[${dialect}] a merchant who keeps balances at zero or above has an offline overdraw forgiven, still recorded and raised`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const merchant = await db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
    const settings = JSON.parse(merchant.settings_json);
    await db.updateTable('merchants').set({ settings_json: JSON.stringify({ ...settings, loyalty: { ...settings.loyalty, allowNegativeBalance: false } }) }).where('id', '=', harness.demo.merchant.id).execute();
    const ana = await enrol(harness, 'ana@example.com', 100);
    const redeem = (opId: string, minute: number) => ({ op_id: opId, sequence: minute, occurred_at: `2026-11-20T15:0${minute}:00Z`, type: 'reward_redemption', customer: { customer_id: ana }, reward: '5-OFF' });
    await upload(harness, 'REG-A', [redeem('A-1', 1)]);
    const { results } = await upload(harness, 'REG-B', [redeem('B-1', 2)]);
    assert.deepEqual(results.map((result) => [result.status, result.conflicts]), [['applied', [{ kind: 'points_overdrawn', reward: '5-OFF', points: 100, balanceAfter: 0, pointsForgiven: 100 }]]]);
    assert.deepEqual(await assertLedgerBalanced(harness, ana), { available: 0 });
    assert.equal((await offlineExceptions(harness)).length, 1);
  });

  test(`[${dialect}] a reward an offline register handed over without a sale counts in its limits: a live sale past the limit is refused, another handover is a conflict, the count follows her through a merge and back, and the report counts it in the store`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const ana = await enrol(harness, 'ana@example.com', 100);
    const defined = await harness.request('POST', '/v1/rewards', { body: { code: 'COFFEE', name: 'Free coffee', points_cost: 10, kind: 'amount_off', amount_off_minor: 300, per_customer_max: 1 } });
    assert.equal(defined.status, 201, JSON.stringify(defined.body));
    const handOver = (opId: string, customer: Record<string, string>) => ({ op_id: opId, sequence: 1, occurred_at: '2026-11-20T15:00:00Z', type: 'reward_redemption', customer, reward: 'COFFEE' });
    const first = await upload(harness, 'REG-A', [handOver('H-1', { customer_id: ana })]);
    assert.deepEqual(first.results.map((result) => [result.status, result.conflicts]), [['applied', []]]);

    // Back online, the register cannot give her the coffee again on a sale: she had her one.
    const live = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { register_id: 'REG-A', location_id: harness.demo.store.id, sale_id: 'L-1', customer: { customer_id: ana }, lines: [{ sku: BEANIE, quantity: 1 }], rewards: ['COFFEE'] } });
    assert.equal(live.status, 409, JSON.stringify(live.body));
    assert.deepEqual([live.body.error.code, live.body.error.details.limit, live.body.error.details.used], ['loyalty.reward_limit_reached', 'per_customer_max', 1]);
    // Another register, offline too, hands it over again: applied as it happened, raised as a conflict.
    const second = await upload(harness, 'REG-B', [{ ...handOver('H-2', { customer_id: ana }), occurred_at: '2026-11-20T15:30:00Z' }]);
    assert.deepEqual(second.results[0]?.conflicts.map((conflict) => [conflict.kind, (conflict as { limit?: string }).limit]), [['reward_limit', 'per_customer_max']]);
    assert.deepEqual(await assertLedgerBalanced(harness, ana), { available: 80 });

    // Her other profile, made at a register by phone, had not had one; merged into Ana's, it has.
    const other = await harness.request('POST', '/v1/customers', { key: testPosKey, body: { phone: '+14165550199', first_name: 'Ana' } });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    const otherId = other.body.data.id as string;
    const merge = await harness.request('POST', '/v1/customers/merge', { body: { survivor_id: otherId, merged_id: ana, reason: 'same shopper' } });
    assert.equal(merge.status, 201, JSON.stringify(merge.body));
    const onSurvivor = await harness.request('POST', `/v1/customers/${otherId}/rewards/COFFEE/redeem`, { key: testPosKey });
    assert.deepEqual([onSurvivor.status, onSurvivor.body.error?.details?.used], [409, 2], 'the handovers moved with her');
    const unmerged = await harness.request('POST', `/v1/customers/merges/${merge.body.data.merge_id}/unmerge`);
    assert.equal(unmerged.status, 200, JSON.stringify(unmerged.body));
    await enrolPoints(harness, otherId, 10);
    const backApart = await harness.request('POST', `/v1/customers/${otherId}/rewards/COFFEE/redeem`, { key: testPosKey });
    assert.equal(backApart.status, 201, `unmerged, the phone profile has had none: ${JSON.stringify(backApart.body)}`);

    const report = await harness.request('GET', '/v1/reports/rewards?from=2026-11-01&to=2026-11-30');
    assert.deepEqual(report.body.data.filter((row: { reward_code: string }) => row.reward_code === 'COFFEE'), [{ channel: 'store', reward_code: 'COFFEE', redemptions: 2, points: 20 }], 'the two handovers, in the store');
  });

  test(`[${dialect}] an exchange made offline: the wallet back on the shelf, the beanie given as the register charged it, only the difference refunded, points carried; outside the window it is applied as the associate decided and raised; uploaded again it changes nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const ana = await enrol(harness, 'ana@example.com', 0);
    const wallets = await storeLevel(harness, WALLET);
    const beanies = await storeLevel(harness, BEANIE);
    const beanieTax = Math.round(2499 * 0.13);
    const exchangeOp = (opId: string, occurredAt: string, lineNumber: number) => ({
      op_id: opId, sequence: 1, occurred_at: occurredAt, type: 'exchange', sale: { sale_id: 'S-1' },
      return_lines: [{ line_number: lineNumber, quantity: 1 }], new_lines: [{ sku: BEANIE, quantity: 1, unit_price_minor: 2499, tax_minor: beanieTax }],
    });
    const sale = saleOp('S-1', '2026-08-01T10:00:00Z', { sku: WALLET, unitPriceMinor: 5000, quantity: 2, customer: { customer_id: ana } });
    const first = await upload(harness, 'REG-A', [sale, exchangeOp('X-1', '2026-08-10T10:00:00Z', 1)]);
    assert.deepEqual(first.results.map((result) => [result.op_id, result.status, result.conflicts]), [['S-1', 'applied', []], ['X-1', 'applied', []]]);
    const exchanged = first.results[1] as unknown as { order_id: string; return_id: string; customer_id: string; points_carried: number; difference_minor: number };
    const walletPaid = 5000 + Math.round(5000 * 0.13);
    assert.equal(exchanged.difference_minor, 2499 + beanieTax - walletPaid, 'the beanie costs less than the wallet');
    assert.equal(exchanged.customer_id, ana);
    const newOrder = (await harness.request('GET', `/v1/orders/${exchanged.order_id}`)).body.data;
    assert.deepEqual(newOrder.payments.map((payment: { method: string; amount: { amount_minor: number } }) => [payment.method, payment.amount.amount_minor]), [['exchange', 2499 + beanieTax]]);
    assert.equal(newOrder.exchange_of_order_id, first.results[0]?.order_id);
    const returned = (await harness.request('GET', `/v1/returns/${exchanged.return_id}`)).body.data;
    assert.equal(returned.total.amount_minor, walletPaid);
    assert.ok(exchanged.points_carried > 0, 'the beanie carries points the wallet earned');
    assert.deepEqual([(await storeLevel(harness, WALLET)).on_hand, (await storeLevel(harness, BEANIE)).on_hand], [wallets.on_hand - 1, beanies.on_hand - 1], 'two wallets sold, one back; one beanie given');

    // The other wallet, exchanged 111 days after the sale: past the 30-day window, the associate's call stands.
    const late = await upload(harness, 'REG-A', [exchangeOp('X-2', '2026-11-20T10:00:00Z', 1)]);
    assert.deepEqual(late.results[0]?.conflicts.map((conflict) => [conflict.kind, (conflict as { code?: string }).code]), [['return_outside_policy', 'returns.window_closed']]);
    assert.equal((await offlineExceptions(harness)).length, 1);
    await assertStockMatchesMovements(harness, WALLET);
    await assertStockMatchesMovements(harness, BEANIE);
    await assertLedgerBalanced(harness, ana);

    const again = await upload(harness, 'REG-A', [sale, exchangeOp('X-1', '2026-08-10T10:00:00Z', 1), exchangeOp('X-2', '2026-11-20T10:00:00Z', 1)]);
    assert.deepEqual(again.results.map((result) => result.status), ['replayed', 'replayed', 'replayed']);
    assert.equal((await storeLevel(harness, BEANIE)).on_hand, beanies.on_hand - 2, 'nothing moved again');
  });

  test(`[${dialect}] operations apply in the order they happened, whatever order they are uploaded in`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    // At 10:00 she bought two wallets (100 points); at 10:05 she spent 100 points on the $5 reward.
    const redemption = { op_id: 'R-2', sequence: 2, occurred_at: '2026-11-20T10:05:00Z', type: 'reward_redemption', customer: { email: 'bea@example.com' }, reward: '5-OFF' };
    const sale = saleOp('S-1', '2026-11-20T05:00:00-05:00', { sku: WALLET, unitPriceMinor: 5000, quantity: 2, customer: { email: 'bea@example.com', first_name: 'Bea' }, sequence: 1 });
    // The same instant as the redemption, earlier by the register's sequence.
    const beanie = saleOp('S-0', '2026-11-20T10:05:00Z', { sku: BEANIE, unitPriceMinor: 2499, sequence: 1 });
    const { results, summary } = await upload(harness, 'REG-A', [redemption, beanie, sale]);
    assert.deepEqual(results.map((result) => result.op_id), ['S-1', 'S-0', 'R-2'], 'by time, then by the register sequence');
    assert.deepEqual(results.map((result) => [result.status, result.conflicts.length]), [['applied', 0], ['applied', 0], ['applied', 0]], 'the points were there when she spent them');
    assert.deepEqual(summary, { applied: 3, replayed: 0, failed: 0, with_conflicts: 0 });
    const bea = results[0]?.customer_id;
    assert.ok(bea);
    assert.equal(results[2]?.customer_id, bea, 'the redemption found the profile the sale created, by her email');
    assert.deepEqual(await assertLedgerBalanced(harness, bea), { available: 0 });
    assert.equal((await offlineExceptions(harness)).length, 0);
  });

  test(`[${dialect}] uploading the same batch again changes nothing and answers the first results; the same id with other contents is refused`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const ana = await enrol(harness, 'ana@example.com', 100);
    const ops = [
      saleOp('A-1', '2026-11-20T15:00:00Z', { sku: LOUNGER, unitPriceMinor: 15999, customer: { customer_id: ana } }),
      saleOp('A-2', '2026-11-20T15:01:00Z', { sku: LOUNGER, unitPriceMinor: 15999, customer: { customer_id: ana }, rewards: [{ reward: '5-OFF', amount_minor: 500 }] }),
      { op_id: 'A-3', sequence: 3, occurred_at: '2026-11-20T15:10:00Z', type: 'return', sale: { sale_id: 'A-1' }, lines: [{ line_number: 1, quantity: 1 }] },
    ];
    const first = await upload(harness, 'REG-A', ops);
    assert.deepEqual(first.results.map((result) => [result.op_id, result.status]), [['A-1', 'applied'], ['A-2', 'applied'], ['A-3', 'applied']]);
    assert.deepEqual(first.results[1]?.conflicts.map((conflict) => conflict.kind), ['oversold']);
    const snapshot = async () => ({
      level: await storeLevel(harness, LOUNGER),
      loyalty: await assertLedgerBalanced(harness, ana),
      orders: (await harness.engine.database.db.selectFrom('orders').select('id').execute()).length,
      returns: (await harness.engine.database.db.selectFrom('returns').select('id').execute()).length,
      exceptions: (await offlineExceptions(harness)).length,
      outbox: (await harness.engine.database.db.selectFrom('outbox_events').select('id').execute()).length,
    });
    const before = await snapshot();
    assert.equal(before.level.on_hand, 0, 'two sold, one returned and restocked');

    const again = await upload(harness, 'REG-A', [...ops].reverse());
    assert.deepEqual(again.results.map((result) => [result.op_id, result.status]), [['A-1', 'replayed'], ['A-2', 'replayed'], ['A-3', 'replayed']]);
    assert.deepEqual(again.results.map(({ status: _status, ...rest }) => rest), first.results.map(({ status: _status, ...rest }) => rest), 'the first answers');
    assert.deepEqual(await snapshot(), before, 'nothing changed');

    const altered = await upload(harness, 'REG-A', [{ ...ops[0], lines: [{ sku: WALLET, quantity: 1, unit_price_minor: 5000 }], total_minor: 5000 }]);
    assert.equal(altered.results[0]?.status, 'failed');
    assert.equal(altered.results[0]?.error?.code, 'pos.op_id_reused');
    assert.deepEqual(await snapshot(), before);
    await assertStockMatchesMovements(harness, LOUNGER);
  });

  test(`[${dialect}] a customer merged while the register was offline: the sale and its points land on the surviving profile`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const old = await enrol(harness, 'ana.old@example.com', 0);
    const survivor = await enrol(harness, 'ana@example.com', 0);
    const merged = await harness.request('POST', '/v1/customers/merge', { body: { survivor_id: survivor, merged_id: old } });
    assert.equal(merged.status, 201, JSON.stringify(merged.body));

    const { results } = await upload(harness, 'REG-A', [saleOp('A-1', '2026-11-20T15:00:00Z', { sku: WALLET, unitPriceMinor: 5000, customer: { customer_id: old } })]);
    assert.equal(results[0]?.status, 'applied');
    assert.equal(results[0]?.customer_id, survivor);
    assert.deepEqual(results[0]?.notes, [{ kind: 'customer_merged', named_customer_id: old, customer_id: survivor, merged_from: [old] }]);
    assert.equal(results[0]?.points_earned, 50);
    assert.deepEqual(await assertLedgerBalanced(harness, survivor), { available: 50 });
    assert.deepEqual(await assertLedgerBalanced(harness, old), { available: 0 });
    assert.equal((await offlineExceptions(harness)).length, 0, 'nothing for a person to decide');
  });

  test(`[${dialect}] an operation that cannot be recorded fails alone, writes nothing, is raised, and applies when uploaded again once fixed`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const wrongTotal = { ...saleOp('A-1', '2026-11-20T15:00:00Z', { sku: WALLET, unitPriceMinor: 5000 }), total_minor: 1 };
    const unknownSku = saleOp('A-2', '2026-11-20T15:01:00Z', { sku: 'SKU-NOT-YET', unitPriceMinor: 1000 });
    const fine = saleOp('A-3', '2026-11-20T15:02:00Z', { sku: BEANIE, unitPriceMinor: 2499 });
    const { results } = await upload(harness, 'REG-A', [wrongTotal, unknownSku, fine]);
    assert.deepEqual(results.map((result) => [result.op_id, result.status, result.error?.code ?? null]), [['A-1', 'failed', 'pos.invalid_totals'], ['A-2', 'failed', 'catalog.unknown_sku'], ['A-3', 'applied', null]]);
    assert.equal((await storeLevel(harness, WALLET)).on_hand, 8, 'the failed sale moved nothing');
    const raised = await offlineExceptions(harness);
    assert.deepEqual(raised.map((exception) => exception.details.error.code).sort(), ['catalog.unknown_sku', 'pos.invalid_totals']);

    const product = await harness.request('POST', '/v1/products', { body: { title: 'New scarf', variants: [{ sku: 'SKU-NOT-YET', title: 'New scarf', price_minor: 1000 }] } });
    assert.equal(product.status, 201, JSON.stringify(product.body));
    const retried = await upload(harness, 'REG-A', [unknownSku]);
    assert.equal(retried.results[0]?.status, 'applied', 'applied once the SKU exists');
    assert.deepEqual(retried.results[0]?.conflicts.map((conflict) => conflict.kind), ['oversold'], 'none was on the shelf here');
  });

  test(`[${dialect}] a promotion used offline past its limit is recorded as the register priced it and raised`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const created = await harness.request('POST', '/v1/promotions', { body: { code: 'ONCE20', name: 'Once, 20 % off', kind: 'percent_off_order', value: 2000, usage_limit_total: 1 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // Each register gave 20 % off a wallet (1000 of 5000), not knowing the other did.
    const withPromotion = (opId: string, minute: number) => ({ ...saleOp(opId, `2026-11-20T15:0${minute}:00Z`, { sku: WALLET, unitPriceMinor: 5000 }), lines: [{ sku: WALLET, quantity: 1, unit_price_minor: 5000, discount_minor: 1000, tax_minor: 520 }], promotions: [{ promotion: 'ONCE20', amount_minor: 1000 }], total_minor: 4520 });
    await upload(harness, 'REG-A', [withPromotion('A-1', 1)]);
    const { results } = await upload(harness, 'REG-B', [withPromotion('B-1', 2)]);
    assert.equal(results[0]?.status, 'applied');
    assert.deepEqual(results[0]?.conflicts, [{ kind: 'promotion_limit', promotion: 'ONCE20', limit: 'usage_limit_total', max: 1, used: 1 }]);
    const order = (await harness.request('GET', `/v1/orders/${results[0]?.order_id}`)).body.data;
    assert.equal(order.total.amount_minor, 4520, 'at the price the register charged');
    assert.equal((await offlineExceptions(harness)).length, 1);
    const usage = await harness.engine.database.db.selectFrom('promotion_redemptions').select('order_id').execute();
    assert.equal(usage.length, 2, 'both uses are counted');
  });

  test(`[${dialect}] an offline return outside the window is applied as the associate decided and raised; the upload needs a pos key`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'LIVE-1', register_id: 'REG-A', location_id: harness.demo.store.id, occurred_at: '2026-01-02T10:00:00Z', lines: [{ sku: BEANIE, quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    const returnOp = { op_id: 'A-9', sequence: 9, occurred_at: '2026-03-20T10:00:00Z', type: 'return', order_id: sale.body.data.order.id, lines: [{ line_number: 1, quantity: 1 }], reason: 'gift' };
    const { results } = await upload(harness, 'REG-A', [returnOp]);
    assert.equal(results[0]?.status, 'applied');
    assert.deepEqual(results[0]?.conflicts.map((conflict) => conflict.kind), ['return_outside_policy']);
    assert.equal((await storeLevel(harness, BEANIE)).on_hand, 12, 'sold and taken back');

    const unauthenticated = await harness.request('POST', '/v1/pos/uploads', { key: '', body: { register_id: 'REG-A', location_id: harness.demo.store.id, ops: [returnOp] } });
    assert.equal(unauthenticated.status, 401);
    const invalid = await harness.request('POST', '/v1/pos/uploads', { key: testPosKey, body: { register_id: 'REG-A', location_id: harness.demo.store.id, ops: [{ ...returnOp, occurred_at: 'yesterday' }] } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'request.invalid');
  });
}
