import type { Queryable } from './database.ts';

/**
 * Reads a transaction may make once and keep for its length. The sync worker applies up to 50
 * events in one transaction, and each read again how its merchant is set up: the merchant, its
 * connected channels, its online fulfilment location, its webhook subscribers (4 of an order's ~35
 * statements; bench/orders-end-to-end.ts counts them). A transaction that asks
 * (`keepReadsForTransaction`, only the worker's) keeps those reads; every write to the tables they
 * read forgets all it kept (`forgetKeptReads`, called by each writer), so a later event of the
 * batch never sees what an earlier one changed as it was before; a savepoint rolled back forgets
 * it too (`inSavepoint`), so nothing read from writes that were undone is kept. On PostgreSQL a
 * change committed by another connection during a batch is seen from the next batch, as if the
 * batch's events had been applied a moment earlier.
 * Example: `const merchant = await keptRead(tx, 'merchant:' + id, () => readMerchant(tx, id))`.
 */
const keptByTransaction = new WeakMap<object, Map<string, Promise<unknown>>>();

/** Lets `tx` keep the reads made through `keptRead` until it ends. */
export function keepReadsForTransaction(tx: Queryable): void {
  keptByTransaction.set(tx, new Map());
}

/** Forgets what `db` kept (nothing when it keeps nothing): called by every writer of a kept read's table. */
export function forgetKeptReads(db: Queryable): void {
  keptByTransaction.get(db)?.clear();
}

/** `read()`, made once per key in a transaction that keeps reads, else every time. A failed read is not kept. */
export function keptRead<T>(db: Queryable, key: string, read: () => Promise<T>): Promise<T> {
  const kept = keptByTransaction.get(db);
  if (!kept) return read();
  const held = kept.get(key) as Promise<T> | undefined;
  if (held) return held;
  const reading = read();
  kept.set(key, reading);
  reading.catch(() => {
    if (kept.get(key) === reading) kept.delete(key);
  });
  return reading;
}
