import type { Selectable } from 'kysely';
import { forgetKeptReads, keptRead, reuseQuery, type ParameterPlaceholders, type Queryable, type VariantsTable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type ExternalEntity = 'product' | 'variant' | 'inventory_item' | 'order';
export type ExternalChannel = 'shopify' | 'square';

export interface Variant {
  id: string;
  productId: string;
  sku: string;
  title: string;
  priceMinor: number;
  currency: string;
  /** Final sale: sold without returns (the return policy refuses its lines unless a manager overrides). */
  finalSale: boolean;
}

export interface VariantInput {
  sku: string;
  title: string;
  priceMinor: number;
  finalSale?: boolean;
  shopifyVariantId?: string | null;
  shopifyInventoryItemId?: string | null;
  squareCatalogObjectId?: string | null;
}

export interface ProductInput {
  title: string;
  shopifyProductId?: string | null;
  variants: VariantInput[];
}

function toVariant(row: Selectable<VariantsTable>): Variant {
  return { id: row.id, productId: row.product_id, sku: row.sku, title: row.title, priceMinor: row.price_minor, currency: row.currency, finalSale: row.final_sale === 1 };
}

/** Records our id ⇄ a channel's id for one entity. */
export async function linkExternalRef(db: Queryable, merchantId: string, entity: ExternalEntity, entityId: string, channel: ExternalChannel, externalId: string): Promise<void> {
  forgetKeptReads(db);
  await db
    .insertInto('external_refs')
    .values({ merchant_id: merchantId, entity, entity_id: entityId, channel, external_id: externalId })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'entity', 'external_id']).doNothing())
    .execute();
}

// Every stock push names the channel's ids of the variant: built and compiled once (issue #9).
const externalIdOfEntity = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; entity: ExternalEntity; entityId: string; channel: ExternalChannel }>) => db
  .selectFrom('external_refs').select('external_id')
  .where('merchant_id', '=', param('merchantId')).where('entity', '=', param('entity')).where('entity_id', '=', param('entityId')).where('channel', '=', param('channel')));

export async function findExternalId(db: Queryable, merchantId: string, entity: ExternalEntity, entityId: string, channel: ExternalChannel): Promise<string | undefined> {
  const [row] = await externalIdOfEntity.execute(db, { merchantId, entity, entityId, channel });
  return row?.external_id;
}

// Every stock report of a channel maps its item through here: built and compiled once (issue #9).
const entityIdByExternalId = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; entity: ExternalEntity; channel: ExternalChannel; externalId: string }>) => db
  .selectFrom('external_refs').select('entity_id')
  .where('merchant_id', '=', param('merchantId')).where('entity', '=', param('entity')).where('channel', '=', param('channel')).where('external_id', '=', param('externalId')));

export async function findEntityIdByExternalId(db: Queryable, merchantId: string, entity: ExternalEntity, channel: ExternalChannel, externalId: string): Promise<string | undefined> {
  const [row] = await entityIdByExternalId.execute(db, { merchantId, entity, channel, externalId });
  return row?.entity_id;
}

/** Creates a product with its variants (each a unique SKU) and their channel mappings. */
export async function createProduct(db: Queryable, merchantId: string, currency: string, input: ProductInput): Promise<{ id: string; title: string; variants: Variant[] }> {
  const productId = newId('prod');
  await db.insertInto('products').values({ id: productId, merchant_id: merchantId, title: input.title, created_at: nowIso() }).execute();
  if (input.shopifyProductId) await linkExternalRef(db, merchantId, 'product', productId, 'shopify', input.shopifyProductId);
  const variants: Variant[] = [];
  for (const variantInput of input.variants) variants.push(await createVariant(db, merchantId, currency, productId, variantInput));
  return { id: productId, title: input.title, variants };
}

async function createVariant(db: Queryable, merchantId: string, currency: string, productId: string, input: VariantInput): Promise<Variant> {
  const existing = await findVariantBySku(db, merchantId, input.sku);
  if (existing) throw new AppError('catalog.duplicate_sku', `SKU ${input.sku} already exists`, { field: 'sku', sku: input.sku });
  const row: Selectable<VariantsTable> = { id: newId('var'), merchant_id: merchantId, product_id: productId, sku: input.sku, title: input.title, price_minor: input.priceMinor, currency, created_at: nowIso(), final_sale: input.finalSale ? 1 : 0 };
  forgetKeptReads(db);
  await db.insertInto('variants').values(row).execute();
  if (input.shopifyVariantId) await linkExternalRef(db, merchantId, 'variant', row.id, 'shopify', input.shopifyVariantId);
  if (input.shopifyInventoryItemId) await linkExternalRef(db, merchantId, 'inventory_item', row.id, 'shopify', input.shopifyInventoryItemId);
  if (input.squareCatalogObjectId) await linkExternalRef(db, merchantId, 'variant', row.id, 'square', input.squareCatalogObjectId);
  return toVariant(row);
}

