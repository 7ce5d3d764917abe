import { acceptChannelStock, announceStockChange, findChannelStockPlace } from '../../commands/index.ts';
import type { Db, Tx } from '../../db/index.ts';
import { applyStockMovement, channelAvailable, findStockLevel, getChannelBuffer, recordChannelReport } from '../../inventory/index.ts';
import { getMerchant, listLocations, recordChannelLocation, type Merchant } from '../../merchants/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { nowIso, toIso } from '../../shared/clock.ts';
import {
  PAGES_PER_CALL_MAX, paginate, readCustomersPage, readInventoryLevelsPage, readLocationsPage, readProductsPage, readResourceCounts,
  type Page, type ShopifyCustomerNode, type ShopifyInventoryLevelNode, type ShopifyLocationNode, type ShopifyProductNode, type ShopifyResourceCounts,
} from './admin-queries.ts';
import type { ShopifyAdminClient } from './client.ts';
import { shopifyGid } from './client.ts';
import { openShopifyAdminClient } from './connected-client.ts';
import type { ShopifyClientFactory } from './deliver.ts';
import { applyShopifyCustomer, applyShopifyProduct } from './inbound.ts';
import { advanceSyncCursor, listSyncCursors, resetSyncCursors, startSyncCursor, type SyncCursor } from './sync-store.ts';
import { numericShopifyId, translateShopifyCustomerNode, translateShopifyLocationNode, translateShopifyProductNode } from './translate.ts';

// The first-connection backfill: what the shop already holds when it is connected (its locations,
// products with variants, SKUs, prices and inventory item ids, customers, and stock per location),
// read page by page through the Admin API and applied the way the matching webhooks are applied.
// Resumable: each page is applied in one transaction together with the resource's cursor.
// Idempotent: a finished backfill is not read again; one read again (`restart`) applies records
// as their webhooks would, which changes nothing that is current.

/** Attempts of one page read while Shopify is unavailable (5xx, timeout) or still throttled. */
export const BACKFILL_READ_ATTEMPTS_MAX = 6;
const BACKFILL_RETRY_DELAY_MS_BASE = 1_000;
const BACKFILL_RETRY_DELAY_MS_MAX = 30_000;
/** Stock drifts listed in one call's result; all of them are counted, and `reconcile --scope stock` lists every one. */
export const BACKFILL_DRIFTS_LISTED_MAX = 200;
const retryableCodes = new Set(['connectors.shopify.unavailable', 'connectors.shopify.rate_limited']);

export interface BackfillStockDrift {
  location_id: string;
  variant_id: string;
  continuum_available: number;
  shopify_available: number;
}

export interface BackfillProgressEvent {
  resource: string;
  pages: number;
  items: number;
  /** What Shopify counts of this resource, when it says (products, customers, locations). */
  total: number | null;
  done: boolean;
}

export interface BackfillOptions {
  clientFactory?: ShopifyClientFactory;
  /** Pages applied by this call at most, across resources; the next call resumes. Default: all. */
  pagesMax?: number;
  /** Forget the cursors and read everything again. */
  restart?: boolean;
  onProgress?: (event: BackfillProgressEvent) => void;
  /** How to wait between attempts of a failed read; tests pass one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
  /** Items per page by resource; the defaults (admin-queries.ts) keep every query under Shopify's cost cap. */
  pageSizes?: Partial<BackfillPageSizes>;
}

export interface BackfillPageSizes {
  locations: number;
  products: number;
  customers: number;
  inventoryLevels: number;
}

export interface BackfillResult {
  state: 'running' | 'done';
  pagesApplied: number;
  totals: ShopifyResourceCounts | null;
  resources: SyncCursor[];
  drifts: BackfillStockDrift[];
  /** What a person should know: a mapped location Shopify does not have, … */
  notes: string[];
}

interface BackfillRun {
  db: Db;
  merchant: Merchant;
  client: ShopifyAdminClient;
  options: BackfillOptions;
  pagesLeft: number;
  pagesApplied: number;
  totals: ShopifyResourceCounts | null;
  drifts: BackfillStockDrift[];
  notes: string[];
}

type PageCounts = Record<string, number>;

interface ResourcePlan<Node> {
  resource: string;
  total: number | null;
  readPage: (after: string | null) => Promise<Page<Node>>;
  applyPage: (tx: Tx, nodes: Node[]) => Promise<PageCounts>;
}

/**
 * Runs (or resumes) the backfill of the merchant's connected Shopify store, resource by resource:
 * locations, products, customers, then stock levels at every location mapped here.
 * Example: `await backfillShopify(db, merchantId, { onProgress: (event) => console.log(event) })`.
 */
