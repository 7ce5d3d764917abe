import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { migrateToLatest, openDatabase, type Db } from '../db/index.ts';
import { createMerchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import {
  earnPoints, expireInactiveBalances, getLoyaltyBalance, listLots, redeemPoints, releaseDuePendingLots, reversePoints, sumLoyaltyEntries, transferLoyalty,
} from './index.ts';

// Random sequences of earn (available or pending), redeem, full and partial refunds, release of
// pending points, expiry, merge and replay keep every invariant of the ledger:
//   every transaction's entries sum to zero; the cached balances equal the sums of their entries;
//   lots hold exactly the spendable and the pending points; a redemption never spends points that
//   are not available; replaying anything posts nothing.
// LEDGER_PROPERTY_RUNS sets the number of sequences (CI runs a few hundred; `npm run test:ledger`
// runs 100,000, see docs/testing.md).

const runs = Number(process.env['LEDGER_PROPERTY_RUNS'] ?? 300);
const baseTier = 'Member';
const farFuture = '2999-01-01T00:00:00.000Z';

type Operation =
  | { kind: 'earn'; points: number; pending: boolean }
  | { kind: 'redeem'; points: number }
  | { kind: 'refund'; order: number; share: number }
  | { kind: 'release' }
  | { kind: 'expire' }
  | { kind: 'merge' }
  | { kind: 'replay'; pick: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('earn' as const), points: fc.integer({ min: 1, max: 300 }), pending: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('redeem' as const), points: fc.integer({ min: 1, max: 250 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('refund' as const), order: fc.nat(), share: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('merge' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
);

async function insertCustomer(db: Db, merchantId: string, id: string): Promise<void> {
  const now = nowIso();
  await db.insertInto('customers').values({ id, merchant_id: merchantId, first_name: null, last_name: null, name_search: '', loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now }).execute();
}

async function assertInvariants(db: Db, merchantId: string, customerIds: string[]): Promise<void> {
  const unbalanced = await db.selectFrom('loyalty_entries').select('transaction_id').select((eb) => eb.fn.sum<number>('amount').as('total')).where('merchant_id', '=', merchantId).groupBy('transaction_id').having((eb) => eb.fn.sum('amount'), '<>', 0).execute();
  assert.deepEqual(unbalanced, [], 'every transaction sums to zero');
  for (const customerId of customerIds) {
    const cached = await getLoyaltyBalance(db, merchantId, customerId, baseTier);
    const entries = await sumLoyaltyEntries(db, merchantId, customerId);
    assert.deepEqual({ available: cached.available, pending: cached.pending }, entries, 'cached balances equal their entries');
    const lots = await listLots(db, merchantId, customerId);
    const pendingHeld = lots.filter((lot) => lot.pending === 1).reduce((sum, lot) => sum + lot.remaining, 0);
    const spendableHeld = lots.filter((lot) => lot.pending === 0).reduce((sum, lot) => sum + lot.remaining, 0);
    assert.equal(pendingHeld, cached.pending, 'pending lots hold the pending points');
    assert.equal(spendableHeld, Math.max(cached.available, 0), 'available lots hold the spendable points');
    assert.ok(lots.every((lot) => lot.remaining >= 0 && lot.remaining <= lot.points), 'no lot below zero or above what it earned');
  }
}

test('random sequences of earn, redeem, refund, release, expire, merge and replay keep every ledger invariant', async (t) => {
  const handle = openDatabase('sqlite::memory:');
  t.after(() => handle.close());
  await migrateToLatest(handle.db, handle.dialect);
  const db = handle.db;
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 12 }), async (operations) => {
      run += 1;
      const merchant = await createMerchant(db, { name: `Ledger ${run}`, currency: 'USD', defaultCountry: 'CA' });
      const customers = [`cus_a_${run}`, `cus_b_${run}`];
      for (const id of customers) await insertCustomer(db, merchant.id, id);
      let current = customers[0]!;
      const earned: { orderId: string; points: number; reversed: number }[] = [];
      const postedKeys: { key: string; apply: (key: string) => Promise<boolean> }[] = [];
      for (const [step, op] of operations.entries()) {
        const key = `run${run}:step${step}`;
        const customerId = current;
        if (op.kind === 'earn') {
          const orderId = `ord_${run}_${step}`;
          const apply = (k: string) => db.transaction().execute((tx) => earnPoints(tx, merchant.id, baseTier, { customerId, points: op.points, idempotencyKey: k, orderId }, { pendingDays: op.pending ? 30 : 0, expiryMonths: 12 }));
          assert.equal(await apply(key), true);
          earned.push({ orderId, points: op.points, reversed: 0 });
          postedKeys.push({ key, apply });
        } else if (op.kind === 'redeem') {
          const before = await getLoyaltyBalance(db, merchant.id, customerId, baseTier);
          const apply = (k: string) => db.transaction().execute((tx) => redeemPoints(tx, merchant.id, baseTier, { customerId, points: op.points, idempotencyKey: k }));
          try {
            assert.equal(await apply(key), true);
            assert.ok(op.points <= before.available, 'a redemption succeeded only with enough points');
            postedKeys.push({ key, apply });
          } catch (error) {
            assert.ok(error instanceof AppError && error.code === 'loyalty.insufficient_points', String(error));
            assert.ok(op.points > before.available, 'a redemption was refused only without enough points');
          }
        } else if (op.kind === 'refund') {
          const order = earned[op.order % Math.max(earned.length, 1)];
          if (!order) continue;
          const points = Math.min(order.points - order.reversed, Math.max(1, Math.floor((order.points * op.share) / 100)));
          if (points <= 0) continue;
          const apply = (k: string) => db.transaction().execute((tx) => reversePoints(tx, merchant.id, baseTier, { customerId, points, idempotencyKey: k, orderId: order.orderId }));
          assert.equal(await apply(key), true);
          order.reversed += points;
          postedKeys.push({ key, apply });
        } else if (op.kind === 'release') {
          await releaseDuePendingLots(db, farFuture);
        } else if (op.kind === 'expire') {
          await expireInactiveBalances(db, merchant.id, farFuture);
        } else if (op.kind === 'merge') {
          const survivor = customers.find((id) => id !== current)!;
          const balance = await getLoyaltyBalance(db, merchant.id, current, baseTier);
          const lotIds = (await listLots(db, merchant.id, current)).map((lot) => lot.id);
          await db.transaction().execute((tx) => transferLoyalty(tx, merchant.id, baseTier, { fromCustomerId: current, toCustomerId: survivor, kind: 'merge', idempotencyKey: `merge:${key}`, points: balance.available, pendingPoints: balance.pending, lifetimeEarned: balance.lifetimeEarned, lotIds }));
          current = survivor;
        } else {
          const replayed = postedKeys[op.pick % Math.max(postedKeys.length, 1)];
          if (!replayed) continue;
          const entriesBefore = await db.selectFrom('loyalty_entries').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchant.id).executeTakeFirstOrThrow();
          assert.equal(await replayed.apply(replayed.key), false, 'a replay posts nothing');
          const entriesAfter = await db.selectFrom('loyalty_entries').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchant.id).executeTakeFirstOrThrow();
          assert.equal(Number(entriesAfter.count), Number(entriesBefore.count));
        }
        await assertInvariants(db, merchant.id, customers);
      }
    }),
    { numRuns: runs },
  );
});
