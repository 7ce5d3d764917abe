import type { Insertable } from 'kysely';
import type { Database, Db } from '../src/db/index.ts';
import { newId } from '../src/shared/ids.ts';

// Synthetic SKUs for the stock benchmark, loaded with multi-row inserts straight through Kysely:
// creating 100k products through the API would measure the catalog's write path, not stock. Each
// SKU is a product with one variant, a stock level at one location and the opening `receive`
// movement that explains its on hand, so the level still equals the sum of its movements.

export interface StockSkuPlan {
  merchantId: string;
  locationId: string;
  currency: string;
  /** SKUs are `${skuPrefix}-000001` and onwards. */
  skuPrefix: string;
  count: number;
  onHand: number;
  /** When given, SKU i is linked to Shopify inventory item `shopifyInventoryItemIdBase + i` (as a decimal string). */
  shopifyInventoryItemIdBase?: bigint;
}

export interface LoadedSku {
  sku: string;
  variantId: string;
  shopifyInventoryItemId: string | null;
}

export interface LoadedSkus {
  skus: LoadedSku[];
  loadMs: number;
}

export const stockSkuCountMax = 1_000_000;
const skusPerTransaction = 50_000;
// SQLite accepts at most 32,766 bound values per statement and PostgreSQL 65,535; stay well below both.
const boundValuesPerStatementMax = 30_000;
const priceMinor = 1_999;

type BulkTable = 'products' | 'variants' | 'stock_levels' | 'stock_movements' | 'external_refs';

async function insertInChunks<Table extends BulkTable>(db: Db, table: Table, rows: Insertable<Database[Table]>[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!).length;
  const rowsPerStatement = Math.floor(boundValuesPerStatementMax / columns);
  for (let start = 0; start < rows.length; start += rowsPerStatement) {
    // The rows are typed for their table by the caller; Kysely cannot narrow a generic table name here.
    await db.insertInto(table).values(rows.slice(start, start + rowsPerStatement) as never).execute();
  }
}

/** The SKU the loader gives item `index` (from 0) of a set: `${prefix}-000001` and onwards. */
export function skuName(prefix: string, index: number): string {
  return `${prefix}-${String(index + 1).padStart(6, '0')}`;
}

async function loadSkuBatch(db: Db, plan: StockSkuPlan, startIndex: number, count: number): Promise<LoadedSku[]> {
  const now = new Date().toISOString();
  const loaded: LoadedSku[] = [];
  const products: Insertable<Database['products']>[] = [];
  const variants: Insertable<Database['variants']>[] = [];
  const levels: Insertable<Database['stock_levels']>[] = [];
  const movements: Insertable<Database['stock_movements']>[] = [];
  const refs: Insertable<Database['external_refs']>[] = [];
  for (let index = startIndex; index < startIndex + count; index += 1) {
    const sku = skuName(plan.skuPrefix, index);
    const productId = newId('prod');
    const variantId = newId('var');
    const itemId = plan.shopifyInventoryItemIdBase === undefined ? null : String(plan.shopifyInventoryItemIdBase + BigInt(index));
    products.push({ id: productId, merchant_id: plan.merchantId, title: `Bench item ${sku}`, created_at: now });
    variants.push({ id: variantId, merchant_id: plan.merchantId, product_id: productId, sku, title: `Bench item ${sku} - One size`, price_minor: priceMinor, currency: plan.currency, created_at: now });
    levels.push({ merchant_id: plan.merchantId, location_id: plan.locationId, variant_id: variantId, on_hand: plan.onHand, reserved: 0, safety: 0, updated_at: now });
    movements.push({ id: newId('mov'), merchant_id: plan.merchantId, location_id: plan.locationId, variant_id: variantId, kind: 'receive', on_hand_delta: plan.onHand, reserved_delta: 0, source_key: `bench:opening:${sku}:${plan.locationId}`, reason: 'Benchmark opening stock', actor: 'bench', order_id: null, created_at: now });
    if (itemId !== null) refs.push({ merchant_id: plan.merchantId, entity: 'inventory_item', entity_id: variantId, channel: 'shopify', external_id: itemId });
    loaded.push({ sku, variantId, shopifyInventoryItemId: itemId });
  }
  await db.transaction().execute(async (tx) => {
    await insertInChunks(tx, 'products', products);
    await insertInChunks(tx, 'variants', variants);
    await insertInChunks(tx, 'stock_levels', levels);
    await insertInChunks(tx, 'stock_movements', movements);
    await insertInChunks(tx, 'external_refs', refs);
  });
  return loaded;
}

/**
 * Loads `plan.count` single-variant products stocked at one location, in transactions of 50,000.
 * Example: `await loadStockSkus(db, { merchantId, locationId, currency: 'USD', skuPrefix: 'SPREAD', count: 100_000, onHand: 1_000 })`.
 */
export async function loadStockSkus(db: Db, plan: StockSkuPlan): Promise<LoadedSkus> {
  if (!Number.isInteger(plan.count) || plan.count < 1 || plan.count > stockSkuCountMax) throw new Error(`SKU count must be 1 to ${stockSkuCountMax}, got ${plan.count}`);
  if (!Number.isSafeInteger(plan.onHand) || plan.onHand < 0) throw new Error(`on hand must be a non-negative integer, got ${plan.onHand}`);
  const startedAt = performance.now();
  const skus: LoadedSku[] = [];
  for (let start = 0; start < plan.count; start += skusPerTransaction) {
    skus.push(...(await loadSkuBatch(db, plan, start, Math.min(skusPerTransaction, plan.count - start))));
  }
  return { skus, loadMs: performance.now() - startedAt };
}
