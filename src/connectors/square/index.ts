/**
 * The Square connector: notifications in (verify, store, prepare through the Square API outside the
 * transaction, translate, apply), the Square API client for reads, inventory changes and refunds,
 * and the outbox deliverer that pushes the refunds of returns made in Continuum and the stock
 * available at each location mapped to Square (BatchChangeInventory, `push-stock.ts`).
 */
export * from './webhook.ts';
export * from './inbound.ts';
export * from './deliver.ts';
export { reconcileSquareStock, type SquareStockReconciliation, type SquareStockDrift } from './reconcile-stock.ts';
export { createSquareClient, computeBackoffMs, SQUARE_API_VERSION, type SquareClient, type SquareClientOptions, type BatchChangeInventoryInput, type InventoryChangeInput, type RetrieveInventoryChangesInput, type RefundPaymentInput } from './client.ts';
