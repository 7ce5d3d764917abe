import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { createTestClock, installClock } from '../shared/clock.ts';
import { admitDelivery, circuitCooldownAfter, circuitCooldownMs, circuitCooldownMsMax, circuitFailuresToOpen, recordCircuitFailure, recordCircuitSuccess } from './channel-circuits.ts';
import { eraseMerchantData } from '../commands/erase-merchant-data.ts';
import { createMerchant } from '../merchants/index.ts';
import { claimDueOutboxEvents, deferOutboxAbsorbs, enqueueOutbox, flushOutboxAbsorbs, outboxRetryDelayMs, outboxRetryDelaysMs, outboxRetryJitterFraction, releaseOutboxClaim } from './outbox.ts';

// The outbox's own rules, below the worker: the retry schedule, the circuit breaker's cooldowns and
// single probe, claims that leave an open circuit's messages alone, and coalescing that cannot lose
// a change to a claim that read the state before the change committed.

const merchantId = 'mer_outbox_test';
const hourMs = 3_600_000;

test('the retry schedule: each step within its jitter, about a day in total, then nothing', () => {
  for (const [index, stepMs] of outboxRetryDelaysMs.entries()) {
    const attempts = index + 1;
    assert.equal(outboxRetryDelayMs(attempts, 0.5), stepMs);
    assert.ok(outboxRetryDelayMs(attempts, 0)! >= stepMs * (1 - outboxRetryJitterFraction));
    assert.ok(outboxRetryDelayMs(attempts, 0.999_999)! <= stepMs * (1 + outboxRetryJitterFraction));
    if (index > 0) assert.ok(stepMs >= outboxRetryDelaysMs[index - 1]!, 'the steps never shrink');
  }
  assert.equal(outboxRetryDelayMs(outboxRetryDelaysMs.length + 1, 0.5), undefined, 'after the last step the message is dead');
  const totalMs = outboxRetryDelaysMs.reduce((sum, stepMs) => sum + stepMs, 0);
  assert.ok(totalMs > 20 * hourMs && totalMs < 28 * hourMs, `about a day (${totalMs / hourMs} h)`);
  assert.throws(() => outboxRetryDelayMs(0, 0.5), /at least one attempt/);
  assert.throws(() => outboxRetryDelayMs(1, 1), /random/);
});

test('a circuit cools down 30 s after it opens, twice as long after each failed probe, ten minutes at most', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 40].map(circuitCooldownAfter), [30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
  assert.equal(circuitCooldownAfter(1), circuitCooldownMs);
  assert.equal(circuitCooldownAfter(100), circuitCooldownMsMax);
  assert.throws(() => circuitCooldownAfter(0));
});

