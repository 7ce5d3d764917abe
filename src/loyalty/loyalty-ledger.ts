import type { Queryable, Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

// Double-entry accounts. Customer accounts carry the customer's id; the others are the program's.
export type LoyaltyAccountName = 'customer_available' | 'customer_pending' | 'issued' | 'redeemed' | 'reversed' | 'expired' | 'adjusted';
export type LoyaltyTransactionKind = 'earn' | 'redeem' | 'reverse' | 'restore' | 'adjust' | 'expire' | 'merge' | 'unmerge';

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

interface EntryLine {
  account: LoyaltyAccountName;
  amount: number;
  /** For customer accounts of someone other than the posting's customer (a merge moves points between two). */
  customerId?: string;
}

export async function ensureLoyaltyAccount(db: Queryable, merchantId: string, customerId: string, baseTier: string): Promise<void> {
  await db
    .insertInto('loyalty_accounts')
    .values({ merchant_id: merchantId, customer_id: customerId, available: 0, pending: 0, lifetime_earned: 0, tier: baseTier, updated_at: nowIso() })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id']).doNothing())
    .execute();
}

/** Writes one balanced transaction; returns its id, or undefined when the key was already posted. */
async function postTransaction(tx: Tx, merchantId: string, kind: LoyaltyTransactionKind, posting: LoyaltyPosting, lines: EntryLine[]): Promise<string | undefined> {
  assert(lines.reduce((sum, line) => sum + line.amount, 0) === 0, 'loyalty entries of a transaction sum to zero');
  const transactionId = newId('ltx');
  const now = nowIso();
  const inserted = await tx
    .insertInto('loyalty_transactions')
    .values({ id: transactionId, merchant_id: merchantId, customer_id: posting.customerId, kind, idempotency_key: posting.idempotencyKey, points: posting.points, order_id: posting.orderId ?? null, memo: posting.memo ?? null, created_at: now })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'idempotency_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return undefined;
  await tx
    .insertInto('loyalty_entries')
    .values(lines.map((line) => ({ id: newId('len'), merchant_id: merchantId, transaction_id: transactionId, account: line.account, customer_id: line.account.startsWith('customer_') ? line.customerId ?? posting.customerId : null, amount: line.amount, created_at: now })))
    .execute();
  return transactionId;
}

async function changeAvailable(tx: Tx, merchantId: string, customerId: string, delta: number, options: { earned?: number; requireCovered?: boolean } = {}): Promise<boolean> {
  let update = tx
    .updateTable('loyalty_accounts')
    .set((eb) => ({ available: eb('available', '+', delta), lifetime_earned: eb('lifetime_earned', '+', options.earned ?? 0), updated_at: nowIso() }))
    .where('merchant_id', '=', merchantId)
    .where('customer_id', '=', customerId);
  // Redemption is one conditional update: two registers spending the same points cannot both pass.
  if (options.requireCovered) update = update.where('available', '>=', -delta);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

async function readAvailable(tx: Tx, merchantId: string, customerId: string): Promise<number> {
  const row = await tx.selectFrom('loyalty_accounts').select('available').where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirstOrThrow();
  return row.available;
}

/**
 * Earns points, available at once, as a lot. While the account carries a debt (a reversal of points
 * already spent), the new points first pay the debt, so lots always hold exactly the spendable points.
 */
export async function earnPoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'earned points are a positive integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const transactionId = await postTransaction(tx, merchantId, 'earn', posting, [
    { account: 'issued', amount: -posting.points },
    { account: 'customer_available', amount: posting.points },
  ]);
  if (!transactionId) return false;
  const before = await readAvailable(tx, merchantId, posting.customerId);
  await changeAvailable(tx, merchantId, posting.customerId, posting.points, { earned: posting.points });
  const spendable = Math.min(posting.points, Math.max(0, before + posting.points));
  await tx.insertInto('loyalty_lots').values({ id: newId('lot'), merchant_id: merchantId, customer_id: posting.customerId, transaction_id: transactionId, points: posting.points, remaining: spendable, earned_at: nowIso(), expires_at: null }).execute();
  return true;
}

/** Spends points, soonest-expiring lots first, recording which lots paid. Never spends what is not there. */
export async function redeemPoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'redeemed points are a positive integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const transactionId = await postTransaction(tx, merchantId, 'redeem', posting, [
    { account: 'customer_available', amount: -posting.points },
    { account: 'redeemed', amount: posting.points },
  ]);
  if (!transactionId) return false;
  if (!(await changeAvailable(tx, merchantId, posting.customerId, -posting.points, { requireCovered: true }))) {
    const available = await readAvailable(tx, merchantId, posting.customerId);
    throw new AppError('loyalty.insufficient_points', `The customer has ${available} points available, ${posting.points} are needed`, { customer_id: posting.customerId, available, requested: posting.points });
  }
  const spent = await takeFromLots(tx, merchantId, posting.customerId, posting.points, transactionId);
  assert(spent === posting.points, 'lots cover every available point');
  return true;
}

/**
 * Takes back points a refunded line earned. They may already be spent: then the balance goes below
 * zero and the debt stays on the account (the default program rule), to be paid by future earnings.
 */
