import type { FakeShopify, FakeShopifyRequest } from '../fakes/fake-shopify.ts';

// Times the stock pushes the fake Shopify receives, without changing the fake: its `requests` list
// is wrapped so that each request is stamped when the fake takes it (the fake reads the body, then
// records, decides and applies the request in one synchronous step), and Shopify's `available` for
// the item is read right after that step, in a microtask. So an observation says "from this moment
// Shopify showed this figure", whether the push applied, was stale (compare-and-swap) or throttled.

export interface ObservedPush {
  /** When the fake took the request, in milliseconds since the epoch (performance.timeOrigin + now). */
  atMs: number;
  inventoryItemId: string;
  /** Shopify's available for the item at the location right after the request. */
  availableAfter: number;
}

export interface PushCounts {
  /** inventorySetQuantities requests for the tracked items, by the fake's outcome (executed, throttled, replayed...). */
  mutations: Record<string, number>;
  /** Executed mutations whose compare quantity did not match (CHANGE_FROM_QUANTITY_STALE): nothing applied. */
  stale: number;
  /** Reads of a tracked item's available figure (the client reads first when it has no last known figure, or after a stale compare). */
  reads: number;
}

export interface PushRecorder {
  pushes: ObservedPush[];
  counts: PushCounts;
  /** Stops recording; the fake's list behaves as before. */
  stop(): void;
}

const observedPushesMax = 1_000_000;

interface SetQuantitiesEntry {
  inventoryItemId?: unknown;
  locationId?: unknown;
  changeFromQuantity?: unknown;
}

/**
 * Records every push to `locationId` (a GID) for the given items (GIDs) from now until `stop()`.
 * Example: `const recorder = recordShopifyPushes(fake, 'gid://shopify/Location/1', ['gid://shopify/InventoryItem/2'])`.
 */
export function recordShopifyPushes(fake: FakeShopify, locationId: string, inventoryItemIds: string[]): PushRecorder {
  const tracked = new Set(inventoryItemIds);
  const pushes: ObservedPush[] = [];
  const counts: PushCounts = { mutations: {}, stale: 0, reads: 0 };
  const requests = fake.requests;
  const push = Array.prototype.push;

  function observe(record: FakeShopifyRequest, atMs: number, before: Map<string, number>): void {
    if (record.operation === 'inventoryItem') {
      if (record.variables.locationId === locationId && tracked.has(String(record.variables.inventoryItemId))) counts.reads += 1;
      return;
    }
    if (record.operation !== 'inventorySetQuantities') return;
    const input = record.variables.input as { quantities?: SetQuantitiesEntry[] } | undefined;
    const entries = (input?.quantities ?? []).filter((entry) => typeof entry.inventoryItemId === 'string' && entry.locationId === locationId && tracked.has(entry.inventoryItemId));
    if (entries.length === 0) return;
    counts.mutations[record.outcome] = (counts.mutations[record.outcome] ?? 0) + 1;
    if (record.outcome !== 'executed') return;
    for (const entry of entries) {
      const item = entry.inventoryItemId as string;
      if (entry.changeFromQuantity !== before.get(item)) counts.stale += 1;
      if (pushes.length < observedPushesMax) pushes.push({ atMs, inventoryItemId: item, availableAfter: fake.quantity(item, locationId) });
    }
  }

  // An own property shadows Array.prototype.push on this one array; stop() deletes it again.
  Object.defineProperty(requests, 'push', {
    configurable: true,
    writable: true,
    value(...records: FakeShopifyRequest[]): number {
      const atMs = performance.timeOrigin + performance.now();
      const before = new Map([...tracked].map((item) => [item, fake.quantity(item, locationId)]));
      queueMicrotask(() => records.forEach((record) => observe(record, atMs, before)));
      return push.apply(requests, records);
    },
  });
  return { pushes, counts, stop: () => void Reflect.deleteProperty(requests, 'push') };
}
