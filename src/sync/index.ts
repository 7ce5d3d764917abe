/**
 * The sync engine: inbox (inbound events kept raw and applied once), outbox (outbound messages
 * delivered with retries and dead letters), the exceptions queue and the audit log.
 * Example: `await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'inventory.push', coalesceKey, payload })`.
 */
export * from './exceptions.ts';
export * from './inbox.ts';
export * from './inbox-writer.ts';
export * from './resource-key.ts';
export * from './outbox.ts';
export * from './outbox-replay.ts';
export * from './outbox-delivery.ts';
export * from './channel-circuits.ts';
export * from './exception-lifecycle.ts';
export * from './sync-gauges.ts';
export * from './sync-worker.ts';
export * from './scheduler.ts';
export * from './merchant-events.ts';
export * from './sync-health.ts';
export * from './retention.ts';
