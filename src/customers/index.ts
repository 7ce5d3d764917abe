/**
 * Customer identity: one profile per shopper across channels.
 * Example: `const { customerId } = await resolveCustomer(tx, merchantId, 'CA', { email: 'Jane@Example.com' })`.
 */
export * from './normalize-identifier.ts';
export * from './customer-service.ts';
export * from './customer-queries.ts';
