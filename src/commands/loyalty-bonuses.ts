import { sql } from 'kysely';
import { getCustomerIdentity } from '../customers/index.ts';
import type { Db, Tx } from '../db/index.ts';
import { earnPoints } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { announceCustomerChange } from './announce-changes.ts';
import { listLoyaltyJobMerchants } from './loyalty-jobs.ts';
import { bonusEarnOptionsOf } from './loyalty-options.ts';

// Bonus points for actions (issue #4): joining, the first visit to a store, a birthday. Each is
// posted once under a key derived from the customer (and the year, for birthdays), available at
// once and expiring like any lot. A bonus of 0 in the settings switches it off.

/** Customers read per page by the birthday job, and pages per merchant and run. */
export const birthdayCustomersPerPageMax = 200;
export const birthdayPagesPerRunMax = 50;

async function awardBonus(tx: Tx, merchant: Merchant, bonus: { customerId: string; points: number; idempotencyKey: string; memo: string }): Promise<boolean> {
  if (bonus.points <= 0) return false;
  // No order id on the transaction: a return of the order must cancel the order's own (pending)
  // points first, not the bonus, which belongs to the visit rather than to the goods.
  const posted = await earnPoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: bonus.customerId, points: bonus.points, idempotencyKey: bonus.idempotencyKey, memo: bonus.memo }, bonusEarnOptionsOf(merchant));
  if (posted) await announceCustomerChange(tx, merchant.id, bonus.customerId);
  return posted;
}

/** The sign-up bonus, for a profile that joins the program by enrolling (the caller knows she is new). */
export async function awardSignUpBonus(tx: Tx, merchant: Merchant, customerId: string): Promise<boolean> {
  return awardBonus(tx, merchant, { customerId, points: merchant.settings.loyalty.bonuses.signUp, idempotencyKey: `bonus:signup:${customerId}`, memo: 'Sign-up bonus' });
}

/**
 * The first-store-visit bonus, when the store order just recorded is her first order in the store
 * channel (an earlier store order, even cancelled, was her first visit).
 */
export async function awardFirstStoreVisitBonus(tx: Tx, merchant: Merchant, customerId: string, orderId: string): Promise<boolean> {
  const points = merchant.settings.loyalty.bonuses.firstStoreVisit;
  if (points <= 0) return false;
  const earlier = await tx.selectFrom('orders').select('id').where('merchant_id', '=', merchant.id).where('customer_id', '=', customerId).where('channel', '=', 'store').where('id', '<>', orderId).limit(1).executeTakeFirst();
  if (earlier) return false;
  return awardBonus(tx, merchant, { customerId, points, idempotencyKey: `bonus:first-store-visit:${customerId}`, memo: `First store visit (order ${orderId})` });
}

const birthdayPattern = /^(?:(\d{4})-)?(\d{2})-(\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Checks a birthday as the register gives it: `MM-DD`, or `YYYY-MM-DD` not in the future and not
 * before 1900. `02-29` is accepted without a year (it is celebrated on February 28 in other years).
 */
export function parseBirthday(value: string, now: Date): string {
  const match = birthdayPattern.exec(value);
  const invalid = (rule: string) => new AppError('customers.invalid_birthday', `birthday "${value}" ${rule}`, { field: 'birthday', rule });
  if (!match) throw invalid('is not MM-DD or YYYY-MM-DD');
  const year = match[1] === undefined ? null : Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12) throw invalid('has no such month');
  if (day < 1 || day > daysInMonth(year ?? 2000, month)) throw invalid('has no such day in that month');
  if (year !== null && (year < 1900 || value > now.toISOString().slice(0, 10))) throw invalid('is not a date between 1900 and today');
  return value;
}

/** Sets (or clears, with null) a customer's birthday. */
export async function setCustomerBirthday(tx: Tx, merchant: Merchant, customerId: string, birthday: string | null, now = new Date()): Promise<{ customerId: string; birthday: string | null }> {
  const identity = await getCustomerIdentity(tx, merchant.id, customerId);
  const value = birthday === null ? null : parseBirthday(birthday, now);
  await tx.updateTable('customers').set({ birthday: value, updated_at: now.toISOString() }).where('merchant_id', '=', merchant.id).where('id', '=', identity.id).execute();
  return { customerId: identity.id, birthday: value };
}

/** The month-days celebrated on `now`'s UTC date: February 29 birthdays fall on the 28th outside leap years. */
export function birthdaysCelebratedOn(now: Date): string[] {
  const monthDay = now.toISOString().slice(5, 10);
  const year = now.getUTCFullYear();
  return monthDay === '02-28' && daysInMonth(year, 2) === 28 ? [monthDay, '02-29'] : [monthDay];
}

async function awardMerchantBirthdays(db: Db, merchant: Merchant, now: Date): Promise<number> {
  const year = now.getUTCFullYear();
  const monthDays = birthdaysCelebratedOn(now);
  let awarded = 0;
  let after = '';
  for (let page = 0; page < birthdayPagesPerRunMax; page += 1) {
    const rows = await db
      .selectFrom('customers')
      .select('customers.id')
      .where('customers.merchant_id', '=', merchant.id)
      .where('customers.state', '=', 'active')
      .where('customers.id', '>', after)
      .where((eb) => eb.or(monthDays.flatMap((monthDay) => [eb('customers.birthday', '=', monthDay), eb('customers.birthday', 'like', `____-${monthDay}`)])))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('loyalty_transactions').select('loyalty_transactions.id').where('loyalty_transactions.merchant_id', '=', merchant.id).whereRef('loyalty_transactions.customer_id', '=', 'customers.id').where('loyalty_transactions.idempotency_key', '=', sql<string>`${'bonus:birthday:'} || customers.id || ${`:${year}`}`))))
      .orderBy('customers.id')
      .limit(birthdayCustomersPerPageMax)
      .execute();
    for (const row of rows) {
      const posted = await db.transaction().execute((tx) => awardBonus(tx, merchant, { customerId: row.id, points: merchant.settings.loyalty.bonuses.birthday, idempotencyKey: `bonus:birthday:${row.id}:${year}`, memo: `Birthday bonus ${year}` }));
      if (posted) awarded += 1;
    }
    if (rows.length < birthdayCustomersPerPageMax) break;
    after = rows[rows.length - 1]!.id;
  }
  return awarded;
}

/**
 * The scheduled birthday job: on her birthday (UTC date of `now`), once per year, each customer of
 * a merchant with a birthday bonus gets it. A run on the same day again finds the key already
 * posted and gives nothing; a day the scheduler missed whole is not made up.
 */
export async function awardDueBirthdayBonuses(db: Db, now = new Date()): Promise<number> {
  let awarded = 0;
  for (const merchant of await listLoyaltyJobMerchants(db)) {
    if (merchant.settings.loyalty.bonuses.birthday <= 0) continue;
    awarded += await awardMerchantBirthdays(db, merchant, now);
  }
  return awarded;
}
