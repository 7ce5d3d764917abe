import { resolveCustomer, type CustomerClaim } from '../customers/index.ts';
import type { Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { raiseException } from '../sync/index.ts';

/** Resolves the shopper an event names and raises a possible duplicate when identifiers disagree. */
export async function resolveEventCustomer(tx: Tx, merchant: Merchant, claim: CustomerClaim | null, eventRef: string): Promise<string | null> {
  if (!claim) return null;
  const resolution = await resolveCustomer(tx, merchant.id, merchant.defaultCountry, claim);
  if (!resolution) return null;
  for (const otherId of resolution.conflictingCustomerIds) {
    const pair = [resolution.customerId, otherId].sort().join(':');
    await raiseException(tx, merchant.id, { kind: 'possible_duplicate', dedupeKey: `duplicate:${pair}`, subject: resolution.customerId, details: { customer_ids: [resolution.customerId, otherId], event: eventRef } });
  }
  return resolution.customerId;
}
