/**
 * One set of promotion rules for every channel, and their usage counted across channels.
 * Example: `pricePromotions({ lines, context, candidates, unknownCodes: [], usage })` → what each
 * promotion takes off each line, and why the others do not apply (docs/promotions.md).
 */
export * from './promotion-rules.ts';
export * from './promotion-engine.ts';
export * from './promotion-service.ts';
