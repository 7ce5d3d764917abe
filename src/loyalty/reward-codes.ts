import { randomBytes } from 'node:crypto';
import type { Queryable, RewardCodesTable, Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

/** issued → used (an order took it) or cancelled (its points went back); both are final. */
export type RewardCodeState = 'issued' | 'used' | 'cancelled';

export interface RewardCode {
  id: string;
  code: string;
  customerId: string;
  rewardId: string;
  state: RewardCodeState;
  /** The order that used it, once used. */
  orderId: string | null;
  createdAt: string;
  closedAt: string | null;
}

export const rewardCodePrefix = 'RWD-';
/** Eight Crockford symbols: 40 random bits, so a guessed code hits an issued one about once in 10^12 tries. */
export const rewardCodeSymbols = 8;
/** Attempts to draw a code nobody holds; a clash among 2^40 codes is already rare. */
export const rewardCodeDrawsMax = 5;
export const rewardCodesListedMax = 200;

const crockfordAlphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const rewardCodeStates: readonly RewardCodeState[] = ['issued', 'used', 'cancelled'];

function toRewardCode(row: RewardCodesTable): RewardCode {
  assert((rewardCodeStates as readonly string[]).includes(row.state), `reward code ${row.id} has a known state`);
  return { id: row.id, code: row.code, customerId: row.customer_id, rewardId: row.reward_id, state: row.state as RewardCodeState, orderId: row.order_id, createdAt: row.created_at, closedAt: row.closed_at };
}

/** A new single-use code, e.g. `RWD-7K2M9QXD`. 256 is a multiple of 32, so `byte % 32` is uniform. */
export function generateRewardCode(): string {
  let symbols = '';
  for (const byte of randomBytes(rewardCodeSymbols)) symbols += crockfordAlphabet[byte % 32];
  return rewardCodePrefix + symbols;
}

/**
 * A code as typed or as a channel reports it, in stored form: trimmed, upper case, and (after the
 * prefix) Crockford's reading of look-alikes, I and L as 1, O as 0. Shopify codes are case-insensitive.
 */
export function normalizeRewardCode(typed: string): string {
  const upper = typed.trim().toUpperCase();
  if (!upper.startsWith(rewardCodePrefix)) return upper;
  return rewardCodePrefix + upper.slice(rewardCodePrefix.length).replace(/[IL]/g, '1').replace(/O/g, '0');
}

/** Stores a new issued code for a customer's redemption of a reward; retries the draw on a clash. */
export async function issueRewardCode(tx: Tx, merchantId: string, input: { customerId: string; rewardId: string }): Promise<RewardCode> {
  for (let draw = 0; draw < rewardCodeDrawsMax; draw += 1) {
    const row: RewardCodesTable = { merchant_id: merchantId, id: newId('rwc'), customer_id: input.customerId, reward_id: input.rewardId, code: generateRewardCode(), state: 'issued', order_id: null, created_at: nowIso(), closed_at: null };
    const inserted = await tx.insertInto('reward_codes').values(row).onConflict((conflict) => conflict.columns(['merchant_id', 'code']).doNothing()).returning('id').executeTakeFirst();
    if (inserted) return toRewardCode(row);
  }
  throw new Error(`Assertion failed: ${rewardCodeDrawsMax} random reward codes in a row were taken`);
}

export async function findRewardCode(db: Queryable, merchantId: string, typed: string): Promise<RewardCode | undefined> {
  const row = await db.selectFrom('reward_codes').selectAll().where('merchant_id', '=', merchantId).where('code', '=', normalizeRewardCode(typed)).executeTakeFirst();
  return row ? toRewardCode(row) : undefined;
}

export async function getRewardCode(db: Queryable, merchantId: string, typed: string): Promise<RewardCode> {
  const code = await findRewardCode(db, merchantId, typed);
  if (!code) throw new AppError('loyalty.reward_code_not_found', `No reward code ${typed}`, { code: typed });
  return code;
}

export async function getRewardCodeById(db: Queryable, merchantId: string, rewardCodeId: string): Promise<RewardCode> {
  const row = await db.selectFrom('reward_codes').selectAll().where('merchant_id', '=', merchantId).where('id', '=', rewardCodeId).executeTakeFirst();
  if (!row) throw new AppError('loyalty.reward_code_not_found', `No reward code ${rewardCodeId}`, { reward_code_id: rewardCodeId });
  return toRewardCode(row);
}

/**
 * Closes an issued code, once: one conditional update, so two orders (or an order and a
 * cancellation) racing for the same code cannot both win. False when it was no longer issued.
 */
export async function closeRewardCode(tx: Tx, merchantId: string, rewardCodeId: string, close: { state: 'used'; orderId: string } | { state: 'cancelled' }): Promise<boolean> {
  const result = await tx
    .updateTable('reward_codes')
    .set({ state: close.state, order_id: close.state === 'used' ? close.orderId : null, closed_at: nowIso() })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', rewardCodeId)
    .where('state', '=', 'issued')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Codes of a reward that count against its limits: issued or used (a cancelled code gave its points back). */
export async function countLiveRewardCodes(db: Queryable, merchantId: string, rewardId: string, customerId: string | null): Promise<number> {
  let query = db.selectFrom('reward_codes').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('reward_id', '=', rewardId).where('state', 'in', ['issued', 'used']);
  if (customerId !== null) query = query.where('customer_id', '=', customerId);
  return Number((await query.executeTakeFirstOrThrow()).count);
}

/** A customer's codes, newest first. */
export async function listRewardCodes(db: Queryable, merchantId: string, customerId: string, limit = rewardCodesListedMax): Promise<RewardCode[]> {
  const rows = await db.selectFrom('reward_codes').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(Math.min(limit, rewardCodesListedMax)).execute();
  return rows.map(toRewardCode);
}

/** The ledger key of the redemption that paid for a code; a cancellation restores against it. */
export function rewardCodeRedemptionKey(rewardCodeId: string): string {
  return `reward-code:${rewardCodeId}:redeem`;
}

export function rewardCodeCancellationKey(rewardCodeId: string): string {
  return `reward-code:${rewardCodeId}:cancel`;
}

/** The points the redemption behind a code took, or undefined when it was never posted. */
export async function findRedeemedPoints(db: Queryable, merchantId: string, rewardCodeId: string): Promise<number | undefined> {
  const row = await db.selectFrom('loyalty_transactions').select('points').where('merchant_id', '=', merchantId).where('idempotency_key', '=', rewardCodeRedemptionKey(rewardCodeId)).where('kind', '=', 'redeem').executeTakeFirst();
  return row?.points;
}
