import { normalizeEmail, resolveCustomer, type CustomerClaim, type IdentityRules } from '../customers/index.ts';
import { mergeCustomers } from './merge-customers.ts';
import { isDeclaredDistinct } from './scan-duplicates.ts';
import type { Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { raiseException } from '../sync/index.ts';

/** The merchant's identity settings as the customers domain takes them. */
export function identityRulesOf(merchant: Merchant): IdentityRules {
  return { defaultCountry: merchant.defaultCountry, ...merchant.settings.identity };
}

/** Raises "possible duplicate" once per pair of profiles, whichever event found them. */
export async function raisePossibleDuplicate(tx: Tx, merchantId: string, customerIds: [string, string], details: Record<string, unknown>): Promise<void> {
  const pair = [...customerIds].sort();
  await raiseException(tx, merchantId, { kind: 'possible_duplicate', dedupeKey: `duplicate:${pair.join(':')}`, subject: pair[0]!, details: { customer_ids: pair, ...details } });
}

/** The merchant allows automatic merges, and both sides hold the same email, verified by a channel. */
async function mayMergeAutomatically(tx: Tx, merchant: Merchant, claim: CustomerClaim, customerId: string, otherId: string): Promise<boolean> {
  if (!merchant.settings.identity.autoMergeVerifiedEmail || !claim.emailVerified || !claim.email) return false;
  if (await isDeclaredDistinct(tx, merchant.id, [customerId, otherId])) return false;
  const email = normalizeEmail(claim.email, merchant.settings.identity.foldGmailAddresses).normalized;
  const held = await tx.selectFrom('customer_identifiers').select('verified').where('merchant_id', '=', merchant.id).where('customer_id', '=', otherId).where('kind', '=', 'email').where('value_normalized', '=', email).executeTakeFirst();
  return held?.verified === 1;
}

/** Resolves the shopper an event names and raises a possible duplicate when identifiers disagree. */
export async function resolveEventCustomer(tx: Tx, merchant: Merchant, claim: CustomerClaim | null, eventRef: string): Promise<string | null> {
  if (!claim) return null;
  const resolution = await resolveCustomer(tx, merchant.id, identityRulesOf(merchant), claim);
  if (!resolution) return null;
  for (const otherId of resolution.conflictingCustomerIds) {
    if (await mayMergeAutomatically(tx, merchant, claim, resolution.customerId, otherId)) {
      await mergeCustomers(tx, merchant, { survivorId: resolution.customerId, mergedId: otherId, actor: 'policy', reason: `same verified email (${eventRef})` });
    } else {
      await raisePossibleDuplicate(tx, merchant.id, [resolution.customerId, otherId], { event: eventRef, reason: 'identifiers of one event name two profiles' });
    }
  }
  return resolution.customerId;
}
