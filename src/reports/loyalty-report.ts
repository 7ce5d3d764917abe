import { sql } from 'kysely';
import type { Queryable } from '../db/index.ts';
import { toInteger, type ReportPeriod } from './report-period.ts';

/**
 * Points moved on one day (UTC), from the ledger's transactions (store credit, kept in the same
 * ledger, is not points and is left out). Issued: earned on orders and given as bonuses; redeemed:
 * spent on rewards; reversed: taken back from refunded orders; expired; restored: redeemed points
 * given back by a return; adjusted: people's corrections, net (negative when more was taken).
 */
export interface LoyaltyDayRow {
  day: string;
  points_issued: number;
  points_redeemed: number;
  points_reversed: number;
  points_expired: number;
  points_restored: number;
  points_adjusted: number;
}

const fieldOfKind = {
  earn: 'points_issued', bonus: 'points_issued', redeem: 'points_redeemed', reverse: 'points_reversed', expire: 'points_expired', restore: 'points_restored', adjust: 'points_adjusted',
} as const satisfies Record<string, keyof Omit<LoyaltyDayRow, 'day'>>;

/** Points issued, redeemed, reversed and expired per day of the period, days without a movement left out. */
export async function reportLoyaltyByDay(db: Queryable, merchantId: string, period: ReportPeriod): Promise<LoyaltyDayRow[]> {
  const day = sql<string>`substr(created_at, 1, 10)`;
  const totals = await db
    .selectFrom('loyalty_transactions')
    .select((eb) => [day.as('day'), 'kind', eb.fn.sum('points').as('points')])
    .where('merchant_id', '=', merchantId)
    .where('asset', '=', 'points')
    .where('kind', 'in', Object.keys(fieldOfKind))
    .where('created_at', '>=', period.startIso)
    .where('created_at', '<', period.endIso)
    .groupBy([day, 'kind'])
    .execute();
  const rows = new Map<string, LoyaltyDayRow>();
  for (const total of totals) {
    let row = rows.get(total.day);
    if (!row) rows.set(total.day, (row = { day: total.day, points_issued: 0, points_redeemed: 0, points_reversed: 0, points_expired: 0, points_restored: 0, points_adjusted: 0 }));
    row[fieldOfKind[total.kind as keyof typeof fieldOfKind]] += toInteger(total.points);
  }
  return [...rows.values()].sort((a, b) => (a.day < b.day ? -1 : 1));
}
