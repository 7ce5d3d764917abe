import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { DIALECTS } from '../../test/support/databases.ts';
import { openLockedTestDatabase } from '../../test/support/postgres-schema-lock.ts';
import type { Db } from '../db/index.ts';
import { createMerchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { earnPoints, redeemPoints, reversePoints, sumLoyaltyEntries, type LoyaltyPosting } from './index.ts';

// The loyalty ledger against a model: any sequence of earning, redeeming, reversing and replaying
// keeps every transaction balanced, the cached balance equal to the entries, the lots equal to the
// spendable points, and never lets a redemption spend points that are not there.

const baseTier = 'Member';
// Redemptions and reversals smaller than earnings on average, so runs reach both debts and spending.
const earnPointsMax = 300;
const redeemPointsMax = 200;
const reversePointsMax = 150;
const operationsMax = 25;
const runsPerDialect = 30;

type PostingKind = 'earn' | 'redeem' | 'reverse';
type Operation = { kind: PostingKind; points: number } | { kind: 'replay'; pick: number; via: PostingKind; points: number };

const postingFunctions = { earn: earnPoints, redeem: redeemPoints, reverse: reversePoints } as const;

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('earn' as const), points: fc.integer({ min: 1, max: earnPointsMax }) }),
  fc.record({ kind: fc.constant('redeem' as const), points: fc.integer({ min: 1, max: redeemPointsMax }) }),
  fc.record({ kind: fc.constant('reverse' as const), points: fc.integer({ min: 1, max: reversePointsMax }) }),
  fc.record({ kind: fc.constant('replay' as const), pick: fc.nat(), via: fc.constantFrom<PostingKind>('earn', 'redeem', 'reverse'), points: fc.integer({ min: 1, max: earnPointsMax }) }),
);

interface LedgerFixture {
  db: Db;
  merchantId: string;
  /** A fresh customer row, so each property run starts from an empty account. */
  createCustomer(): Promise<string>;
}

async function openLedger(t: TestContext, dialect: (typeof DIALECTS)[number]): Promise<LedgerFixture> {
  const database = await openLockedTestDatabase(dialect);
  t.after(() => database.dispose());
  const db = database.handle.db;
  const merchant = await createMerchant(db, { name: 'Ledger Test Merchant', currency: 'USD', defaultCountry: 'CA' });
  let customerCount = 0;
  return {
    db,
    merchantId: merchant.id,
    async createCustomer() {
      customerCount += 1;
      const id = `cus_ledger_${customerCount}`;
      const now = nowIso();
      await db.insertInto('customers').values({ id, merchant_id: merchant.id, first_name: 'Test', last_name: `Customer ${customerCount}`, name_search: `test customer ${customerCount}`, loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now }).execute();
      return id;
    },
  };
}

function post(fixture: LedgerFixture, kind: PostingKind, posting: LoyaltyPosting): Promise<boolean> {
  return fixture.db.transaction().execute((tx) => postingFunctions[kind](tx, fixture.merchantId, baseTier, posting));
}

