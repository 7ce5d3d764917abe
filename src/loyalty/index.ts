/**
 * The loyalty ledger: double-entry, append-only, with lots; rewards; the earning rule.
 * Example: `await earnPoints(tx, merchantId, 'Member', { customerId, points: 224, idempotencyKey: 'order:ord_1:earn', orderId: 'ord_1' })`.
 */
export * from './loyalty-ledger.ts';
export * from './reward-service.ts';
export * from './earning-rule.ts';
export * from './tier-service.ts';
export * from './earn-multiplier.ts';
export * from './membership-service.ts';
export * from './loyalty-account-queries.ts';
export * from './reward-codes.ts';
export * from './reward-handovers.ts';
export * from './referral-code.ts';
export * from './referral-repository.ts';
export * from './store-credit.ts';