export async function backfillShopify(db: Db, merchantId: string, options: BackfillOptions = {}): Promise<BackfillResult> {
  const pagesMax = options.pagesMax ?? Number.MAX_SAFE_INTEGER;
  assert(Number.isSafeInteger(pagesMax) && pagesMax >= 1, 'backfillShopify: pagesMax is a positive integer');
  const merchant = await getMerchant(db, merchantId);
  const client = await openShopifyAdminClient(db, merchantId, options.clientFactory);
  if (options.restart) await resetSyncCursors(db, merchantId);
  const run: BackfillRun = { db, merchant, client, options, pagesLeft: pagesMax, pagesApplied: 0, totals: null, drifts: [], notes: [] };
  run.totals = await withRetries(run, () => readResourceCounts(client));
  const sizes = options.pageSizes ?? {};
  const locations: ResourcePlan<ShopifyLocationNode> = { resource: 'locations', total: run.totals.locations, readPage: (after) => readLocationsPage(client, after, sizes.locations), applyPage: (tx, nodes) => applyLocationsPage(tx, merchant, nodes) };
  const products: ResourcePlan<ShopifyProductNode> = { resource: 'products', total: run.totals.products, readPage: (after) => readProductsPage(client, after, sizes.products), applyPage: (tx, nodes) => applyProductsPage(tx, merchant, nodes) };
  const customers: ResourcePlan<ShopifyCustomerNode> = { resource: 'customers', total: run.totals.customers, readPage: (after) => readCustomersPage(client, after, sizes.customers), applyPage: (tx, nodes) => applyCustomersPage(tx, merchant, nodes) };
  if (!(await runResource(run, locations)) || !(await runResource(run, products)) || !(await runResource(run, customers))) return finish(run, 'running');
  for (const location of (await listLocations(db, merchantId)).filter((candidate) => candidate.shopifyLocationId)) {
    const shopifyLocationId = location.shopifyLocationId!;
    const levels: ResourcePlan<ShopifyInventoryLevelNode> = {
      resource: `inventory_levels:${shopifyLocationId}`, total: null,
      readPage: async (after) => {
        try {
          return await readInventoryLevelsPage(client, shopifyGid('Location', shopifyLocationId), after, sizes.inventoryLevels);
        } catch (error) {
          if (!(error instanceof AppError && error.code === 'connectors.shopify.not_found')) throw error;
          run.notes.push(`Shopify has no location ${shopifyLocationId}, which ${location.id} is mapped to: its stock was not read`);
          return { nodes: [], hasNextPage: false, endCursor: null };
        }
      },
      applyPage: (tx, nodes) => applyInventoryLevelsPage(tx, run, shopifyLocationId, nodes),
    };
    if (!(await runResource(run, levels))) return finish(run, 'running');
  }
  return finish(run, 'done');
}

/** The cursor row that stands for the whole run: done once every resource is. */
const RUN_RESOURCE = 'backfill';

/** What the backfill has done so far, without reading anything from Shopify. */
export async function getShopifyBackfillProgress(db: Db, merchantId: string): Promise<{ state: 'not_started' | 'running' | 'done'; resources: SyncCursor[] }> {
  const cursors = await listSyncCursors(db, merchantId);
  const run = cursors.find((cursor) => cursor.resource === RUN_RESOURCE);
  return { state: run ? run.state : 'not_started', resources: cursors.filter((cursor) => cursor !== run) };
}

async function finish(run: BackfillRun, state: 'running' | 'done'): Promise<BackfillResult> {
  const marker = await startSyncCursor(run.db, run.merchant.id, RUN_RESOURCE);
  if (state === 'done' && marker.state !== 'done') await advanceSyncCursor(run.db, run.merchant.id, marker, { endCursor: null, hasNextPage: false, items: 0, counts: {} });
  const { resources } = await getShopifyBackfillProgress(run.db, run.merchant.id);
  return { state, pagesApplied: run.pagesApplied, totals: run.totals, resources, drifts: run.drifts, notes: run.notes };
}

/**
 * Reads and applies one resource from its cursor. Each page is read outside any transaction (no
 * HTTP call holds one open) and applied in one, with the cursor. Returns false when the call's page
 * budget ran out before the resource was done.
 */
async function runResource<Node>(run: BackfillRun, plan: ResourcePlan<Node>): Promise<boolean> {
  let cursor = await startSyncCursor(run.db, run.merchant.id, plan.resource);
  while (cursor.state !== 'done' && run.pagesLeft > 0) {
    const pagesMax = Math.min(run.pagesLeft, PAGES_PER_CALL_MAX);
    for await (const page of paginate((after) => withRetries(run, () => plan.readPage(after)), { after: cursor.cursor, pagesMax })) {
      const held = cursor;
      cursor = await run.db.transaction().execute(async (tx) => {
        const counts = await plan.applyPage(tx, page.nodes);
        return advanceSyncCursor(tx, run.merchant.id, held, { endCursor: page.endCursor, hasNextPage: page.hasNextPage, items: page.nodes.length, counts });
      });
      run.pagesLeft -= 1;
      run.pagesApplied += 1;
      run.options.onProgress?.({ resource: plan.resource, pages: cursor.pages, items: cursor.items, total: plan.total, done: cursor.state === 'done' });
    }
  }
  return cursor.state === 'done';
}

