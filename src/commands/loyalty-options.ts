import type { EarnOptions } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';

/** How a purchase's points are earned under the merchant's program: pending period and lot expiry. */
export function earnOptionsOf(merchant: Merchant): EarnOptions {
  return { pendingDays: merchant.settings.loyalty.pendingDays, expiryMonths: merchant.settings.loyalty.lotExpiryMonths };
}

/**
 * How bonus points (sign-up, birthday, first store visit) are earned: available at once, since
 * there is no purchase whose return window they could wait for, and expiring like any other lot.
 */
export function bonusEarnOptionsOf(merchant: Merchant): EarnOptions {
  return { pendingDays: 0, expiryMonths: merchant.settings.loyalty.lotExpiryMonths, kind: 'bonus' };
}

/** A line earns nothing when it is a gift card or its SKU is excluded by the program. */
export function lineEarns(merchant: Merchant, line: { sku: string | null; giftCard?: boolean }): boolean {
  return !line.giftCard && !(line.sku && merchant.settings.loyalty.excludedSkus.includes(line.sku));
}
