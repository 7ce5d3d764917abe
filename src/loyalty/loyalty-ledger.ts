import { reuseQuery, type Db, type ParameterPlaceholders, type Queryable, type Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

// Double-entry accounts. Customer accounts carry the customer's id; the others are the program's.
// Store credit shares the ledger with its own accounts, counted in the currency's minor units (`asset`).
export type LoyaltyAccountName = 'customer_available' | 'customer_pending' | 'issued' | 'redeemed' | 'reversed' | 'expired' | 'adjusted' | 'customer_credit' | 'credit_issued' | 'credit_spent';
export type LoyaltyTransactionKind = 'earn' | 'redeem' | 'reverse' | 'restore' | 'adjust' | 'expire' | 'merge' | 'unmerge' | 'release' | 'bonus' | 'credit_issue' | 'credit_spend' | 'credit_adjust';

export interface LoyaltyBalance {
  customerId: string;
  available: number;
  pending: number;
  lifetimeEarned: number;
  tier: string;
}

export interface LoyaltyPosting {
  customerId: string;
  points: number;
  /** Unique per merchant, derived from the source document (`order:ord_1:earn`), so a replay posts nothing. */
  idempotencyKey: string;
  orderId?: string | null;
  memo?: string | null;
}

export interface EntryLine {
  account: LoyaltyAccountName;
  amount: number;
  /** For customer accounts of someone other than the posting's customer (a merge moves points between two). */
  customerId?: string;
}

// Made by every shopper's first points: built and compiled once (~70 µs of CPU a statement, bench/orders-end-to-end.ts).
const insertAccountIfMissing = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerId: string; tier: string; now: string }>) => db
  .insertInto('loyalty_accounts')
  .values({ merchant_id: param('merchantId'), customer_id: param('customerId'), available: 0, pending: 0, lifetime_earned: 0, tier: param('tier'), updated_at: param('now') })
  .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id']).doNothing()));

export async function ensureLoyaltyAccount(db: Queryable, merchantId: string, customerId: string, baseTier: string): Promise<void> {
  await insertAccountIfMissing.execute(db, { merchantId, customerId, tier: baseTier, now: nowIso() });
}

// The statements every earning runs (an order's points), built and compiled once: Kysely's building
// and compiling cost ~70 µs of CPU per statement (found by bench/orders-end-to-end.ts, issue #9).
type TransactionRow = { id: string; merchant_id: string; customer_id: string; kind: string; idempotency_key: string; points: number; order_id: string | null; memo: string | null; created_at: string; asset: string };
const insertTransactionRow = reuseQuery((db, param: ParameterPlaceholders<TransactionRow>) => db
  .insertInto('loyalty_transactions')
  .values({ id: param('id'), merchant_id: param('merchant_id'), customer_id: param('customer_id'), kind: param('kind'), idempotency_key: param('idempotency_key'), points: param('points'), order_id: param('order_id'), memo: param('memo'), created_at: param('created_at'), asset: param('asset') })
  .onConflict((conflict) => conflict.columns(['merchant_id', 'idempotency_key']).doNothing())
  .returning('id'));

type EntryRow = { id: string; merchant_id: string; transaction_id: string; account: string; customer_id: string | null; amount: number; created_at: string; asset: string };
const entryColumns = ['id', 'merchant_id', 'transaction_id', 'account', 'customer_id', 'amount', 'created_at', 'asset'] as const;
// An earning, a redemption and most postings are two entries: one statement built once for the
// pair, its parameters the rows' values in column order.
const entryPairStatement = reuseQuery((db, param: ParameterPlaceholders<{ values: unknown[] }>) => {
  const values = param.list('values', 2 * entryColumns.length) as unknown[];
  const row = (at: number) => Object.fromEntries(entryColumns.map((column, index) => [column, values[at * entryColumns.length + index]])) as EntryRow;
  return db.insertInto('loyalty_entries').values([row(0), row(1)]);
});
const insertEntryPair = { execute: (db: Queryable, pair: [EntryRow, EntryRow]) => entryPairStatement.execute(db, { values: pair.flatMap((row) => entryColumns.map((column) => row[column])) }) };