/** Retries a read Shopify could not answer (5xx, timeout, throttled past the client's patience) with backoff. */
async function withRetries<T>(run: BackfillRun, read: () => Promise<T>): Promise<T> {
  const sleep = run.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof AppError && retryableCodes.has(error.code)) || attempt >= BACKFILL_READ_ATTEMPTS_MAX) throw error;
      await sleep(Math.min(BACKFILL_RETRY_DELAY_MS_MAX, BACKFILL_RETRY_DELAY_MS_BASE * 2 ** (attempt - 1)));
    }
  }
}

function count(counts: PageCounts, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

async function applyLocationsPage(tx: Tx, merchant: Merchant, nodes: ShopifyLocationNode[]): Promise<PageCounts> {
  const counts: PageCounts = {};
  for (const node of nodes) count(counts, await recordChannelLocation(tx, merchant.id, 'shopify', translateShopifyLocationNode(node)));
  return counts;
}

/** Products as `products/update` applies them: ownership, tombstones and versions are respected. */
async function applyProductsPage(tx: Tx, merchant: Merchant, nodes: ShopifyProductNode[]): Promise<PageCounts> {
  const counts: PageCounts = {};
  const readAt = { triggered_at: null, received_at: nowIso() };
  for (const node of nodes) count(counts, (await applyShopifyProduct(tx, merchant, translateShopifyProductNode(node, merchant.currency), readAt)).outcome === 'processed' ? 'applied' : 'not_applied');
  return counts;
}

/** Customers as `customers/update` applies them. */
async function applyCustomersPage(tx: Tx, merchant: Merchant, nodes: ShopifyCustomerNode[]): Promise<PageCounts> {
  const counts: PageCounts = {};
  for (const node of nodes) {
    const { claim, shopifyId, updatedAt } = translateShopifyCustomerNode(node);
    const outcome = await applyShopifyCustomer(tx, merchant, { claim, shopifyId, version: updatedAt }, `shopify:backfill:customer:${shopifyId}`);
    count(counts, outcome.outcome === 'processed' ? 'applied' : 'not_applied');
  }
  return counts;
}

/**
 * Stock levels at one location, respecting who owns stock. Shopify: its figure is the truth.
 * Continuum: where we hold no level yet, Shopify's figure is the initial count; where we do, a
 * different figure is a drift, reported and never imported.
 */
async function applyInventoryLevelsPage(tx: Tx, run: BackfillRun, shopifyLocationId: string, nodes: ShopifyInventoryLevelNode[]): Promise<PageCounts> {
  const counts: PageCounts = {};
  for (const node of nodes) {
    const available = node.quantities.find((quantity) => quantity.name === 'available')?.quantity;
    if (available === undefined || node.item.tracked === false) {
      count(counts, 'untracked');
      continue;
    }
    const itemId = numericShopifyId(node.item.id);
    const reportedAt = node.updatedAt ? toIso(node.updatedAt) : nowIso();
    const report = { channel: 'shopify' as const, channelItemId: itemId, channelLocationId: shopifyLocationId, available, reportedAt, eventRef: `shopify:backfill:level:${itemId}:${shopifyLocationId}` };
    if (run.merchant.settings.sync.ownership.stock === 'shopify') {
      count(counts, await acceptChannelStock(tx, run.merchant, report, `shopify:backfill:${reportedAt}:${available}`));
      continue;
    }
    count(counts, await compareOrImportLevel(tx, run, report));
  }
  return counts;
}

async function compareOrImportLevel(tx: Tx, run: BackfillRun, report: { channelItemId: string; channelLocationId: string; available: number; reportedAt: string }): Promise<'unmapped' | 'imported' | 'matching' | 'drift'> {
  const merchantId = run.merchant.id;
  const place = await findChannelStockPlace(tx, merchantId, 'shopify', report.channelItemId, report.channelLocationId);
  if (!place) return 'unmapped';
  const level = await findStockLevel(tx, merchantId, place.location.id, place.variantId);
  if (!level) {
    await applyStockMovement(tx, merchantId, {
      locationId: place.location.id, variantId: place.variantId, kind: 'count', onHandDelta: report.available, sourceKey: `shopify:backfill:initial:${place.location.id}:${place.variantId}`,
      actor: 'shopify', requireAvailable: false, reason: `Initial count from Shopify at first connection: ${report.available} available`,
    });
    await recordChannelReport(tx, merchantId, 'shopify', place.location.id, place.variantId, report.available, report.reportedAt);
    // The other channels (a Square store) learn the new truth; Shopify is told the figure it already shows.
    await announceStockChange(tx, merchantId, place.location, place.variantId);
    return 'imported';
  }
  const truth = channelAvailable(level.available, await getChannelBuffer(tx, merchantId, 'shopify', place.location.id));
  if (truth === report.available) return 'matching';
  if (run.drifts.length < BACKFILL_DRIFTS_LISTED_MAX) run.drifts.push({ location_id: place.location.id, variant_id: place.variantId, continuum_available: truth, shopify_available: report.available });
  return 'drift';
}
