import { findCustomerIdsByIdentifier, normalizeChannelId, normalizeEmail, normalizePhone, type IdentifierKind } from '../customers/index.ts';
import type { Queryable } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { identityRulesOf } from './resolve-order-customer.ts';

/** Who a privacy request is about, as the channel names her; any of the three may be missing. */
export interface PrivacySubject {
  channelId: { kind: 'shopify_id' | 'square_id' | 'pos_id'; value: string } | null;
  email: string | null;
  phone: string | null;
}

const profilesPerRequestMax = 20;
const mergeHopsMax = 10;

/** The identifiers of a subject in matching order (channel id, email, phone), normalized; unusable ones dropped. */
function subjectIdentifiers(merchant: Merchant, subject: PrivacySubject): { kind: IdentifierKind; normalized: string }[] {
  const rules = identityRulesOf(merchant);
  const identifiers = [
    subject.channelId ? normalizeChannelId(subject.channelId.kind, subject.channelId.value) : undefined,
    subject.email?.trim() ? normalizeEmail(subject.email, rules.foldGmailAddresses) : undefined,
    subject.phone?.trim() ? normalizePhone(subject.phone, rules.defaultCountry) : undefined,
  ];
  return identifiers.flatMap((identifier) => (identifier?.valid ? [{ kind: identifier.kind, normalized: identifier.normalized }] : []));
}

/**
 * The profiles a privacy request is about. The strongest identifier that finds an active profile
 * decides, in the same order that decides which profile an order belongs to (channel id, email,
 * phone), so a request reaches exactly the profiles her events would reach and no weaker match
 * pulls in someone who merely shares a phone. The profiles once merged into them are hers too.
 */
export async function findPrivacySubjectProfiles(db: Queryable, merchant: Merchant, subject: PrivacySubject): Promise<string[]> {
  for (const identifier of subjectIdentifiers(merchant, subject)) {
    const found = await findCustomerIdsByIdentifier(db, merchant.id, identifier.kind, identifier.normalized, profilesPerRequestMax);
    if (found.length > 0) return withMergedProfiles(db, merchant.id, found);
  }
  return [];
}

/** Adds the profiles merged into these (following chains of merges), in a bounded walk. */
async function withMergedProfiles(db: Queryable, merchantId: string, customerIds: string[]): Promise<string[]> {
  const all = [...customerIds];
  let frontier = customerIds;
  for (let hop = 0; hop < mergeHopsMax && frontier.length > 0 && all.length < profilesPerRequestMax; hop += 1) {
    const rows = await db.selectFrom('customers').select('id').where('merchant_id', '=', merchantId).where('state', '=', 'merged').where('merged_into', 'in', frontier).orderBy('created_at').execute();
    frontier = rows.map((row) => row.id).filter((id) => !all.includes(id));
    all.push(...frontier);
  }
  return all.slice(0, profilesPerRequestMax);
}