/**
 * Writes one balanced transaction; returns its id, or undefined when the key was already posted.
 * `asset` is what the amounts count: `points`, or a currency's minor units for store credit.
 */
export async function postTransaction(tx: Tx, merchantId: string, kind: LoyaltyTransactionKind, posting: LoyaltyPosting, lines: EntryLine[], asset = 'points'): Promise<string | undefined> {
  assert(lines.reduce((sum, line) => sum + line.amount, 0) === 0, 'loyalty entries of a transaction sum to zero');
  const transactionId = newId('ltx');
  const now = nowIso();
  const [inserted] = await insertTransactionRow.execute(tx, { id: transactionId, merchant_id: merchantId, customer_id: posting.customerId, kind, idempotency_key: posting.idempotencyKey, points: posting.points, order_id: posting.orderId ?? null, memo: posting.memo ?? null, created_at: now, asset });
  if (!inserted) return undefined;
  const entries = lines.map((line) => ({ id: newId('len'), merchant_id: merchantId, transaction_id: transactionId, account: line.account, customer_id: line.account.startsWith('customer_') ? line.customerId ?? posting.customerId : null, amount: line.amount, created_at: now, asset }));
  if (entries.length === 2) await insertEntryPair.execute(tx, [entries[0]!, entries[1]!]);
  else await tx.insertInto('loyalty_entries').values(entries).execute();
  return transactionId;
}

async function changeAccount(tx: Tx, merchantId: string, customerId: string, change: { available?: number; pending?: number; earned?: number; requireCovered?: boolean; activity?: boolean }): Promise<boolean> {
  const availableDelta = change.available ?? 0;
  let update = tx
    .updateTable('loyalty_accounts')
    .set((eb) => ({
      available: eb('available', '+', availableDelta),
      pending: eb('pending', '+', change.pending ?? 0),
      lifetime_earned: eb('lifetime_earned', '+', change.earned ?? 0),
      updated_at: nowIso(),
      ...(change.activity ? { last_activity_at: nowIso() } : {}),
    }))
    .where('merchant_id', '=', merchantId)
    .where('customer_id', '=', customerId);
  // Redemption is one conditional update: two registers spending the same points cannot both pass.
  if (change.requireCovered) update = update.where('available', '>=', -availableDelta);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Adds to an account's balance (an earning: never refused) and returns it as changed; undefined when she has no account yet. */
async function changeAccountBalance(tx: Tx, merchantId: string, customerId: string, change: { available?: number; pending?: number; earned: number }): Promise<{ available: number } | undefined> {
  const [after] = await addToAccountBalance.execute(tx, { merchantId, customerId, available: change.available ?? 0, pending: change.pending ?? 0, earned: change.earned, now: nowIso() });
  return after;
}

const addToAccountBalance = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerId: string; available: number; pending: number; earned: number; now: string }>) => db
  .updateTable('loyalty_accounts')
  .set((eb) => ({
    available: eb('available', '+', param('available')),
    pending: eb('pending', '+', param('pending')),
    lifetime_earned: eb('lifetime_earned', '+', param('earned')),
    updated_at: param('now'),
    last_activity_at: param('now'),
  }))
  .where('merchant_id', '=', param('merchantId'))
  .where('customer_id', '=', param('customerId'))
  .returning('available'));

type LotRow = { id: string; merchant_id: string; customer_id: string; transaction_id: string; points: number; remaining: number; earned_at: string; expires_at: string | null; pending: number; available_at: string };
const insertLotRow = reuseQuery((db, param: ParameterPlaceholders<LotRow>) => db.insertInto('loyalty_lots').values({
  id: param('id'), merchant_id: param('merchant_id'), customer_id: param('customer_id'), transaction_id: param('transaction_id'), points: param('points'), remaining: param('remaining'),
  earned_at: param('earned_at'), expires_at: param('expires_at'), pending: param('pending'), available_at: param('available_at'),
}));

