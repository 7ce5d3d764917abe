/**
 * Returns and refunds against any order from any channel.
 * Example: `pointsToReverse({ pointsEarned: 81, quantity: 1, returnedQuantity: 0 }, 1)` → 81.
 */
export * from './return-service.ts';
export * from './refund-allocation.ts';
export * from './find-return.ts';
export * from './exchange-settlement.ts';