// Every hold and every sale line reads its variant by SKU: built and compiled once (issue #9).
const variantBySku = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; sku: string }>) => db.selectFrom('variants').selectAll().where('merchant_id', '=', param('merchantId')).where('sku', '=', param('sku')));

export async function findVariantBySku(db: Queryable, merchantId: string, sku: string): Promise<Variant | undefined> {
  const [row] = await variantBySku.execute(db, { merchantId, sku });
  return row ? toVariant(row) : undefined;
}

const variantById = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; variantId: string }>) => db.selectFrom('variants').selectAll().where('merchant_id', '=', param('merchantId')).where('id', '=', param('variantId')));

export async function getVariant(db: Queryable, merchantId: string, variantId: string): Promise<Variant> {
  const [row] = await variantById.execute(db, { merchantId, variantId });
  if (!row) throw new AppError('catalog.variant_not_found', `No variant ${variantId}`, { variant_id: variantId });
  return toVariant(row);
}

// Every line of a channel order: the mapping and the variant in one statement rather than two (issue #9).
const variantByExternalId = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; channel: ExternalChannel; externalId: string }>) => db
  .selectFrom('external_refs')
  .innerJoin('variants', (join) => join.onRef('variants.merchant_id', '=', 'external_refs.merchant_id').onRef('variants.id', '=', 'external_refs.entity_id'))
  .selectAll('variants')
  .where('external_refs.merchant_id', '=', param('merchantId')).where('external_refs.entity', '=', 'variant')
  .where('external_refs.channel', '=', param('channel')).where('external_refs.external_id', '=', param('externalId')));

/**
 * Finds the variant a channel line names: by the channel's variant id first, then by SKU. The
 * first is kept for the transaction when it keeps reads (the worker's batch of up to 50 events,
 * src/db/transaction-memo.ts): a sale's orders name the same few variants again and again (1.5
 * statements an order in bench/orders-end-to-end.ts). Every writer of variants and their channel
 * ids forgets what was kept.
 */
export async function findVariantForChannelLine(db: Queryable, merchantId: string, channel: ExternalChannel, line: { externalVariantId?: string | null; sku?: string | null }): Promise<Variant | undefined> {
  const externalId = line.externalVariantId;
  if (externalId) {
    const variant = await keptRead(db, `channel-variant:${merchantId}:${channel}:${externalId}`, async () => {
      const [row] = await variantByExternalId.execute(db, { merchantId, channel, externalId });
      // Shared by the readers of the transaction: nobody may change it.
      return row ? Object.freeze(toVariant(row)) : undefined;
    });
    if (variant) return variant;
  }
  return line.sku ? findVariantBySku(db, merchantId, line.sku) : undefined;
}

export async function listProducts(db: Queryable, merchantId: string): Promise<{ id: string; title: string; archivedAt: string | null; variants: Variant[] }[]> {
  const products = await db.selectFrom('products').selectAll().where('merchant_id', '=', merchantId).orderBy('created_at').execute();
  const variants = await db.selectFrom('variants').selectAll().where('merchant_id', '=', merchantId).orderBy('sku').execute();
  return products.map((product) => ({ id: product.id, title: product.title, archivedAt: product.archived_at ?? null, variants: variants.filter((variant) => variant.product_id === product.id).map(toVariant) }));
}

export interface MirroredProduct {
  channel: ExternalChannel;
  productRef: string;
  title: string;
  updatedAt: string | null;
  variants: { variantRef: string; inventoryItemRef: string | null; sku: string | null; title: string; priceMinor: number }[];
}

export interface MirrorResult {
  /** Null when the channel's product matched nothing here and nothing was created (`applyChanges: false`). */
  productId: string | null;
  created: number;
  updated: number;
  /** Variants without a SKU: they cannot be matched to a register's catalog. */
  skippedWithoutSku: string[];
  stale: boolean;
  /** The product was deleted in the channel and is archived here: nothing was changed. */
  archived: boolean;
  /** What the channel says differently from us, when we do not apply it (`applyChanges: false`). */
  differences: CatalogDifference[];
}