async function readAccount(tx: Tx, merchantId: string, customerId: string): Promise<{ available: number; pending: number }> {
  return tx.selectFrom('loyalty_accounts').select(['available', 'pending']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirstOrThrow();
}

/** Points credited while the account carries a debt pay the debt first; only the rest is spendable in lots. */
function spendablePart(points: number, availableBefore: number): number {
  return Math.min(points, Math.max(0, availableBefore + points));
}

export interface EarnOptions {
  /** Days the points stay pending (the return window); 0 = available at once. */
  pendingDays: number;
  /** Months until the lot expires, counted from earning; 0 = never. */
  expiryMonths: number;
  /** `bonus` for points given for an action (sign-up, birthday) rather than a purchase. */
  kind?: 'earn' | 'bonus';
}

function addMonths(date: Date, months: number): Date {
  const result = new Date(date);
  result.setUTCMonth(result.getUTCMonth() + months);
  return result;
}

/**
 * Earns points as a lot with its own expiry. Within the pending period they are pending (a return
 * in the window cancels them); otherwise available at once. While the account carries a debt (a
 * reversal of points already spent), available points first pay the debt, so lots always hold
 * exactly the spendable points.
 */
export async function earnPoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting, options: EarnOptions = { pendingDays: 0, expiryMonths: 0 }): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'earned points are a positive integer');
  const pending = options.pendingDays > 0;
  const transactionId = await postTransaction(tx, merchantId, options.kind ?? 'earn', posting, [
    { account: 'issued', amount: -posting.points },
    { account: pending ? 'customer_pending' : 'customer_available', amount: posting.points },
  ]);
  if (!transactionId) return false;
  const now = new Date();
  // The balance moves by one update that returns it, so what was available before is this
  // transaction's own view; the account is made only when the update finds none (her first
  // points). Found by bench/orders-end-to-end.ts: an insert, a read and an update per order before.
  const change = pending ? { pending: posting.points, earned: posting.points } : { available: posting.points, earned: posting.points };
  let after = await changeAccountBalance(tx, merchantId, posting.customerId, change);
  if (!after) {
    await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
    after = await changeAccountBalance(tx, merchantId, posting.customerId, change);
  }
  assert(after, 'the loyalty account exists once ensured');
  const before = { available: after.available - (change.available ?? 0) };
  await insertLotRow.execute(tx, {
    id: newId('lot'), merchant_id: merchantId, customer_id: posting.customerId, transaction_id: transactionId, points: posting.points,
    remaining: pending ? posting.points : spendablePart(posting.points, before.available), earned_at: now.toISOString(),
    expires_at: options.expiryMonths > 0 ? addMonths(now, options.expiryMonths).toISOString() : null,
    pending: pending ? 1 : 0, available_at: pending ? new Date(now.getTime() + options.pendingDays * 86_400_000).toISOString() : now.toISOString(),
  });
  return true;
}

export interface RedeemOptions {
  /**
   * A redemption that already happened and cannot be refused (a register that was offline gave the
   * reward): the points are spent even when the balance no longer holds them. What the lots hold
   * pays first; the rest is a debt on the account, which later earnings pay first, as for a
   * reversal of points already spent. Default false: a redemption never overdraws.
   */
  allowDebt?: boolean;
}

/**
 * Spends available points, soonest-expiring lots first, recording which lots paid. Never spends what
 * is not there, unless `allowDebt` says the redemption already happened (see RedeemOptions).
 */
export async function redeemPoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting, options: RedeemOptions = {}): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'redeemed points are a positive integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const transactionId = await postTransaction(tx, merchantId, 'redeem', posting, [
    { account: 'customer_available', amount: -posting.points },
    { account: 'redeemed', amount: posting.points },
  ]);
  if (!transactionId) return false;
  if (options.allowDebt) {
    await spendIntoDebt(tx, merchantId, posting.customerId, posting.points, transactionId);
    return true;
  }
  if (!(await changeAccount(tx, merchantId, posting.customerId, { available: -posting.points, requireCovered: true, activity: true }))) {
    const { available } = await readAccount(tx, merchantId, posting.customerId);
    throw new AppError('loyalty.insufficient_points', `The customer has ${available} points available, ${posting.points} are needed`, { customer_id: posting.customerId, available, requested: posting.points });
  }
  const taken = await takeFromLots(tx, merchantId, posting.customerId, posting.points, transactionId, { includePending: false });
  assert(taken.total === posting.points, 'lots cover every available point');
  return true;
}

