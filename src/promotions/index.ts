/**
 * One set of promotion rules for every channel, and their usage counted across channels.
 * Example: `await evaluatePromotionCode(db, merchantId, { code: 'SUMMER10', channel: 'store', subtotalMinor: 5000 })` → 500 off.
 */
export * from './promotion-service.ts';
