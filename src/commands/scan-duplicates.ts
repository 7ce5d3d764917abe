import type { Db, Queryable } from '../db/index.ts';
import { notSamePersonResolution } from './exception-actions.ts';
import type { Merchant } from '../merchants/index.ts';
import { mergeCustomers } from './merge-customers.ts';
import { raisePossibleDuplicate } from './resolve-order-customer.ts';

const sharedValuesPerScanMax = 10_000;

export interface DuplicateScanReport {
  sharedValues: number;
  raised: number;
  merged: number;
}

/** A person already said these two are different people: no scan or policy may merge them. */
export async function isDeclaredDistinct(db: Queryable, merchantId: string, customerIds: [string, string]): Promise<boolean> {
  const pair = [...customerIds].sort().join(':');
  const decided = await db.selectFrom('exceptions').select('resolution').where('merchant_id', '=', merchantId).where('dedupe_key', '=', `duplicate:${pair}`).where('state', '=', 'resolved').executeTakeFirst();
  return decided?.resolution === notSamePersonResolution;
}

/**
 * Looks over every active profile for emails and phones held by more than one (two accounts with
 * the same email: one made at the register, one online). Shared verified emails merge by policy
 * when the merchant allows it; everything else goes to the review queue, once per pair.
 */
export async function scanForDuplicates(db: Db, merchant: Merchant, actor: string): Promise<DuplicateScanReport> {
  const shared = await db
    .selectFrom('customer_identifiers')
    .innerJoin('customers', (join) => join.onRef('customers.id', '=', 'customer_identifiers.customer_id').onRef('customers.merchant_id', '=', 'customer_identifiers.merchant_id'))
    .select(['customer_identifiers.kind', 'customer_identifiers.value_normalized'])
    .select((eb) => eb.fn.count<number>('customer_identifiers.customer_id').distinct().as('profiles'))
    .where('customer_identifiers.merchant_id', '=', merchant.id)
    .where('customer_identifiers.is_valid', '=', 1)
    .where('customer_identifiers.kind', 'in', ['email', 'phone'])
    .where('customers.state', '=', 'active')
    .groupBy(['customer_identifiers.kind', 'customer_identifiers.value_normalized'])
    .having((eb) => eb.fn.count('customer_identifiers.customer_id').distinct(), '>', 1)
    .limit(sharedValuesPerScanMax)
    .execute();
  const report: DuplicateScanReport = { sharedValues: shared.length, raised: 0, merged: 0 };
  for (const value of shared) {
    await db.transaction().execute(async (tx) => {
      const holders = await tx
        .selectFrom('customer_identifiers')
        .innerJoin('customers', (join) => join.onRef('customers.id', '=', 'customer_identifiers.customer_id').onRef('customers.merchant_id', '=', 'customer_identifiers.merchant_id'))
        .select(['customers.id', 'customer_identifiers.verified'])
        .where('customer_identifiers.merchant_id', '=', merchant.id)
        .where('customer_identifiers.kind', '=', value.kind)
        .where('customer_identifiers.value_normalized', '=', value.value_normalized)
        .where('customer_identifiers.is_valid', '=', 1)
        .where('customers.state', '=', 'active')
        .orderBy('customers.created_at')
        .execute();
      const [oldest, ...others] = holders;
      if (!oldest) return;
      for (const other of others) {
        if (await isDeclaredDistinct(tx, merchant.id, [oldest.id, other.id])) continue;
        const verifiedPair = value.kind === 'email' && oldest.verified === 1 && other.verified === 1;
        if (verifiedPair && merchant.settings.identity.autoMergeVerifiedEmail) {
          await mergeCustomers(tx, merchant, { survivorId: oldest.id, mergedId: other.id, actor, reason: `same verified email ${value.value_normalized} (scan)` });
          report.merged += 1;
        } else {
          await raisePossibleDuplicate(tx, merchant.id, [oldest.id, other.id], { reason: `both hold ${value.kind} ${value.value_normalized}`, found_by: 'scan' });
          report.raised += 1;
        }
      }
    });
  }
  return report;
}
