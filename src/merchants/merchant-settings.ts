import { z } from 'zod';

/**
 * Per-merchant program settings with their documented defaults (docs/configuration.md).
 * Stored as JSON on the merchant row; missing fields take the defaults.
 */
export const merchantSettingsSchema = z.object({
  loyalty: z
    .object({
      /** Points earned per whole currency unit of merchandise after discounts, tax and shipping excluded. */
      pointsPerCurrencyUnit: z.number().int().min(0).max(1000).default(1),
      /** Name of the tier every member starts in. */
      baseTier: z.string().min(1).max(40).default('Member'),
      /** Days earned points stay pending (the return window) before they can be spent; 0 = at once. */
      pendingDays: z.number().int().min(0).max(365).default(30),
      /** Months after which each lot of earned points expires; 0 = never. */
      lotExpiryMonths: z.number().int().min(0).max(120).default(12),
      /** Months without activity after which the whole balance expires; 0 = never. */
      inactivityExpiryMonths: z.number().int().min(0).max(120).default(0),
      /** SKUs that never earn points (gift cards never do). */
      excludedSkus: z.array(z.string().max(200)).max(10_000).default([]),
      /** A reversal of points already spent may take the balance below zero (the debt stays on the account). */
      allowNegativeBalance: z.boolean().default(true),
      /** Points for actions: joining, a birthday, the first visit to a store. */
      bonuses: z.object({ signUp: z.number().int().min(0).max(1_000_000).default(0), birthday: z.number().int().min(0).max(1_000_000).default(0), firstStoreVisit: z.number().int().min(0).max(1_000_000).default(0) }).prefault({}),
      /** Tiers by qualifying spend (minor units) or points; the base tier has threshold 0. */
      tiers: z.array(z.object({ name: z.string().min(1).max(40), threshold: z.number().int().min(0), earnMultiplierBps: z.number().int().min(0).max(100_000).default(10_000) })).max(20).default([]),
      tierQualification: z
        .object({
          metric: z.enum(['spend', 'points']).default('spend'),
          period: z.enum(['rolling_12_months', 'calendar_year']).default('rolling_12_months'),
          downgrade: z.enum(['never', 'period_end', 'after_days']).default('period_end'),
          downgradeAfterDays: z.number().int().min(1).max(730).default(30),
        })
        .prefault({}),
      referral: z
        .object({
          /** Points the referrer gets once the friend's first order clears its return window. */
          referrerPoints: z.number().int().min(0).max(1_000_000).default(0),
          /** Points the friend gets on her first order. */
          friendPoints: z.number().int().min(0).max(1_000_000).default(0),
          /** More referrals than this by one member within the window go to review. */
          velocityMax: z.number().int().min(1).max(1000).default(5),
          velocityWindowDays: z.number().int().min(1).max(365).default(30),
        })
        .prefault({}),
    })
    .prefault({}),
  pickup: z
    .object({
      /** Days a ready pickup is held for the shopper before it expires and its units are released. */
      holdDays: z.number().int().min(1).max(90).default(7),
    })
    .prefault({}),
  returns: z
    .object({
      /** Days after the order a return is accepted; 0 = no limit. A manager can override. */
      windowDays: z.number().int().min(0).max(3650).default(30),
      /** Kept from returned merchandise (after discounts), in basis points; 0 = none. Waivable per line. */
      restockingFeeBps: z.number().int().min(0).max(10_000).default(0),
      /** `with_last_item`: shipping and its tax come back with the order's last unit; `never`: not refundable. */
      shippingRefund: z.enum(['with_last_item', 'never']).default('with_last_item'),
    })
    .prefault({}),
  identity: z
    .object({
      /** Fold Gmail addresses (dots and +tags in the local part) so j.doe+shop@gmail.com is jdoe@gmail.com. */
      foldGmailAddresses: z.boolean().default(false),
      /** Values that never link profiles: a store's own phone, a shared walk-in email. Placeholders such as 0000000000 are always blocked. */
      blockedEmails: z.array(z.string().max(320)).max(1000).default([]),
      blockedPhones: z.array(z.string().max(40)).max(1000).default([]),
      /** An identifier already shared by this many profiles is too common to link another (a shared store tablet). */
      maxProfilesPerIdentifier: z.number().int().min(1).max(100).default(3),
      /** Merge two profiles automatically when they share an email the channel verified; otherwise a person reviews. */
      autoMergeVerifiedEmail: z.boolean().default(false),
    })
    .prefault({}),
  sync: z
    .object({
      /**
       * Which system holds the truth for each kind of data (DESIGN.md, "Sources of truth"). A mirror's
       * copy never overwrites the owner's: see docs/configuration.md for what each choice does.
       */
      ownership: z
        .object({
          /** `continuum`: channels get mirrored tier, points and tags; their edits only fill what is empty. `shopify`: Shopify's profile fields overwrite ours. */
          customers: z.enum(['continuum', 'shopify']).default('continuum'),
          /** `continuum`: channels get available pushed, their edits arrive as adjustments. `shopify`: Shopify's figure is the truth and nothing is pushed back to it. */
          stock: z.enum(['continuum', 'shopify']).default('continuum'),
          /** `shopify`: products and prices are mirrored from Shopify. `continuum`: Shopify's edits are recorded and reported, never applied. */
          products: z.enum(['shopify', 'continuum']).default('shopify'),
          /** Orders always belong to the channel that took them; Continuum holds the unified record. */
          orders: z.literal('channel').default('channel'),
        })
        .prefault({}),
    })
    .prefault({}),
});

export type MerchantSettings = z.infer<typeof merchantSettingsSchema>;

export function parseMerchantSettings(json: string | object): MerchantSettings {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  return merchantSettingsSchema.parse(value);
}
