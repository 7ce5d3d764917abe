import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idempotencyClaimLeaseMs } from '../../src/http/idempotency.ts';
import { createTestClock, installClock, nowIso } from '../../src/shared/clock.ts';
import { DIALECTS } from '../support/databases.ts';
import { startTestEngine, testPosKey } from '../support/engine-harness.ts';

// Regression (issue #9, found by thinking through test/faults/kill-9.test.ts): a process killed
// between claiming an Idempotency-Key and keeping its answer left the claim `in_progress` for ever,
// so the register's retries with the same key got 409 `idempotency.in_progress` with no end, and
// the sale could never be confirmed. A claim older than the lease is now taken over by the retry,
// which runs the request again; the sale's own id makes that safe (it was recorded, or it was not).

for (const dialect of DIALECTS) {
  test(`[${dialect}] an Idempotency-Key claimed by a process that died is taken over by the retry once the ${idempotencyClaimLeaseMs / 1000} s lease has passed, and the sale is recorded once`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    const body = { sale_id: 'CRASH-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] };
    const sale = () => harness.request('POST', '/v1/pos/sales', { key: testPosKey, body, headers: { 'idempotency-key': 'register-1-crash' } });

    // The first attempt: the sale committed, then the process died before keeping the answer.
    const committed = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body });
    assert.equal(committed.status, 201);
    const first = await sale();
    assert.equal(first.status, 200, 'the same sale id again is the sale already recorded');
    await db.updateTable('idempotency_keys').set({ state: 'in_progress', response_status: null, response_body: null, created_at: nowIso() }).where('merchant_id', '=', merchantId).where('key', '=', 'register-1-crash').execute();

    const tooSoon = await sale();
    assert.equal(tooSoon.status, 409, 'while the claim may still be running, the retry waits');
    assert.equal(tooSoon.body.error.code, 'idempotency.in_progress');

    clock.advance(idempotencyClaimLeaseMs + 1_000);
    const retried = await sale();
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.data.order.id, committed.body.data.order.id, 'the retry is answered with the sale recorded before the crash');
    const replayed = await sale();
    assert.equal(replayed.headers['idempotent-replayed'], 'true', 'and its answer is kept for the next retry');
    const orders = await db.selectFrom('orders').select('id').where('merchant_id', '=', merchantId).where('source_ref', 'like', '%CRASH-1').execute();
    assert.equal(orders.length, 1);
  });
}
