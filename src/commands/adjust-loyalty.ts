import { getCustomerIdentity } from '../customers/index.ts';
import type { Tx } from '../db/index.ts';
import { adjustPoints } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { newId } from '../shared/ids.ts';
import { writeAudit } from '../sync/index.ts';
import { announceCustomerChange } from './announce-changes.ts';

/**
 * A person's correction of a balance, with the reason, written to the audit log: points added as a
 * new lot, or taken from lots (never below zero). Same reference twice adjusts once.
 */
export async function adjustCustomerPoints(tx: Tx, merchant: Merchant, input: { customerId: string; points: number; reason: string; reference: string | null; actor: string }): Promise<{ adjusted: boolean }> {
  await getCustomerIdentity(tx, merchant.id, input.customerId);
  const key = `adjust:${input.reference ?? newId('adj')}`;
  const adjusted = await adjustPoints(tx, merchant.id, merchant.settings.loyalty.baseTier, { customerId: input.customerId, points: input.points, idempotencyKey: key, memo: input.reason }, merchant.settings.loyalty.lotExpiryMonths);
  if (!adjusted) return { adjusted };
  await writeAudit(tx, merchant.id, { actor: input.actor, action: 'loyalty.adjust', subject: input.customerId, details: { points: input.points, reason: input.reason, key } });
  await announceCustomerChange(tx, merchant.id, input.customerId);
  return { adjusted };
}