/**
 * The balance moves first, by one unconditional update that also locks the account row, so the
 * balance read after it is this transaction's own: the lots pay what was available before (never
 * less than zero), and the rest of the points are the debt.
 */
async function spendIntoDebt(tx: Tx, merchantId: string, customerId: string, points: number, transactionId: string): Promise<void> {
  await changeAccount(tx, merchantId, customerId, { available: -points, activity: true });
  const availableBefore = (await readAccount(tx, merchantId, customerId)).available + points;
  const covered = Math.min(points, Math.max(0, availableBefore));
  if (covered === 0) return;
  const taken = await takeFromLots(tx, merchantId, customerId, covered, transactionId, { includePending: false });
  assert(taken.total === covered, 'lots cover every available point');
}

/**
 * Takes back points a refunded or cancelled line earned: first from the order's own lot (pending
 * points still in the return window are simply cancelled), then from other lots. Points already
 * spent leave a debt on the account (the default program rule), paid by future earnings.
 */
export async function reversePoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'reversed points are a positive integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const plan = await planLotTake(tx, merchantId, posting.customerId, posting.points, { preferOrderId: posting.orderId ?? null, includePending: true });
  const fromPending = plan.filter((take) => take.pending).reduce((sum, take) => sum + take.points, 0);
  const fromAvailable = posting.points - fromPending;
  const transactionId = await postTransaction(tx, merchantId, 'reverse', posting, [
    ...(fromPending > 0 ? [{ account: 'customer_pending' as const, amount: -fromPending }] : []),
    ...(fromAvailable > 0 ? [{ account: 'customer_available' as const, amount: -fromAvailable }] : []),
    { account: 'reversed', amount: posting.points },
  ]);
  if (!transactionId) return false;
  await changeAccount(tx, merchantId, posting.customerId, { available: -fromAvailable, pending: -fromPending, earned: -posting.points });
  await applyLotTakes(tx, merchantId, transactionId, plan);
  return true;
}

/**
 * Gives back redeemed points when what they paid for is refunded, into the lots that paid for the
 * redemption (so they keep their expiry), as far as those lots were spent by it.
 */
export async function restorePoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting & { redemptionKey: string }): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'restored points are a positive integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const redemption = await tx.selectFrom('loyalty_transactions').select('id').where('merchant_id', '=', merchantId).where('idempotency_key', '=', posting.redemptionKey).executeTakeFirst();
  if (!redemption) throw new AppError('loyalty.redemption_not_found', `No redemption ${posting.redemptionKey}`, { redemption: posting.redemptionKey });
  const transactionId = await postTransaction(tx, merchantId, 'restore', posting, [
    { account: 'redeemed', amount: -posting.points },
    { account: 'customer_available', amount: posting.points },
  ]);
  if (!transactionId) return false;
  const before = await readAccount(tx, merchantId, posting.customerId);
  await changeAccount(tx, merchantId, posting.customerId, { available: posting.points, activity: true });
  let left = spendablePart(posting.points, before.available);
  const paid = await tx.selectFrom('loyalty_lot_spends').select(['lot_id', 'points']).where('merchant_id', '=', merchantId).where('transaction_id', '=', redemption.id).execute();
  for (const spend of paid) {
    if (left === 0) break;
    const back = Math.min(spend.points, left);
    await tx.updateTable('loyalty_lots').set((eb) => ({ remaining: eb('remaining', '+', back) })).where('id', '=', spend.lot_id).execute();
    await tx.insertInto('loyalty_lot_spends').values({ merchant_id: merchantId, transaction_id: transactionId, lot_id: spend.lot_id, points: -back }).execute();
    left -= back;
  }
  if (left > 0) {
    // A redemption made into debt (RedeemOptions.allowDebt) was paid by its lots only in part; the
    // points given back beyond what they paid, once the debt is covered, go into a lot of their own.
    const spentFromLots = paid.reduce((sum, spend) => sum + spend.points, 0);
    const redeemed = await tx.selectFrom('loyalty_transactions').select('points').where('id', '=', redemption.id).executeTakeFirstOrThrow();
    assert(spentFromLots < redeemed.points, 'a restore never gives back more than the redemption took from its lots');
    const now = nowIso();
    await tx.insertInto('loyalty_lots').values({ id: newId('lot'), merchant_id: merchantId, customer_id: posting.customerId, transaction_id: transactionId, points: left, remaining: left, earned_at: now, expires_at: null, pending: 0, available_at: now }).execute();
  }
  return true;
}