/** Every row the ledger keeps for one customer, to prove an operation changed nothing. */
async function ledgerRows(fixture: LedgerFixture, customerId: string) {
  const { db, merchantId } = fixture;
  const transactions = await db.selectFrom('loyalty_transactions').select(['id', 'kind', 'points', 'idempotency_key']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('id').execute();
  const transactionIds = transactions.map((transaction) => transaction.id);
  const entries = transactionIds.length === 0 ? [] : await db.selectFrom('loyalty_entries').select(['transaction_id', 'account', 'amount']).where('merchant_id', '=', merchantId).where('transaction_id', 'in', transactionIds).orderBy('id').execute();
  const lots = await db.selectFrom('loyalty_lots').select(['id', 'points', 'remaining']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('id').execute();
  const spends = transactionIds.length === 0 ? [] : await db.selectFrom('loyalty_lot_spends').select(['transaction_id', 'lot_id', 'points']).where('merchant_id', '=', merchantId).where('transaction_id', 'in', transactionIds).orderBy('lot_id').orderBy('transaction_id').execute();
  const account = await db.selectFrom('loyalty_accounts').select(['available', 'pending', 'lifetime_earned']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
  return { transactions, entries, lots, spends, account };
}

/** The invariants that hold after any sequence of operations. */
async function assertLedgerInvariants(fixture: LedgerFixture, customerId: string, model: { available: number; lifetimeEarned: number }): Promise<void> {
  const rows = await ledgerRows(fixture, customerId);

  const sumByTransaction = new Map<string, number>();
  for (const entry of rows.entries) sumByTransaction.set(entry.transaction_id, (sumByTransaction.get(entry.transaction_id) ?? 0) + Number(entry.amount));
  assert.equal(sumByTransaction.size, rows.transactions.length, 'every transaction has entries');
  for (const [transactionId, sum] of sumByTransaction) assert.equal(sum, 0, `the entries of ${transactionId} sum to zero`);
  // The same check as the database sees it, grouped in SQL.
  const grouped = await fixture.db
    .selectFrom('loyalty_entries')
    .select('transaction_id')
    .select((eb) => eb.fn.sum<number | string>('amount').as('total'))
    .where('merchant_id', '=', fixture.merchantId)
    .groupBy('transaction_id')
    .execute();
  assert.deepEqual(grouped.filter((row) => Number(row.total) !== 0), [], 'no unbalanced transaction anywhere in the merchant');

  const fromEntries = await sumLoyaltyEntries(fixture.db, fixture.merchantId, customerId);
  const cached = rows.account ?? { available: 0, pending: 0, lifetime_earned: 0 };
  assert.equal(cached.available, fromEntries.available, 'the cached balance equals the sum of the entries');
  assert.equal(cached.pending, fromEntries.pending);
  assert.equal(cached.available, model.available, 'the balance equals the model');
  assert.equal(cached.lifetime_earned, model.lifetimeEarned);

  const remaining = rows.lots.reduce((sum, lot) => sum + lot.remaining, 0);
  assert.equal(remaining, Math.max(cached.available, 0), 'the lots hold exactly the spendable points');
  for (const lot of rows.lots) assert.ok(lot.remaining >= 0 && lot.remaining <= lot.points, `lot ${lot.id} within 0..points`);
  const spentByLot = new Map<string, number>();
  for (const spend of rows.spends) spentByLot.set(spend.lot_id, (spentByLot.get(spend.lot_id) ?? 0) + spend.points);
  for (const lot of rows.lots) assert.ok((spentByLot.get(lot.id) ?? 0) <= lot.points, `lot ${lot.id} never spent beyond its points`);
  for (const transaction of rows.transactions.filter((candidate) => candidate.kind === 'redeem')) {
    const spent = rows.spends.filter((spend) => spend.transaction_id === transaction.id).reduce((sum, spend) => sum + spend.points, 0);
    assert.equal(spent, transaction.points, 'a redemption is paid by lots in full');
  }
}

async function runOperations(fixture: LedgerFixture, operations: Operation[]): Promise<void> {
  const customerId = await fixture.createCustomer();
  const model = { available: 0, lifetimeEarned: 0 };
  const posted: LoyaltyPosting[] = [];

  for (const [index, operation] of operations.entries()) {
    if (operation.kind === 'replay') {
      const original = posted.length === 0 ? undefined : posted[operation.pick % posted.length];
      if (!original) continue;
      const before = await ledgerRows(fixture, customerId);
      // A replay carries an earlier key: through whichever function, with whatever amount, it posts nothing.
      assert.equal(await post(fixture, operation.via, { ...original, points: operation.points }), false, `replay of ${original.idempotencyKey}`);
      assert.deepEqual(await ledgerRows(fixture, customerId), before, 'a replay changes nothing');
      continue;
    }

    const posting: LoyaltyPosting = { customerId, points: operation.points, idempotencyKey: `${customerId}:${index}:${operation.kind}`, orderId: `ord_${index}`, memo: null };
    if (operation.kind === 'redeem' && operation.points > model.available) {
      const before = await ledgerRows(fixture, customerId);
      await assert.rejects(post(fixture, 'redeem', posting), (error: unknown) => {
        assert.ok(error instanceof AppError, String(error));
        assert.equal(error.code, 'loyalty.insufficient_points');
        assert.equal(error.details['available'], model.available);
        assert.equal(error.details['requested'], operation.points);
        return true;
      });
      assert.deepEqual(await ledgerRows(fixture, customerId), before, 'a refused redemption changes nothing');
      continue;
    }

    assert.equal(await post(fixture, operation.kind, posting), true, `${operation.kind} ${operation.points}`);
    posted.push(posting);
    if (operation.kind === 'earn') {
      model.available += operation.points;
      model.lifetimeEarned += operation.points;
    } else if (operation.kind === 'redeem') {
      model.available -= operation.points;
    } else {
      model.available -= operation.points;
      model.lifetimeEarned -= operation.points;
    }
  }
  await assertLedgerInvariants(fixture, customerId, model);
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] any sequence of earn, redeem, reverse and replay keeps the ledger balanced, cached = entries, lots = spendable points`, async (t) => {
    const fixture = await openLedger(t, dialect);
    await fc.assert(
      fc.asyncProperty(fc.array(operationArbitrary, { minLength: 1, maxLength: operationsMax, size: 'max' }), (operations) => runOperations(fixture, operations)),
      { numRuns: runsPerDialect },
    );
  });

  test(`[${dialect}] a reversal of points already spent leaves a debt; the next points earned pay it before they can be spent`, async (t) => {
    const fixture = await openLedger(t, dialect);
    await runOperations(fixture, [
      { kind: 'earn', points: 100 },
      { kind: 'redeem', points: 60 },
      { kind: 'reverse', points: 100 },
      { kind: 'redeem', points: 1 },
      { kind: 'earn', points: 50 },
      { kind: 'redeem', points: 1 },
      { kind: 'earn', points: 100 },
      { kind: 'redeem', points: 90 },
      { kind: 'redeem', points: 1 },
    ]);
    const customerId = 'cus_ledger_1';
    const balance = await sumLoyaltyEntries(fixture.db, fixture.merchantId, customerId);
    assert.equal(balance.available, 0, '100 − 60 − 100 + 50 + 100 − 90');
    const lots = await fixture.db.selectFrom('loyalty_lots').select(['points', 'remaining']).where('customer_id', '=', customerId).execute();
    assert.deepEqual(lots.map((lot) => lot.points).sort((a, b) => a - b), [50, 100, 100], 'one lot per earning, debt or not');
    assert.equal(lots.reduce((sum, lot) => sum + lot.remaining, 0), 0);
  });

  test(`[${dialect}] redeeming more than is available throws loyalty.insufficient_points and writes nothing`, async (t) => {
    const fixture = await openLedger(t, dialect);
    const customerId = await fixture.createCustomer();
    await post(fixture, 'earn', { customerId, points: 99, idempotencyKey: 'order:ord_1:earn', orderId: 'ord_1' });
    const before = await ledgerRows(fixture, customerId);

    await assert.rejects(post(fixture, 'redeem', { customerId, points: 100, idempotencyKey: 'order:ord_2:reward:0', orderId: 'ord_2' }), (error: unknown) => error instanceof AppError && error.code === 'loyalty.insufficient_points');

    assert.deepEqual(await ledgerRows(fixture, customerId), before);
    assert.equal(await post(fixture, 'redeem', { customerId, points: 99, idempotencyKey: 'order:ord_2:reward:0', orderId: 'ord_2' }), true, 'the refused key was not used up');
  });

  test(`[${dialect}] two registers redeeming the same points at once: exactly one succeeds, the other is refused`, async (t) => {
    const fixture = await openLedger(t, dialect);
    const customerId = await fixture.createCustomer();
    await post(fixture, 'earn', { customerId, points: 150, idempotencyKey: 'order:ord_1:earn', orderId: 'ord_1' });

    const outcomes = await Promise.allSettled([
      post(fixture, 'redeem', { customerId, points: 100, idempotencyKey: 'order:ord_2:reward:0', orderId: 'ord_2' }),
      post(fixture, 'redeem', { customerId, points: 100, idempotencyKey: 'order:ord_3:reward:0', orderId: 'ord_3' }),
    ]);

    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
    const refused = outcomes.find((outcome) => outcome.status === 'rejected');
    assert.ok(refused?.status === 'rejected' && refused.reason instanceof AppError && refused.reason.code === 'loyalty.insufficient_points', String(refused?.status === 'rejected' ? refused.reason : ''));
    await assertLedgerInvariants(fixture, customerId, { available: 50, lifetimeEarned: 150 });
  });
}