/** One way a channel's copy of the catalogue differs from ours. */
export interface CatalogDifference {
  /** The SKU, or the channel's product id for a product-level difference. */
  subject: string;
  field: 'title' | 'price_minor' | 'missing_here';
  held: string | number | null;
  channel: string | number | null;
}

export interface MirrorOptions {
  /**
   * True (the default) when the channel owns the catalogue: its titles and prices are applied, and
   * products and variants are created. False when Continuum owns it: the channel's ids are linked
   * to the variants we have (by id, then SKU), nothing else changes, and the differences are returned.
   */
  applyChanges?: boolean;
}

function emptyMirrorResult(productId: string | null, overrides: Partial<MirrorResult> = {}): MirrorResult {
  return { productId, created: 0, updated: 0, skippedWithoutSku: [], stale: false, archived: false, differences: [], ...overrides };
}

/**
 * Mirrors a product from the channel that owns the catalogue (Shopify by default): creates or
 * updates its variants by the channel's variant id, then by SKU, with title and price. An older
 * version than the one held changes nothing, and so does any version of a product the channel
 * deleted (archived here). With `applyChanges: false` only the channel's ids are linked.
 */
export async function mirrorProduct(db: Queryable, merchantId: string, currency: string, product: MirroredProduct, options: MirrorOptions = {}): Promise<MirrorResult> {
  if (options.applyChanges === false) return linkChannelProduct(db, merchantId, product);
  let productId = await findEntityIdByExternalId(db, merchantId, 'product', product.channel, product.productRef);
  if (productId) {
    const held = await db.selectFrom('products').select(['source_updated_at', 'archived_at']).where('merchant_id', '=', merchantId).where('id', '=', productId).executeTakeFirstOrThrow();
    if (held.archived_at) return emptyMirrorResult(productId, { archived: true });
    if (product.updatedAt && held.source_updated_at && product.updatedAt < held.source_updated_at) return emptyMirrorResult(productId, { stale: true });
    await db.updateTable('products').set({ title: product.title, source_updated_at: product.updatedAt }).where('merchant_id', '=', merchantId).where('id', '=', productId).execute();
  } else {
    productId = newId('prod');
    await db.insertInto('products').values({ id: productId, merchant_id: merchantId, title: product.title, created_at: nowIso(), source_updated_at: product.updatedAt }).execute();
    await linkExternalRef(db, merchantId, 'product', productId, product.channel, product.productRef);
  }
  const result = emptyMirrorResult(productId);
  for (const variant of product.variants) {
    const existing = await findVariantForChannelLine(db, merchantId, product.channel, { externalVariantId: variant.variantRef, sku: variant.sku });
    if (existing) {
      forgetKeptReads(db);
      await db.updateTable('variants').set({ title: variant.title, price_minor: variant.priceMinor, ...(variant.sku ? { sku: variant.sku } : {}) }).where('merchant_id', '=', merchantId).where('id', '=', existing.id).execute();
      result.updated += 1;
    } else if (variant.sku) {
      const created = await createVariant(db, merchantId, currency, productId, { sku: variant.sku, title: variant.title, priceMinor: variant.priceMinor });
      result.created += 1;
      await linkVariantRefs(db, merchantId, created.id, product.channel, variant);
      continue;
    } else {
      result.skippedWithoutSku.push(variant.variantRef);
      continue;
    }
    await linkVariantRefs(db, merchantId, existing.id, product.channel, variant);
  }
  return result;
}

async function linkVariantRefs(db: Queryable, merchantId: string, variantId: string, channel: ExternalChannel, variant: MirroredProduct['variants'][number]): Promise<void> {
  await linkExternalRef(db, merchantId, 'variant', variantId, channel, variant.variantRef);
  if (variant.inventoryItemRef) await linkExternalRef(db, merchantId, 'inventory_item', variantId, channel, variant.inventoryItemRef);
}

/**
 * The catalogue belongs to Continuum: the channel's product and variant ids are linked to the
 * variants we hold (by the channel's id, then SKU), and every title, price or variant we do not
 * share is returned as a difference; no title or price changes and nothing is created.
 */
