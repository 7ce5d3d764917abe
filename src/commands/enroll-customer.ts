import type { Tx } from '../db/index.ts';
import { ensureLoyaltyAccount, loyaltyAccountExists } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { awardSignUpBonus } from './loyalty-bonuses.ts';
import { resolveEventCustomer } from './resolve-order-customer.ts';

/**
 * Enrols a shopper at the register or online: finds her profile by what she gives, or creates one
 * with its loyalty code, and opens her loyalty account. She is new to the program when this opens
 * her account (no earlier enrolment, purchase with points or import did), and then gets the
 * sign-up bonus, once (`bonus:signup:<customer>`).
 */
export async function enrollCustomer(tx: Tx, merchant: Merchant, input: { email: string | null; phone: string | null; firstName: string | null; lastName: string | null; source: string }): Promise<{ customerId: string; joined: boolean }> {
  if (!input.email && !input.phone) throw new AppError('customers.identifier_required', 'Give an email or a phone to enrol', { field: 'email' });
  const customerId = await resolveEventCustomer(tx, merchant, { email: input.email, phone: input.phone, firstName: input.firstName, lastName: input.lastName, source: input.source }, `enrol:${input.source}`);
  if (!customerId) throw new AppError('customers.identifier_required', 'The email and phone given cannot identify anyone (invalid or blocked)', { field: 'email' });
  const joined = !(await loyaltyAccountExists(tx, merchant.id, customerId));
  await ensureLoyaltyAccount(tx, merchant.id, customerId, merchant.settings.loyalty.baseTier);
  if (joined) await awardSignUpBonus(tx, merchant, customerId);
  return { customerId, joined };
}