/** A person's correction, with a reason: positive adds a lot, negative takes from lots and never below zero. */
export async function adjustPoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting, expiryMonths: number): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points !== 0, 'an adjustment is a non-zero integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const transactionId = await postTransaction(tx, merchantId, 'adjust', posting, [
    { account: 'adjusted', amount: -posting.points },
    { account: 'customer_available', amount: posting.points },
  ]);
  if (!transactionId) return false;
  if (posting.points > 0) {
    const before = await readAccount(tx, merchantId, posting.customerId);
    await changeAccount(tx, merchantId, posting.customerId, { available: posting.points, activity: true });
    const now = new Date();
    await tx.insertInto('loyalty_lots').values({ id: newId('lot'), merchant_id: merchantId, customer_id: posting.customerId, transaction_id: transactionId, points: posting.points, remaining: spendablePart(posting.points, before.available), earned_at: now.toISOString(), expires_at: expiryMonths > 0 ? addMonths(now, expiryMonths).toISOString() : null, pending: 0, available_at: now.toISOString() }).execute();
    return true;
  }
  if (!(await changeAccount(tx, merchantId, posting.customerId, { available: posting.points, requireCovered: true }))) {
    const { available } = await readAccount(tx, merchantId, posting.customerId);
    throw new AppError('loyalty.insufficient_points', `An adjustment of ${posting.points} would take the balance of ${available} below zero`, { customer_id: posting.customerId, available, requested: -posting.points });
  }
  await takeFromLots(tx, merchantId, posting.customerId, -posting.points, transactionId, { includePending: false });
  return true;
}

export const lotBatchSizeMax = 200;

/** Called in the transaction that changed a balance, so the caller can tell the channels (the Shopify points mirror). */
export type BalanceChanged = (tx: Tx, merchantId: string, customerId: string) => Promise<void>;

/** Pending lots whose return window has closed become available (the scheduled release job). */
export async function releaseDuePendingLots(db: Db, now = nowIso(), onBalanceChanged?: BalanceChanged): Promise<number> {
  const due = await db.selectFrom('loyalty_lots').select(['merchant_id', 'id', 'customer_id']).where('pending', '=', 1).where('available_at', '<=', now).orderBy('available_at').limit(lotBatchSizeMax).execute();
  for (const lot of due) {
    await db.transaction().execute(async (tx) => {
      const current = await tx.selectFrom('loyalty_lots').select(['remaining', 'pending']).where('id', '=', lot.id).executeTakeFirstOrThrow();
      if (current.pending !== 1) return;
      if (current.remaining > 0) {
        const transactionId = await postTransaction(tx, lot.merchant_id, 'release', { customerId: lot.customer_id, points: current.remaining, idempotencyKey: `lot:${lot.id}:release`, memo: 'Return window closed' }, [
          { account: 'customer_pending', amount: -current.remaining },
          { account: 'customer_available', amount: current.remaining },
        ]);
        assert(transactionId, 'a lot is released once');
        const before = await readAccount(tx, lot.merchant_id, lot.customer_id);
        await changeAccount(tx, lot.merchant_id, lot.customer_id, { available: current.remaining, pending: -current.remaining });
        await tx.updateTable('loyalty_lots').set({ remaining: spendablePart(current.remaining, before.available) }).where('id', '=', lot.id).execute();
        await onBalanceChanged?.(tx, lot.merchant_id, lot.customer_id);
      }
      await tx.updateTable('loyalty_lots').set({ pending: 0 }).where('id', '=', lot.id).execute();
    });
  }
  return due.length;
}