async function linkChannelProduct(db: Queryable, merchantId: string, product: MirroredProduct): Promise<MirrorResult> {
  let productId = await findEntityIdByExternalId(db, merchantId, 'product', product.channel, product.productRef);
  const result = emptyMirrorResult(productId ?? null);
  if (productId) {
    const held = await db.selectFrom('products').select(['title', 'source_updated_at', 'archived_at']).where('merchant_id', '=', merchantId).where('id', '=', productId).executeTakeFirstOrThrow();
    if (held.archived_at) return { ...result, archived: true };
    if (product.updatedAt && held.source_updated_at && product.updatedAt < held.source_updated_at) return { ...result, stale: true };
    if (held.title !== product.title) result.differences.push({ subject: product.productRef, field: 'title', held: held.title, channel: product.title });
    await db.updateTable('products').set({ source_updated_at: product.updatedAt }).where('merchant_id', '=', merchantId).where('id', '=', productId).execute();
  }
  for (const variant of product.variants) {
    const existing = await findVariantForChannelLine(db, merchantId, product.channel, { externalVariantId: variant.variantRef, sku: variant.sku });
    if (!existing) {
      if (variant.sku) result.differences.push({ subject: variant.sku, field: 'missing_here', held: null, channel: variant.title });
      else result.skippedWithoutSku.push(variant.variantRef);
      continue;
    }
    if (!productId) {
      productId = existing.productId;
      result.productId = productId;
      await linkExternalRef(db, merchantId, 'product', productId, product.channel, product.productRef);
    }
    if (existing.title !== variant.title) result.differences.push({ subject: existing.sku, field: 'title', held: existing.title, channel: variant.title });
    if (existing.priceMinor !== variant.priceMinor) result.differences.push({ subject: existing.sku, field: 'price_minor', held: existing.priceMinor, channel: variant.priceMinor });
    await linkVariantRefs(db, merchantId, existing.id, product.channel, variant);
  }
  return result;
}

/**
 * A product the channel deleted: archived, never deleted, so its variants keep their orders,
 * returns and stock history. The variants are no longer pushed to the channel, and a later version
 * of the product from the channel (a late or replayed update) is not applied. Returns `unknown`
 * when no product here carries the channel's id.
 */
export async function archiveChannelProduct(db: Queryable, merchantId: string, channel: ExternalChannel, productRef: string, archivedAt: string): Promise<{ outcome: 'archived' | 'already_archived' | 'unknown'; productId: string | null }> {
  const productId = await findEntityIdByExternalId(db, merchantId, 'product', channel, productRef);
  if (!productId) return { outcome: 'unknown', productId: null };
  const result = await db.updateTable('products').set({ archived_at: archivedAt }).where('merchant_id', '=', merchantId).where('id', '=', productId).where('archived_at', 'is', null).executeTakeFirst();
  return { outcome: Number(result.numUpdatedRows) === 1 ? 'archived' : 'already_archived', productId };
}

const archivedAtOfVariant = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; variantId: string }>) => db
  .selectFrom('variants')
  .innerJoin('products', (join) => join.onRef('products.id', '=', 'variants.product_id').onRef('products.merchant_id', '=', 'variants.merchant_id'))
  .select('products.archived_at')
  .where('variants.merchant_id', '=', param('merchantId'))
  .where('variants.id', '=', param('variantId')));

/** True when the variant's product was deleted in its channel (archived here). Asked before every stock push. */
export async function isVariantArchived(db: Queryable, merchantId: string, variantId: string): Promise<boolean> {
  const [row] = await archivedAtOfVariant.execute(db, { merchantId, variantId });
  return Boolean(row?.archived_at);
}

/**
 * The merchant's variants whose products are not archived (deleted in Shopify), by SKU, at most
 * `limit`: what a channel is told stock of, so what a reconciliation compares.
 */
export async function listLiveVariants(db: Queryable, merchantId: string, limit: number): Promise<{ id: string; sku: string }[]> {
  return db
    .selectFrom('variants')
    .innerJoin('products', (join) => join.onRef('products.id', '=', 'variants.product_id').onRef('products.merchant_id', '=', 'variants.merchant_id'))
    .select(['variants.id', 'variants.sku'])
    .where('variants.merchant_id', '=', merchantId)
    .where('products.archived_at', 'is', null)
    .orderBy('variants.sku')
    .limit(limit)
    .execute();
}
