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
    })
    .prefault({}),
  pickup: z
    .object({
      /** Days a ready pickup is held for the shopper before it expires and its units are released. */
      holdDays: z.number().int().min(1).max(90).default(7),
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
});

export type MerchantSettings = z.infer<typeof merchantSettingsSchema>;

export function parseMerchantSettings(json: string | object): MerchantSettings {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  return merchantSettingsSchema.parse(value);
}