/** Available lots past their expiry lose what they still hold (the scheduled expiry job). */
export async function expireDueLots(db: Db, now = nowIso(), onBalanceChanged?: BalanceChanged): Promise<number> {
  const due = await db.selectFrom('loyalty_lots').select(['merchant_id', 'id', 'customer_id', 'remaining']).where('pending', '=', 0).where('remaining', '>', 0).where('expires_at', '<=', now).orderBy('expires_at').limit(lotBatchSizeMax).execute();
  for (const lot of due) await db.transaction().execute((tx) => expireLot(tx, lot.merchant_id, lot.customer_id, lot.id, 'Expired', onBalanceChanged));
  return due.length;
}

/** Balances untouched for the inactivity period expire whole (when the program has such a rule). */
export async function expireInactiveBalances(db: Db, merchantId: string, inactiveSince: string, onBalanceChanged?: BalanceChanged): Promise<number> {
  const lots = await db
    .selectFrom('loyalty_lots')
    .innerJoin('loyalty_accounts', (join) => join.onRef('loyalty_accounts.customer_id', '=', 'loyalty_lots.customer_id').onRef('loyalty_accounts.merchant_id', '=', 'loyalty_lots.merchant_id'))
    .select(['loyalty_lots.id', 'loyalty_lots.customer_id'])
    .where('loyalty_lots.merchant_id', '=', merchantId)
    .where('loyalty_lots.pending', '=', 0)
    .where('loyalty_lots.remaining', '>', 0)
    .where('loyalty_accounts.last_activity_at', '<', inactiveSince)
    .limit(lotBatchSizeMax)
    .execute();
  for (const lot of lots) await db.transaction().execute((tx) => expireLot(tx, merchantId, lot.customer_id, lot.id, 'Expired after inactivity', onBalanceChanged));
  return lots.length;
}

async function expireLot(tx: Tx, merchantId: string, customerId: string, lotId: string, memo: string, onBalanceChanged?: BalanceChanged): Promise<void> {
  const lot = await tx.selectFrom('loyalty_lots').select(['remaining', 'pending']).where('id', '=', lotId).executeTakeFirstOrThrow();
  if (lot.remaining <= 0 || lot.pending === 1) return;
  const transactionId = await postTransaction(tx, merchantId, 'expire', { customerId, points: lot.remaining, idempotencyKey: `lot:${lotId}:expire:${lot.remaining}`, memo }, [
    { account: 'customer_available', amount: -lot.remaining },
    { account: 'expired', amount: lot.remaining },
  ]);
  if (!transactionId) return;
  await changeAccount(tx, merchantId, customerId, { available: -lot.remaining });
  await tx.insertInto('loyalty_lot_spends').values({ merchant_id: merchantId, transaction_id: transactionId, lot_id: lotId, points: lot.remaining }).execute();
  await tx.updateTable('loyalty_lots').set({ remaining: 0 }).where('id', '=', lotId).execute();
  await onBalanceChanged?.(tx, merchantId, customerId);
}

interface LotTake {
  lotId: string;
  points: number;
  pending: boolean;
}

