import type { Queryable, Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { postTransaction } from './loyalty-ledger.ts';

/**
 * Store credit: money a customer holds with the merchant (a refund or an exchange paid back as
 * credit), spendable in every channel. It lives in the loyalty ledger's double-entry tables with
 * its own accounts, counted in the currency's minor units: `credit_issued` → `customer_credit` when
 * given, `customer_credit` → `credit_spent` when spent. The balance row is kept beside the entries
 * for a fast conditional spend; a check keeps it from going below zero.
 */
export interface StoreCreditBalance {
  customerId: string;
  currency: string;
  balanceMinor: number;
}

export interface StoreCreditPosting {
  customerId: string;
  amountMinor: number;
  currency: string;
  /** Unique per merchant and derived from the source document, so a replay posts nothing. */
  idempotencyKey: string;
  orderId?: string | null;
  memo?: string | null;
}

async function changeBalance(tx: Tx, merchantId: string, customerId: string, currency: string, deltaMinor: number): Promise<boolean> {
  await tx
    .insertInto('store_credit_accounts')
    .values({ merchant_id: merchantId, customer_id: customerId, currency, balance_minor: 0, updated_at: nowIso() })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'customer_id']).doNothing())
    .execute();
  // One conditional update: two registers spending the same credit cannot both pass.
  const result = await tx
    .updateTable('store_credit_accounts')
    .set((eb) => ({ balance_minor: eb('balance_minor', '+', deltaMinor), updated_at: nowIso() }))
    .where('merchant_id', '=', merchantId)
    .where('customer_id', '=', customerId)
    .where('currency', '=', currency)
    .where('balance_minor', '>=', Math.max(0, -deltaMinor))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

function assertPosting(posting: StoreCreditPosting): void {
  assert(Number.isSafeInteger(posting.amountMinor) && posting.amountMinor > 0, 'store credit moves a positive whole number of minor units');
}

/** Gives credit; false when this key was already posted (a replay). */
export async function issueStoreCredit(tx: Tx, merchantId: string, posting: StoreCreditPosting): Promise<boolean> {
  assertPosting(posting);
  const transactionId = await postTransaction(tx, merchantId, 'credit_issue', { ...posting, points: posting.amountMinor }, [
    { account: 'credit_issued', amount: -posting.amountMinor },
    { account: 'customer_credit', amount: posting.amountMinor },
  ], posting.currency);
  if (!transactionId) return false;
  assert(await changeBalance(tx, merchantId, posting.customerId, posting.currency, posting.amountMinor), 'credit is added to an account in its currency');
  return true;
}

/** Spends credit as a payment; refused (409) when the balance does not cover it. */
export async function spendStoreCredit(tx: Tx, merchantId: string, posting: StoreCreditPosting): Promise<boolean> {
  assertPosting(posting);
  const transactionId = await postTransaction(tx, merchantId, 'credit_spend', { ...posting, points: posting.amountMinor }, [
    { account: 'customer_credit', amount: -posting.amountMinor },
    { account: 'credit_spent', amount: posting.amountMinor },
  ], posting.currency);
  if (!transactionId) return false;
  if (!(await changeBalance(tx, merchantId, posting.customerId, posting.currency, -posting.amountMinor))) {
    const balance = await getStoreCredit(tx, merchantId, posting.customerId, posting.currency);
    throw new AppError('store_credit.insufficient_balance', `Store credit of ${balance.balanceMinor} does not cover ${posting.amountMinor}`, { field: 'payments', balance_minor: balance.balanceMinor, amount_minor: posting.amountMinor });
  }
  return true;
}

/** Moves a whole credit balance between two profiles (a merge, or its undoing) by one balanced transaction. */
export async function transferStoreCredit(tx: Tx, merchantId: string, transfer: { fromCustomerId: string; toCustomerId: string; kind: 'merge' | 'unmerge'; idempotencyKey: string; currency: string; amountMinor: number }): Promise<void> {
  if (transfer.amountMinor === 0) return;
  const transactionId = await postTransaction(tx, merchantId, transfer.kind, { customerId: transfer.toCustomerId, points: transfer.amountMinor, idempotencyKey: transfer.idempotencyKey, memo: `store credit ${transfer.kind} from ${transfer.fromCustomerId}` }, [
    { account: 'customer_credit', customerId: transfer.fromCustomerId, amount: -transfer.amountMinor },
    { account: 'customer_credit', customerId: transfer.toCustomerId, amount: transfer.amountMinor },
  ], transfer.currency);
  assert(transactionId, `credit transfer ${transfer.idempotencyKey} is posted once`);
  assert(await changeBalance(tx, merchantId, transfer.fromCustomerId, transfer.currency, -transfer.amountMinor), 'the whole balance moves');
  assert(await changeBalance(tx, merchantId, transfer.toCustomerId, transfer.currency, transfer.amountMinor), 'credit lands in the same currency');
}

export async function getStoreCredit(db: Queryable, merchantId: string, customerId: string, currency: string): Promise<StoreCreditBalance> {
  const row = await db.selectFrom('store_credit_accounts').select(['currency', 'balance_minor']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).executeTakeFirst();
  return { customerId, currency: row?.currency ?? currency, balanceMinor: row?.balance_minor ?? 0 };
}

/** The credit balance summed from the ledger's entries: what the balance row must always equal. */
export async function sumStoreCreditEntries(db: Queryable, merchantId: string, customerId: string): Promise<number> {
  const row = await db.selectFrom('loyalty_entries').select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount'), eb.lit(0)).as('amount')).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).where('account', '=', 'customer_credit').executeTakeFirstOrThrow();
  return Number(row.amount);
}

export async function listStoreCreditHistory(db: Queryable, merchantId: string, customerId: string, limit = 100) {
  return db.selectFrom('loyalty_transactions').select(['id', 'kind', 'asset', 'points as amount_minor', 'order_id', 'memo', 'created_at']).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).where('asset', '<>', 'points').orderBy('created_at', 'desc').orderBy('id', 'desc').limit(Math.min(limit, 500)).execute();
}
