import type { Db } from '../db/index.ts';
import { expireInactiveBalances } from '../loyalty/index.ts';
import { getMerchant, type Merchant } from '../merchants/index.ts';
import { announceCustomerChange } from './announce-changes.ts';

/** Merchants one run of a per-merchant loyalty job looks at. */
export const loyaltyJobMerchantsPerRunMax = 10_000;

/** The merchants a scheduled loyalty job walks, with their current settings. */
export async function listLoyaltyJobMerchants(db: Db): Promise<Merchant[]> {
  const rows = await db.selectFrom('merchants').select('id').orderBy('id').limit(loyaltyJobMerchantsPerRunMax).execute();
  const merchants: Merchant[] = [];
  for (const row of rows) merchants.push(await getMerchant(db, row.id));
  return merchants;
}

function addMonthsUtc(date: Date, months: number): Date {
  const result = new Date(date);
  result.setUTCMonth(result.getUTCMonth() + months);
  return result;
}

/**
 * The scheduled inactivity expiry: for each merchant whose program expires whole balances after
 * `inactivityExpiryMonths` without activity, expires the lots of accounts idle since then (a
 * bounded batch per merchant and run). Returns how many lots expired.
 */
export async function expireInactivePoints(db: Db, now = new Date()): Promise<number> {
  let expired = 0;
  for (const merchant of await listLoyaltyJobMerchants(db)) {
    const months = merchant.settings.loyalty.inactivityExpiryMonths;
    if (months <= 0) continue;
    expired += await expireInactiveBalances(db, merchant.id, addMonthsUtc(now, -months).toISOString(), announceCustomerChange);
  }
  return expired;
}