/** Which lots a debit takes from: the order's own lots first when given, then soonest expiry, then oldest. */
async function planLotTake(tx: Tx, merchantId: string, customerId: string, points: number, options: { preferOrderId?: string | null; includePending: boolean }): Promise<LotTake[]> {
  let query = tx
    .selectFrom('loyalty_lots')
    .innerJoin('loyalty_transactions', 'loyalty_transactions.id', 'loyalty_lots.transaction_id')
    .select(['loyalty_lots.id', 'loyalty_lots.remaining', 'loyalty_lots.expires_at', 'loyalty_lots.earned_at', 'loyalty_lots.pending', 'loyalty_transactions.order_id'])
    .where('loyalty_lots.merchant_id', '=', merchantId)
    .where('loyalty_lots.customer_id', '=', customerId)
    .where('loyalty_lots.remaining', '>', 0);
  if (!options.includePending) query = query.where('loyalty_lots.pending', '=', 0);
  const lots = await query.execute();
  const preferOrderId = options.preferOrderId ?? null;
  const own = (lot: (typeof lots)[number]) => Number(preferOrderId !== null && lot.order_id === preferOrderId);
  lots.sort((a, b) => {
    if (own(a) !== own(b)) return own(b) - own(a);
    if (a.pending !== b.pending) return a.pending - b.pending;
    const expiryA = a.expires_at ?? '9999';
    const expiryB = b.expires_at ?? '9999';
    return expiryA === expiryB ? a.earned_at.localeCompare(b.earned_at) || a.id.localeCompare(b.id) : expiryA.localeCompare(expiryB);
  });
  const plan: LotTake[] = [];
  let left = points;
  for (const lot of lots) {
    if (left === 0) break;
    // Another order's pending points are not this reversal's to cancel.
    if (lot.pending === 1 && own(lot) === 0) continue;
    const take = Math.min(lot.remaining, left);
    plan.push({ lotId: lot.id, points: take, pending: lot.pending === 1 });
    left -= take;
  }
  return plan;
}

async function applyLotTakes(tx: Tx, merchantId: string, transactionId: string, plan: LotTake[]): Promise<void> {
  for (const take of plan) {
    await tx.updateTable('loyalty_lots').set((eb) => ({ remaining: eb('remaining', '-', take.points) })).where('id', '=', take.lotId).where('remaining', '>=', take.points).execute();
    await tx.insertInto('loyalty_lot_spends').values({ merchant_id: merchantId, transaction_id: transactionId, lot_id: take.lotId, points: take.points }).execute();
  }
}

async function takeFromLots(tx: Tx, merchantId: string, customerId: string, points: number, transactionId: string, options: { includePending: boolean }): Promise<{ total: number }> {
  const plan = await planLotTake(tx, merchantId, customerId, points, options);
  await applyLotTakes(tx, merchantId, transactionId, plan);
  return { total: plan.reduce((sum, take) => sum + take.points, 0) };
}

const balanceOfOne = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerIds: string[] }>) => db
  .selectFrom('loyalty_accounts').select(['customer_id', 'available', 'pending', 'lifetime_earned', 'tier']).where('merchant_id', '=', param('merchantId')).where('customer_id', 'in', param.list('customerIds', 1)));

export async function getLoyaltyBalances(db: Queryable, merchantId: string, customerIds: string[], baseTier: string): Promise<Map<string, LoyaltyBalance>> {
  const balances = new Map<string, LoyaltyBalance>(customerIds.map((customerId) => [customerId, { customerId, available: 0, pending: 0, lifetimeEarned: 0, tier: baseTier }]));
  if (customerIds.length === 0) return balances;
  // One customer (every order's points mirror) reads by a statement built once; several build theirs.
  const rows = customerIds.length === 1
    ? await balanceOfOne.execute(db, { merchantId, customerIds })
    : await db.selectFrom('loyalty_accounts').select(['customer_id', 'available', 'pending', 'lifetime_earned', 'tier']).where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).execute();
  for (const row of rows) balances.set(row.customer_id, { customerId: row.customer_id, available: row.available, pending: row.pending, lifetimeEarned: row.lifetime_earned, tier: row.tier });
  return balances;
}

export async function getLoyaltyBalance(db: Queryable, merchantId: string, customerId: string, baseTier: string): Promise<LoyaltyBalance> {
  const balances = await getLoyaltyBalances(db, merchantId, [customerId], baseTier);
  const balance = balances.get(customerId);
  assert(balance, 'a balance for every requested customer');
  return balance;
}

