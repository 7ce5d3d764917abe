/**
 * Canonical commands: writes that span domains, each applied in one transaction by its caller.
 * Connectors translate channel events into these; the HTTP layer calls them for API writes.
 */
export * from './record-channel-order.ts';
export * from './record-channel-refund.ts';
export * from './record-pos-sale.ts';
export * from './announce-changes.ts';
export * from './resolve-order-customer.ts';
export * from './customer-views.ts';
export * from './lookup-answer.ts';
export * from './adjust-stock.ts';
export * from './merge-customers.ts';
export * from './scan-duplicates.ts';
export * from './enroll-customer.ts';
export * from './exception-actions.ts';
export * from './privacy-requests.ts';
export * from './record-channel-stock.ts';
export * from './cancel-order.ts';
export * from './pickups.ts';
export * from './holds.ts';
export * from './order-views.ts';
export * from './loyalty-options.ts';
export * from './restore-redeemed-points.ts';
export * from './referrals.ts';
export { applyReferralOnOrder, payQualifiedReferrals } from './referral-rewards.ts';
export * from './tier-qualification.ts';
export * from './customer-tiers.ts';
export * from './customer-memberships.ts';
export * from './loyalty-bonuses.ts';
export * from './loyalty-jobs.ts';
export * from './define-reward.ts';
export * from './online-reward-codes.ts';
export * from './reward-limits.ts';
export * from './adjust-loyalty.ts';
export * from './return-order.ts';
export * from './exchange-order.ts';
export * from './store-credit-payments.ts';
export * from './price-cart.ts';
export * from './define-promotion.ts';
export * from './promotion-uses.ts';
export * from './offline-sale.ts';
export * from './accept-channel-stock.ts';
export * from './location-workflows.ts';
export * from './staff-accounts.ts';
