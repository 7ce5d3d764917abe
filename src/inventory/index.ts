/**
 * Stock per location: levels, the append-only movement log, reservations, channel buffers, and
 * what each channel was last told.
 * Example: `await applyStockMovement(tx, merchantId, { locationId, variantId, kind: 'sale', onHandDelta: -1, sourceKey: 'order:ord_1:line:1', actor: 'pos', requireAvailable: true })`.
 */
export * from './stock-service.ts';
export * from './channel-stock-mirror.ts';
export * from './reservation-service.ts';
export * from './stock-buffers.ts';
export * from './channel-stock-time.ts';
export * from './last-stock-change.ts';