export async function reversePoints(tx: Tx, merchantId: string, baseTier: string, posting: LoyaltyPosting): Promise<boolean> {
  assert(Number.isSafeInteger(posting.points) && posting.points > 0, 'reversed points are a positive integer');
  await ensureLoyaltyAccount(tx, merchantId, posting.customerId, baseTier);
  const transactionId = await postTransaction(tx, merchantId, 'reverse', posting, [
    { account: 'customer_available', amount: -posting.points },
    { account: 'reversed', amount: posting.points },
  ]);
  if (!transactionId) return false;
  await changeAvailable(tx, merchantId, posting.customerId, -posting.points, { earned: -posting.points });
  await takeFromLots(tx, merchantId, posting.customerId, posting.points, transactionId, posting.orderId ?? null);
  return true;
}

/** Reduces lots, the order's own lot first when given, then soonest expiry, then oldest. */
async function takeFromLots(tx: Tx, merchantId: string, customerId: string, points: number, transactionId: string, preferOrderId: string | null = null): Promise<number> {
  const lots = await tx
    .selectFrom('loyalty_lots')
    .innerJoin('loyalty_transactions', 'loyalty_transactions.id', 'loyalty_lots.transaction_id')
    .select(['loyalty_lots.id', 'loyalty_lots.remaining', 'loyalty_lots.expires_at', 'loyalty_lots.earned_at', 'loyalty_transactions.order_id'])
    .where('loyalty_lots.merchant_id', '=', merchantId)
    .where('loyalty_lots.customer_id', '=', customerId)
    .where('loyalty_lots.remaining', '>', 0)
    .execute();
  lots.sort((a, b) => {
    const preferred = Number(b.order_id === preferOrderId && preferOrderId !== null) - Number(a.order_id === preferOrderId && preferOrderId !== null);
    if (preferred !== 0) return preferred;
    const expiryA = a.expires_at ?? '9999';
    const expiryB = b.expires_at ?? '9999';
    return expiryA === expiryB ? a.earned_at.localeCompare(b.earned_at) || a.id.localeCompare(b.id) : expiryA.localeCompare(expiryB);
  });
  let left = points;
  for (const lot of lots) {
    if (left === 0) break;
    const take = Math.min(lot.remaining, left);
    await tx.updateTable('loyalty_lots').set((eb) => ({ remaining: eb('remaining', '-', take) })).where('id', '=', lot.id).where('remaining', '>=', take).execute();
    await tx.insertInto('loyalty_lot_spends').values({ merchant_id: merchantId, transaction_id: transactionId, lot_id: lot.id, points: take }).execute();
    left -= take;
  }
  return points - left;
}

export async function getLoyaltyBalances(db: Queryable, merchantId: string, customerIds: string[], baseTier: string): Promise<Map<string, LoyaltyBalance>> {
  const balances = new Map<string, LoyaltyBalance>(customerIds.map((customerId) => [customerId, { customerId, available: 0, pending: 0, lifetimeEarned: 0, tier: baseTier }]));
  if (customerIds.length === 0) return balances;
  const rows = await db.selectFrom('loyalty_accounts').select(['customer_id', 'available', 'pending', 'lifetime_earned', 'tier']).where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).execute();
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
  return db.selectFrom('loyalty_transactions').select(['id', 'kind', 'points', 'order_id', 'memo', 'created_at']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(Math.min(limit, 500)).execute();
}

export async function listLots(db: Queryable, merchantId: string, customerId: string) {
  return db.selectFrom('loyalty_lots').select(['id', 'points', 'remaining', 'earned_at', 'expires_at']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('earned_at').execute();
}

export interface LoyaltyTransfer {
  fromCustomerId: string;
  toCustomerId: string;
  kind: 'merge' | 'unmerge';
  idempotencyKey: string;
  /** The available balance moved (may be negative: a debt moves with the profile). */
  points: number;
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
  if (transfer.points !== 0) {
    const transactionId = await postTransaction(tx, merchantId, transfer.kind, { customerId: transfer.toCustomerId, points: transfer.points, idempotencyKey: transfer.idempotencyKey, memo: `${transfer.kind} from ${transfer.fromCustomerId}` }, [
      { account: 'customer_available', customerId: transfer.fromCustomerId, amount: -transfer.points },
      { account: 'customer_available', customerId: transfer.toCustomerId, amount: transfer.points },
    ]);
    assert(transactionId, `transfer ${transfer.idempotencyKey} is posted once`);
  }
  await changeAvailable(tx, merchantId, transfer.fromCustomerId, -transfer.points, { earned: -transfer.lifetimeEarned });
  await changeAvailable(tx, merchantId, transfer.toCustomerId, transfer.points, { earned: transfer.lifetimeEarned });
  if (transfer.lotIds.length > 0) {
    await tx.updateTable('loyalty_lots').set({ customer_id: transfer.toCustomerId }).where('merchant_id', '=', merchantId).where('customer_id', '=', transfer.fromCustomerId).where('id', 'in', transfer.lotIds).execute();
  }
}
