/**
 * Customer identity: one profile per shopper across channels, loyalty codes, lookup.
 * Example: `const { customerId } = await resolveCustomer(tx, merchantId, rules, { email: 'Jane@Example.com' })`.
 */
export * from './normalize-identifier.ts';
export * from './customer-service.ts';
export * from './customer-queries.ts';
export * from './loyalty-code.ts';
export * from './customer-merge-records.ts';
export * from './channel-customer-links.ts';
