import type { Tx } from '../db/index.ts';
import { listVariantIdsStockedAt } from '../inventory/index.ts';
import { setLocationWorkflows, type Location, type LocationWorkflows } from '../merchants/index.ts';
import { writeAudit } from '../sync/index.ts';
import { announceStockChange } from './announce-changes.ts';

/** Levels of one location pushed again when its stock_push is turned back on; past this, `continuum reconcile --scope stock --repair` catches up. */
export const stockPushCatchUpMax = 50_000;
const stockPushPageSize = 1_000;

/**
 * Turns workflows on or off at a location, audited with who did it and what changed. Turning
 * stock_push back on queues a push of every level the location holds, so the channels learn what
 * changed while it was off. Nothing changes (and nothing is audited) when every switch already is
 * as asked.
 * Example: `await changeLocationWorkflows(tx, merchantId, storeId, { crossChannelReturns: false }, 'api:staff:stf_1')`.
 */
export async function changeLocationWorkflows(tx: Tx, merchantId: string, locationId: string, change: Partial<LocationWorkflows>, actor: string): Promise<Location> {
  const { before, after } = await setLocationWorkflows(tx, merchantId, locationId, change);
  const changed = (Object.keys(after.workflows) as (keyof LocationWorkflows)[]).filter((name) => before.workflows[name] !== after.workflows[name]);
  if (changed.length === 0) return after;
  await writeAudit(tx, merchantId, {
    actor, action: 'locations.workflows', subject: locationId,
    details: { changed: Object.fromEntries(changed.map((name) => [workflowApiName(name), { from: before.workflows[name], to: after.workflows[name] }])) },
  });
  if (!before.workflows.stockPush && after.workflows.stockPush) await pushEveryLevel(tx, merchantId, after);
  return after;
}

async function pushEveryLevel(tx: Tx, merchantId: string, location: Location): Promise<void> {
  let after: string | null = null;
  for (let pushed = 0; pushed < stockPushCatchUpMax; ) {
    const variantIds = await listVariantIdsStockedAt(tx, merchantId, location.id, after, stockPushPageSize);
    for (const variantId of variantIds) await announceStockChange(tx, merchantId, location, variantId);
    pushed += variantIds.length;
    if (variantIds.length < stockPushPageSize) return;
    after = variantIds[variantIds.length - 1]!;
  }
}

/** The API's name of a switch: `crossChannelReturns` is `cross_channel_returns`. */
export function workflowApiName(name: keyof LocationWorkflows): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}
