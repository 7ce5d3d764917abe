import type { ObservedPush } from './shopify-push-recorder.ts';

// The delay from a register sale to Shopify: from the moment the sale was acknowledged to the
// register to the first moment Shopify's available for the item was at or below the available right
// after that sale, i.e. a pushed figure that includes the sale. Several sales coalesce into one push,
// so one push ends the delay of every sale it includes.

export interface AcknowledgedSale {
  saleId: string;
  /** Milliseconds since the epoch. */
  ackAtMs: number;
}

export interface CommittedSale {
  inventoryItemId: string;
  /** The item's available at the store right after this sale committed. */
  availableAfter: number;
}

export interface SalePushDelays {
  sales: number;
  /** Sales whose figure Shopify never showed while we watched. */
  unpushed: number;
  /** Sales whose figure reached Shopify before the register read the answer (counted as 0 ms). */
  pushedBeforeAck: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The nearest-rank percentile (0-100) of ascending values; NaN when there are none. */
export function percentileOfSorted(sorted: number[], percentile: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.max(0, Math.ceil((percentile / 100) * sorted.length) - 1)]!;
}

/** Per item, the times at which Shopify's figure first reached each new low, in time order. */
function indexLows(pushes: ObservedPush[]): Map<string, { atMs: number; low: number }[]> {
  const lows = new Map<string, { atMs: number; low: number }[]>();
  for (const push of [...pushes].sort((a, b) => a.atMs - b.atMs)) {
    const list = lows.get(push.inventoryItemId) ?? [];
    const last = list[list.length - 1];
    if (!last || push.availableAfter < last.low) list.push({ atMs: push.atMs, low: push.availableAfter });
    lows.set(push.inventoryItemId, list);
  }
  return lows;
}

/** The first time Shopify's figure was at or below `available`, by binary search over descending lows. */
function firstAtOrBelow(list: { atMs: number; low: number }[], available: number): number | undefined {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (list[middle]!.low <= available) high = middle;
    else low = middle + 1;
  }
  return list[low]?.atMs;
}

/** Computes the delay of every acknowledged sale found in `committed`; sales not found there are not counted. */
export function computeSalePushDelays(acknowledged: AcknowledgedSale[], committed: Map<string, CommittedSale>, pushes: ObservedPush[]): SalePushDelays {
  const lows = indexLows(pushes);
  const delays: number[] = [];
  let unpushed = 0;
  let pushedBeforeAck = 0;
  for (const sale of acknowledged) {
    const commit = committed.get(sale.saleId);
    if (!commit) continue;
    const pushedAtMs = firstAtOrBelow(lows.get(commit.inventoryItemId) ?? [], commit.availableAfter);
    if (pushedAtMs === undefined) {
      unpushed += 1;
      continue;
    }
    if (pushedAtMs < sale.ackAtMs) pushedBeforeAck += 1;
    delays.push(Math.max(0, pushedAtMs - sale.ackAtMs));
  }
  delays.sort((a, b) => a - b);
  return { sales: delays.length + unpushed, unpushed, pushedBeforeAck, p50Ms: percentileOfSorted(delays, 50), p99Ms: percentileOfSorted(delays, 99), maxMs: delays[delays.length - 1] ?? Number.NaN };
}
