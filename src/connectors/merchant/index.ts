/** Webhooks to the merchant's own systems (CRM, email), signed per Standard Webhooks. */
export * from './webhook-signature.ts';
export * from './deliver.ts';