/** The balance derived from the entries themselves; the cached account must always equal it. */
export async function sumLoyaltyEntries(db: Queryable, merchantId: string, customerId: string): Promise<{ available: number; pending: number }> {
  const rows = await db
    .selectFrom('loyalty_entries')
    .select('account')
    .select((eb) => eb.fn.sum<number>('amount').as('total'))
    .where('merchant_id', '=', merchantId)
    .where('customer_id', '=', customerId)
    .groupBy('account')
    .execute();
  const total = (account: string) => Number(rows.find((row) => row.account === account)?.total ?? 0);
  return { available: total('customer_available'), pending: total('customer_pending') };
}

export async function listLoyaltyHistory(db: Queryable, merchantId: string, customerId: string, limit = 100) {
  return db.selectFrom('loyalty_transactions').select(['id', 'kind', 'points', 'order_id', 'memo', 'created_at']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).where('asset', '=', 'points').orderBy('created_at', 'desc').orderBy('id', 'desc').limit(Math.min(limit, 500)).execute();
}

export async function listLots(db: Queryable, merchantId: string, customerId: string) {
  return db.selectFrom('loyalty_lots').select(['id', 'points', 'remaining', 'earned_at', 'expires_at', 'pending', 'available_at']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('earned_at').execute();
}

export interface LoyaltyTransfer {
  fromCustomerId: string;
  toCustomerId: string;
  kind: 'merge' | 'unmerge';
  idempotencyKey: string;
  /** The available balance moved (may be negative: a debt moves with the profile). */
  points: number;
  /** Pending points moved with their lots. */
  pendingPoints?: number;
  lifetimeEarned: number;
  lotIds: string[];
}

/**
 * Moves a balance between two customers as one balanced transaction (the merged profile's account
 * down, the survivor's up) and hands the lots over with it. Balances are never edited by hand.
 */
export async function transferLoyalty(tx: Tx, merchantId: string, baseTier: string, transfer: LoyaltyTransfer): Promise<void> {
  assert(transfer.fromCustomerId !== transfer.toCustomerId, 'a transfer needs two customers');
  await ensureLoyaltyAccount(tx, merchantId, transfer.fromCustomerId, baseTier);
  await ensureLoyaltyAccount(tx, merchantId, transfer.toCustomerId, baseTier);
  const pendingPoints = transfer.pendingPoints ?? 0;
  if (transfer.points !== 0 || pendingPoints !== 0) {
    const transactionId = await postTransaction(tx, merchantId, transfer.kind, { customerId: transfer.toCustomerId, points: transfer.points, idempotencyKey: transfer.idempotencyKey, memo: `${transfer.kind} from ${transfer.fromCustomerId}` }, [
      ...(transfer.points !== 0 ? [
        { account: 'customer_available' as const, customerId: transfer.fromCustomerId, amount: -transfer.points },
        { account: 'customer_available' as const, customerId: transfer.toCustomerId, amount: transfer.points },
      ] : []),
      ...(pendingPoints !== 0 ? [
        { account: 'customer_pending' as const, customerId: transfer.fromCustomerId, amount: -pendingPoints },
        { account: 'customer_pending' as const, customerId: transfer.toCustomerId, amount: pendingPoints },
      ] : []),
    ]);
    assert(transactionId, `transfer ${transfer.idempotencyKey} is posted once`);
  }
  await changeAccount(tx, merchantId, transfer.fromCustomerId, { available: -transfer.points, pending: -pendingPoints, earned: -transfer.lifetimeEarned });
  await changeAccount(tx, merchantId, transfer.toCustomerId, { available: transfer.points, pending: pendingPoints, earned: transfer.lifetimeEarned });
  if (transfer.lotIds.length > 0) {
    await tx.updateTable('loyalty_lots').set({ customer_id: transfer.toCustomerId }).where('merchant_id', '=', merchantId).where('customer_id', '=', transfer.fromCustomerId).where('id', 'in', transfer.lotIds).execute();
  }
}
