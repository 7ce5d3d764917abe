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
});

export type MerchantSettings = z.infer<typeof merchantSettingsSchema>;

export function parseMerchantSettings(json: string | object): MerchantSettings {
  const value = typeof json === 'string' ? (JSON.parse(json) as unknown) : json;
  return merchantSettingsSchema.parse(value);
}
