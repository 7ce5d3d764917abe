import type { ChannelSyncCursorsTable, Queryable } from '../../db/index.ts';
import { assert } from '../../shared/app-error.ts';
import { nowIso } from '../../shared/clock.ts';

// What the Shopify connector remembers between runs: the backfill's cursor per resource (so an
// interrupted backfill resumes at the page after the last one applied). Tombstones of deleted
// records are shared with the other connectors: ../channel-deletions.ts.

/** How far the backfill got with one resource (`products`, `inventory_levels:24826418`…). */
export interface SyncCursor {
  resource: string;
  /** The end cursor of the last page applied; null before the first. */
  cursor: string | null;
  state: 'running' | 'done';
  pages: number;
  items: number;
  /** What the pages did: created, updated, unchanged, stale, drift… */
  counts: Record<string, number>;
  startedAt: string;
  updatedAt: string;
  completedAt: string | null;
}

function toSyncCursor(row: ChannelSyncCursorsTable): SyncCursor {
  return {
    resource: row.resource, cursor: row.cursor, state: row.state === 'done' ? 'done' : 'running', pages: row.pages, items: row.items,
    counts: JSON.parse(row.counts_json) as Record<string, number>, startedAt: row.started_at, updatedAt: row.updated_at, completedAt: row.completed_at,
  };
}

export async function listSyncCursors(db: Queryable, merchantId: string): Promise<SyncCursor[]> {
  const rows = await db.selectFrom('channel_sync_cursors').selectAll().where('merchant_id', '=', merchantId).where('channel', '=', 'shopify').orderBy('started_at').orderBy('resource').execute();
  return rows.map(toSyncCursor);
}

export async function getSyncCursor(db: Queryable, merchantId: string, resource: string): Promise<SyncCursor | undefined> {
  const row = await db.selectFrom('channel_sync_cursors').selectAll().where('merchant_id', '=', merchantId).where('channel', '=', 'shopify').where('resource', '=', resource).executeTakeFirst();
  return row ? toSyncCursor(row) : undefined;
}

/** The resource's cursor, created at its start when it has none. */
export async function startSyncCursor(db: Queryable, merchantId: string, resource: string): Promise<SyncCursor> {
  const now = nowIso();
  await db
    .insertInto('channel_sync_cursors')
    .values({ merchant_id: merchantId, channel: 'shopify', resource, cursor: null, state: 'running', pages: 0, items: 0, counts_json: '{}', started_at: now, updated_at: now, completed_at: null })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'resource']).doNothing())
    .execute();
  const cursor = await getSyncCursor(db, merchantId, resource);
  assert(cursor, `the sync cursor of ${resource} exists once started`);
  return cursor;
}

/**
 * Moves the cursor past one applied page, in the transaction that applied it: the page and the
 * cursor commit together, so a resumed run neither skips nor repeats a page. Compare-and-swap on
 * the cursor held: a concurrent run of the same backfill fails here instead of applying twice.
 */
export async function advanceSyncCursor(db: Queryable, merchantId: string, held: SyncCursor, page: { endCursor: string | null; hasNextPage: boolean; items: number; counts: Record<string, number> }): Promise<SyncCursor> {
  const counts = { ...held.counts };
  for (const [key, value] of Object.entries(page.counts)) counts[key] = (counts[key] ?? 0) + value;
  const now = nowIso();
  const next: SyncCursor = {
    ...held, cursor: page.hasNextPage ? page.endCursor : held.cursor, state: page.hasNextPage ? 'running' : 'done', pages: held.pages + 1, items: held.items + page.items, counts, updatedAt: now, completedAt: page.hasNextPage ? null : now,
  };
  let query = db
    .updateTable('channel_sync_cursors')
    .set({ cursor: next.cursor, state: next.state, pages: next.pages, items: next.items, counts_json: JSON.stringify(next.counts), updated_at: now, completed_at: next.completedAt })
    .where('merchant_id', '=', merchantId)
    .where('channel', '=', 'shopify')
    .where('resource', '=', held.resource)
    .where('pages', '=', held.pages);
  query = held.cursor === null ? query.where('cursor', 'is', null) : query.where('cursor', '=', held.cursor);
  const result = await query.executeTakeFirst();
  assert(Number(result.numUpdatedRows) === 1, `the ${held.resource} backfill cursor was not moved by another run meanwhile`);
  return next;
}

/** Forgets every cursor, so the next backfill reads everything again (applying it changes nothing that is current). */
export async function resetSyncCursors(db: Queryable, merchantId: string): Promise<void> {
  await db.deleteFrom('channel_sync_cursors').where('merchant_id', '=', merchantId).where('channel', '=', 'shopify').execute();
}
