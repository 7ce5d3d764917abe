/**
 * The sync engine: inbox (inbound events kept raw and applied once), outbox (outbound messages
 * delivered with retries and dead letters), the exceptions queue and the audit log.
 * Example: `await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey, payload })`.
 */
export * from './exceptions.ts';
export * from './inbox.ts';
export * from './outbox.ts';
export * from './sync-worker.ts';
export * from './scheduler.ts';
export * from './merchant-events.ts';
