/**
 * Merchants, their locations, API keys and connected channels.
 * Example: `const merchant = await createMerchant(db, { name: 'Demo Outfitters', currency: 'USD', defaultCountry: 'CA' })`.
 */
export * from './merchant-service.ts';
export * from './location-service.ts';
export * from './channel-account-service.ts';
export * from './channel-location-service.ts';
export { parseMerchantSettings, merchantSettingsSchema, type MerchantSettings } from './merchant-settings.ts';
