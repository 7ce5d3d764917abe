import type { Db } from '../db/index.ts';
import { expireInactiveBalances } from '../loyalty/index.ts';
import { getMerchant, type Merchant } from '../merchants/index.ts';
import { announceCustomerChange } from './announce-changes.ts';
import { emitMerchantEvent } from '../sync/index.ts';

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

const expiringNoticeDays = 30;
const expiringBatchMax = 500;

/**
 * Tells the merchant's systems, once per lot, that points will expire within 30 days, so they can
 * remind the shopper. Returns how many lots were announced.
 */
export async function announceExpiringPoints(db: Db, now = new Date()): Promise<number> {
  const horizon = new Date(now.getTime() + expiringNoticeDays * 86_400_000).toISOString();
  const lots = await db.selectFrom('loyalty_lots').select(['merchant_id', 'id', 'customer_id', 'remaining', 'expires_at'])
    .where('pending', '=', 0).where('remaining', '>', 0).where('expiry_notified_at', 'is', null).where('expires_at', '>', now.toISOString()).where('expires_at', '<=', horizon)
    .orderBy('expires_at').limit(expiringBatchMax).execute();
  for (const lot of lots) {
    await db.transaction().execute(async (tx) => {
      const marked = await tx.updateTable('loyalty_lots').set({ expiry_notified_at: now.toISOString() }).where('id', '=', lot.id).where('expiry_notified_at', 'is', null).executeTakeFirst();
      if (Number(marked.numUpdatedRows) !== 1) return;
      await emitMerchantEvent(tx, lot.merchant_id, 'loyalty.points_expiring', { customer_id: lot.customer_id, points: lot.remaining, expires_at: lot.expires_at });
    });
  }
  return lots.length;
}