for (const dialect of DIALECTS) {
  test(`[${dialect}] a circuit opens after ${circuitFailuresToOpen} failures in a row, holds its messages back without counting them, lets exactly one probe through after the cooldown, and closes on success`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const circuit = { merchant_id: merchantId, circuit_key: 'shopify', destination: 'shopify' };
    for (let failure = 1; failure < circuitFailuresToOpen; failure += 1) assert.deepEqual(await recordCircuitFailure(db, circuit, 'down', false), { state: 'closed', opened: false });
    assert.equal(await recordCircuitSuccess(db, circuit), false, 'a success before the threshold resets the count of a closed circuit');
    for (let failure = 1; failure < circuitFailuresToOpen; failure += 1) await recordCircuitFailure(db, circuit, 'down', false);
    assert.deepEqual(await recordCircuitFailure(db, circuit, 'down', false), { state: 'open', opened: true });

    await enqueueOutbox(db, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey: null, payload: {} });
    await enqueueOutbox(db, merchantId, { destination: 'square', kind: 'inventory.push', coalesceKey: null, payload: {} });
    const claimed = await claimDueOutboxEvents(db, 'worker-a#1');
    assert.deepEqual(claimed.map((event) => event.destination), ['square'], 'the open circuit\'s message is not claimed; the other circuit is not held back');
    await releaseOutboxClaim(db, claimed[0]!);

    clock.advance(circuitCooldownMs + 1);
    const admissions = await Promise.all(Array.from({ length: 8 }, () => admitDelivery(db, circuit)));
    assert.deepEqual(admissions.filter((admission) => admission === 'probe').length, 1, `one probe, the rest wait: ${admissions.join(', ')}`);
    assert.equal((await claimDueOutboxEvents(db, 'worker-b#1')).filter((event) => event.destination === 'shopify').length, 0, 'nothing else goes while the probe is out');
    assert.deepEqual(await recordCircuitFailure(db, circuit, 'still down', true), { state: 'open', opened: true });
    const reopened = await db.selectFrom('channel_circuits').selectAll().where('circuit_key', '=', 'shopify').executeTakeFirstOrThrow();
    assert.equal(reopened.trips, 2);
    assert.equal(Date.parse(reopened.open_until!) - clock.nowMs() > circuitCooldownMs, true, 'the failed probe doubled the cooldown');

    clock.advance(circuitCooldownAfter(2) + 1);
    assert.equal(await admitDelivery(db, circuit), 'probe');
    assert.equal(await recordCircuitSuccess(db, circuit), true);
    assert.equal(await admitDelivery(db, circuit), 'deliver');
    const messages = await db.selectFrom('outbox_events').select(['destination', 'attempts', 'status']).orderBy('destination').execute();
    assert.deepEqual(messages.map((message) => message.attempts), [0, 0], 'held-back and released messages were never counted as attempts');
  });
}

if (DIALECTS.includes('postgres')) {
  test('[postgres] a change absorbed by a pending message holds it from claims until the change commits, so the delivery reads it', async (t) => {
    const database = await openTestDatabase('postgres');
    t.after(() => database.dispose());
    const db = database.handle.db;
    const message = { destination: 'shopify', kind: 'inventory.push', coalesceKey: 'inventory.push:loc:var', payload: {} };
    await enqueueOutbox(db, merchantId, message);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let absorbed: () => void = () => undefined;
    const absorbedNow = new Promise<void>((resolve) => { absorbed = resolve; });
    const change = db.transaction().execute(async (tx) => {
      await enqueueOutbox(tx, merchantId, message);
      absorbed();
      await held;
    });
    await absorbedNow;
    let claimedDuringChange: unknown[];
    try {
      claimedDuringChange = await claimDueOutboxEvents(db, 'worker-a#1');
    } finally {
      release();
      await change;
    }
    assert.deepEqual(claimedDuringChange, [], 'the row locked by the uncommitted change is skipped, not claimed with the old state');
    const claimed = await claimDueOutboxEvents(db, 'worker-a#2');
    assert.equal(claimed.length, 1, 'claimed once the change committed');
    assert.equal(claimed[0]!.superseded, 1, 'the one message carries the change');
    assert.equal((await db.selectFrom('outbox_events').select('id').execute()).length, 1, 'no second message');
  });
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a transaction that counts its absorbs and then erases the merchant's data adds the next change as a new message, not to the erased one`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Erased Outfitters', currency: 'CAD', defaultCountry: 'CA' });
    const message = { destination: 'shopify', kind: 'test.stock', coalesceKey: 'stock:sku-1', payload: {} };

    await db.transaction().execute(async (tx) => {
      deferOutboxAbsorbs(tx);
      await enqueueOutbox(tx, merchant.id, message);
      await enqueueOutbox(tx, merchant.id, message);
      await eraseMerchantData(tx, merchant.id);
      await enqueueOutbox(tx, merchant.id, message);
      await flushOutboxAbsorbs(tx);
    });

    const rows = await db.selectFrom('outbox_events').select(['status', 'superseded']).where('coalesce_key', '=', 'stock:sku-1').execute();
    assert.deepEqual(rows, [{ status: 'pending', superseded: 0 }], 'the change after the erasure is a message of its own');
  });
}
