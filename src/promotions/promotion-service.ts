import { sql } from 'kysely';
import { z } from 'zod';
import { reuseQuery, type ParameterPlaceholders, type PromotionsTable, type Queryable, type Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { PromotionUsage } from './promotion-engine.ts';
import { actionValue, assertValidRule, noConditions, promotionKinds, type PromotionAction, type PromotionConditions, type Promotion, type PromotionKind, type SalesChannel } from './promotion-rules.ts';

// Promotions and their uses: the repository of the rule engine. Every change to a merchant's
// promotions changes its version token, which the in-memory copy of the active promotions checks.

export type { Promotion, PromotionKind, SalesChannel } from './promotion-rules.ts';

/** A merchant has at most this many active promotions (the pricing engine reads all of them). */
export const activePromotionsPerMerchantMax = 10_000;
/** Merchants whose active promotions are kept in memory by one process. */
const cachedMerchantsMax = 1_000;
/** Promotions of one name read to find the automatic one Shopify names by title (two are already ambiguous). */
const automaticNameMatchesMax = 10;
/** Rows of a per-customer usage list. */
export const usageByCustomerListMax = 100;

/** A promotion to define: the first API's shape (`kind` and `value`) or a full rule (`action`). */
export interface PromotionInput {
  code?: string | null;
  name: string;
  kind?: 'percent_off_order' | 'amount_off_order';
  value?: number;
  action?: PromotionAction;
  channels?: SalesChannel[];
  startsAt?: string | null;
  endsAt?: string | null;
  automatic?: boolean;
  priority?: number;
  exclusive?: boolean;
  stackable?: boolean;
  totalUsageMax?: number | null;
  perCustomerUsageMax?: number | null;
  conditions?: Partial<PromotionConditions>;
}

/** What a change may set; the action may change its values but not its kind. */
export type PromotionChanges = Partial<Pick<Promotion, 'name' | 'channels' | 'startsAt' | 'endsAt' | 'active' | 'priority' | 'exclusive' | 'stackable' | 'totalUsageMax' | 'perCustomerUsageMax' | 'action'>> & { conditions?: Partial<PromotionConditions> };

const selectorSchema = z.object({ skus: z.array(z.string()), productIds: z.array(z.string()) });
const storedActionDetails = z.object({
  items: selectorSchema.optional(),
  buy: selectorSchema.extend({ quantity: z.number().int() }).optional(),
  get: selectorSchema.extend({ quantity: z.number().int(), percentBps: z.number().int() }).optional(),
  usesPerOrderMax: z.number().int().nullable().optional(),
  sku: z.string().optional(),
  quantity: z.number().int().optional(),
  prices: z.array(z.object({ sku: z.string(), unitPriceMinor: z.number().int() })).optional(),
});
const storedConditions = z.object({
  locationIds: z.array(z.string()).default([]),
  customerTiers: z.array(z.string()).default([]),
  memberships: z.array(z.string()).default([]),
  firstOrder: z.boolean().default(false),
  minSubtotalMinor: z.number().int().nullable().default(null),
  items: selectorSchema.nullable().default(null),
  hours: z.object({ days: z.array(z.number().int()), start: z.string(), end: z.string(), timeZone: z.string() }).nullable().default(null),
});

/** The action of a stored row: its kind and value, with the details kept as JSON (none for the first promotions). */
function actionOfRow(kind: PromotionKind, value: number, detailsJson: string): PromotionAction {
  const details = storedActionDetails.parse(JSON.parse(detailsJson));
  const everything = { skus: [], productIds: [] };
  switch (kind) {
    case 'percent_off_order':
      return { type: kind, percentBps: value };
    case 'amount_off_order':
      return { type: kind, amountMinor: value };
    case 'percent_off_lines':
      return { type: kind, percentBps: value, items: details.items ?? everything };
    case 'amount_off_lines':
      return { type: kind, amountMinor: value, items: details.items ?? everything };
    case 'buy_x_get_y':
      assert(details.buy && details.get, 'a stored buy-X-get-Y has its buy and get sets');
      return { type: kind, buy: details.buy, get: details.get, usesPerOrderMax: details.usesPerOrderMax ?? null };
    case 'free_item':
      assert(details.sku !== undefined, 'a stored free item names its SKU');
      return { type: kind, sku: details.sku, quantity: details.quantity ?? 1 };
    case 'free_shipping':
      return { type: kind };
    case 'member_price':
      return { type: kind, prices: details.prices ?? [] };
  }
}

/** The details of an action that its kind and value do not hold. */
function actionDetailsJson(action: PromotionAction): string {
  const { type: _type, ...rest } = action;
  const details: Record<string, unknown> = { ...rest };
  delete details['percentBps'];
  delete details['amountMinor'];
  return JSON.stringify(details);
}

function toPromotion(row: PromotionsTable): Promotion {
  assert((promotionKinds as readonly string[]).includes(row.kind), `promotion ${row.id} has a known kind`);
  const kind = row.kind as PromotionKind;
  return {
    id: row.id, code: row.code, name: row.name, kind, value: Number(row.value), channels: JSON.parse(row.channels) as SalesChannel[], active: row.active === 1,
    startsAt: row.starts_at, endsAt: row.ends_at, automatic: row.automatic === 1, priority: Number(row.priority), exclusive: row.exclusive === 1, stackable: row.stackable === 1,
    totalUsageMax: row.total_usage_max === null ? null : Number(row.total_usage_max), perCustomerUsageMax: row.per_customer_usage_max === null ? null : Number(row.per_customer_usage_max),
    conditions: storedConditions.parse(JSON.parse(row.conditions_json)), action: actionOfRow(kind, Number(row.value), row.action_json),
    shopifyDiscountId: row.shopify_discount_id, createdAt: row.created_at, updatedAt: row.updated_at,
  };
}

function toRow(merchantId: string, promotion: Promotion): PromotionsTable {
  return {
    id: promotion.id, merchant_id: merchantId, code: promotion.code, name: promotion.name, kind: promotion.kind, value: promotion.value, channels: JSON.stringify(promotion.channels),
    active: promotion.active ? 1 : 0, starts_at: promotion.startsAt, ends_at: promotion.endsAt, created_at: promotion.createdAt, updated_at: promotion.updatedAt,
    automatic: promotion.automatic ? 1 : 0, priority: promotion.priority, exclusive: promotion.exclusive ? 1 : 0, stackable: promotion.stackable ? 1 : 0,
    total_usage_max: promotion.totalUsageMax, per_customer_usage_max: promotion.perCustomerUsageMax,
    conditions_json: JSON.stringify(promotion.conditions), action_json: actionDetailsJson(promotion.action), shopify_discount_id: promotion.shopifyDiscountId,
  };
}

export function normalizePromotionCode(code: string): string {
  return code.trim().toUpperCase();
}

/** The action of an input: a full rule's, or the first API's kind and value. */
function actionOfInput(input: PromotionInput): PromotionAction {
  if (input.action) return input.action;
  if (input.kind === undefined || input.value === undefined) throw new AppError('promotions.invalid_rule', 'action: a promotion needs an action (or the kind and value of a percent or amount off the order)', { field: 'action' });
  if (input.kind === 'percent_off_order' && (input.value <= 0 || input.value > 10_000)) {
    throw new AppError('promotions.invalid_value', 'A percent-off value is basis points between 1 and 10000', { field: 'value', value: input.value });
  }
  return input.kind === 'percent_off_order' ? { type: 'percent_off_order', percentBps: input.value } : { type: 'amount_off_order', amountMinor: input.value };
}

/** Gives the merchant's promotions a new version token, so every process reloads its copy. */
async function touchPromotionVersion(db: Queryable, merchantId: string): Promise<void> {
  const now = nowIso();
  await db
    .insertInto('promotion_versions')
    .values({ merchant_id: merchantId, version: newId('pver'), updated_at: now })
    .onConflict((conflict) => conflict.column('merchant_id').doUpdateSet((eb) => ({ version: eb.ref('excluded.version'), updated_at: eb.ref('excluded.updated_at') })))
    .execute();
}

async function assertActiveRoom(db: Queryable, merchantId: string): Promise<void> {
  const row = await db.selectFrom('promotions').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('active', '=', 1).executeTakeFirstOrThrow();
  if (Number(row.count) >= activePromotionsPerMerchantMax) {
    throw new AppError('promotions.invalid_count', `A merchant has at most ${activePromotionsPerMerchantMax} active promotions; deactivate one first`, { limit: activePromotionsPerMerchantMax });
  }
}

/**
 * Defines a promotion for every channel. The rule is checked (422 `promotions.invalid_rule`) and a
 * code is unique per merchant (409 `promotions.duplicate_code`).
 * Example: `await createPromotion(tx, merchantId, { code: 'SUMMER10', name: 'Summer', kind: 'percent_off_order', value: 1000 })`.
 */
export async function createPromotion(db: Queryable, merchantId: string, input: PromotionInput): Promise<Promotion> {
  const code = input.code === undefined || input.code === null ? null : normalizePromotionCode(input.code);
  const action = actionOfInput(input);
  const now = nowIso();
  const promotion: Promotion = {
    id: newId('promo'), code, name: input.name, kind: action.type, value: actionValue(action), channels: input.channels ?? ['online', 'store'], active: true,
    startsAt: input.startsAt ?? null, endsAt: input.endsAt ?? null, automatic: input.automatic ?? false, priority: input.priority ?? 0, exclusive: input.exclusive ?? false,
    stackable: input.stackable ?? true, totalUsageMax: input.totalUsageMax ?? null, perCustomerUsageMax: input.perCustomerUsageMax ?? null,
    conditions: { ...noConditions, ...input.conditions }, action, shopifyDiscountId: null, createdAt: now, updatedAt: now,
  };
  assertValidRule(promotion);
  if (code !== null) {
    const existing = await db.selectFrom('promotions').select('id').where('merchant_id', '=', merchantId).where('code', '=', code).executeTakeFirst();
    if (existing) throw new AppError('promotions.duplicate_code', `A promotion with code ${code} exists`, { field: 'code', code });
  }
  await assertActiveRoom(db, merchantId);
  await db.insertInto('promotions').values(toRow(merchantId, promotion)).execute();
  await touchPromotionVersion(db, merchantId);
  return promotion;
}

/**
 * Changes a promotion. Its kind stays (422 otherwise: a new kind is a new promotion); the rule is
 * checked again as a whole. Returns the promotion as it now is.
 */
export async function updatePromotion(db: Queryable, merchantId: string, promotionId: string, changes: PromotionChanges): Promise<Promotion> {
  const current = await getPromotion(db, merchantId, promotionId);
  if (changes.action && changes.action.type !== current.kind) {
    throw new AppError('promotions.invalid_change', `action.type: ${current.code ?? current.name} is a ${current.kind} promotion; a new kind is a new promotion`, { field: 'action.type', kind: current.kind });
  }
  const { conditions, ...rest } = changes;
  const action = changes.action ?? current.action;
  const updated: Promotion = { ...current, ...rest, action, value: actionValue(action), conditions: { ...current.conditions, ...conditions }, updatedAt: nowIso() };
  assertValidRule(updated);
  if (updated.active && !current.active) await assertActiveRoom(db, merchantId);
  // The Shopify id is the deliverer's note, written beside this change: never overwritten here.
  const { id: _id, merchant_id: _merchant, created_at: _created, shopify_discount_id: _shopify, ...row } = toRow(merchantId, updated);
  await db.updateTable('promotions').set(row).where('merchant_id', '=', merchantId).where('id', '=', promotionId).execute();
  await touchPromotionVersion(db, merchantId);
  return updated;
}

/** Records the id of the promotion's discount in Shopify (a note, not a change of the rule). */
export async function setPromotionShopifyDiscountId(db: Queryable, merchantId: string, promotionId: string, shopifyDiscountId: string | null): Promise<void> {
  await db.updateTable('promotions').set({ shopify_discount_id: shopifyDiscountId }).where('merchant_id', '=', merchantId).where('id', '=', promotionId).execute();
}

export async function listPromotions(db: Queryable, merchantId: string): Promise<Promotion[]> {
  const rows = await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).orderBy('code').orderBy('id').limit(activePromotionsPerMerchantMax).execute();
  return rows.map(toPromotion);
}

export async function findPromotionByCode(db: Queryable, merchantId: string, code: string): Promise<Promotion | undefined> {
  const row = await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).where('code', '=', normalizePromotionCode(code)).executeTakeFirst();
  return row ? toPromotion(row) : undefined;
}

/**
 * The automatic promotion valid online whose name is `name`: what Shopify calls the automatic
 * discount Continuum pushed for it. Of two with one name, the one pushed to Shopify; when that
 * still leaves two, neither (undefined), as a wrong one would be counted.
 */
export async function findOnlineAutomaticPromotionByName(db: Queryable, merchantId: string, name: string): Promise<Promotion | undefined> {
  const rows = await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).where('automatic', '=', 1).where('name', '=', name).orderBy('id').limit(automaticNameMatchesMax).execute();
  const online = rows.map(toPromotion).filter((promotion) => promotion.channels.includes('online'));
  const candidates = online.length > 1 ? online.filter((promotion) => promotion.shopifyDiscountId !== null) : online;
  return candidates.length === 1 ? candidates[0] : undefined;
}

/** A promotion by its id or, failing that, its code. */
export async function findPromotion(db: Queryable, merchantId: string, idOrCode: string): Promise<Promotion | undefined> {
  const row = await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).where('id', '=', idOrCode).executeTakeFirst();
  return row ? toPromotion(row) : findPromotionByCode(db, merchantId, idOrCode);
}

export async function getPromotion(db: Queryable, merchantId: string, idOrCode: string): Promise<Promotion> {
  const promotion = await findPromotion(db, merchantId, idOrCode);
  if (!promotion) throw new AppError('promotions.not_found', `No promotion ${idOrCode}`, { promotion: idOrCode });
  return promotion;
}

/** The active promotions of a merchant, as one process keeps them: every one, the automatic ones, and by code. */
export interface ActivePromotions {
  version: string | null;
  all: readonly Promotion[];
  automatic: readonly Promotion[];
  byCode: ReadonlyMap<string, Promotion>;
}

const activeByMerchant = new Map<string, ActivePromotions>();

// Read by every sale and cart to know whether the promotions kept in memory are current.
const promotionVersion = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string }>) => db
  .selectFrom('promotion_versions').select('version').where('merchant_id', '=', param('merchantId')));

async function readPromotionVersion(db: Queryable, merchantId: string): Promise<string | null> {
  const [row] = await promotionVersion.execute(db, { merchantId });
  return row?.version ?? null;
}

/**
 * The merchant's active promotions, from memory while its version token is unchanged (one
 * primary-key read), otherwise read again. Tokens are never reused, so a copy read inside a
 * transaction that rolled back can never pass for a committed version. `useMemory: false` reads
 * them every time (what the benchmark compares against).
 */
export async function loadActivePromotions(db: Queryable, merchantId: string, options: { useMemory?: boolean } = {}): Promise<ActivePromotions> {
  const version = await readPromotionVersion(db, merchantId);
  const held = activeByMerchant.get(merchantId);
  if (options.useMemory !== false && held && held.version === version) return held;
  const rows = await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).where('active', '=', 1).orderBy('id').limit(activePromotionsPerMerchantMax).execute();
  const all = rows.map(toPromotion);
  const loaded: ActivePromotions = { version, all, automatic: all.filter((promotion) => promotion.automatic), byCode: new Map(all.flatMap((promotion) => (promotion.code === null ? [] : [[promotion.code, promotion] as const]))) };
  if (options.useMemory !== false) {
    if (!activeByMerchant.has(merchantId) && activeByMerchant.size >= cachedMerchantsMax) activeByMerchant.delete(activeByMerchant.keys().next().value!);
    activeByMerchant.set(merchantId, loaded);
  }
  return loaded;
}

function countOf(value: unknown): number {
  const count = Number(value ?? 0);
  assert(Number.isSafeInteger(count) && count >= 0, 'a count is a non-negative safe integer');
  return count;
}

/** Uses of these promotions so far across channels, in all and by one customer (one grouped read). */
export async function countPromotionUsage(db: Queryable, merchantId: string, promotionIds: readonly string[], customerId: string | null): Promise<Map<string, PromotionUsage>> {
  const usage = new Map<string, PromotionUsage>();
  if (promotionIds.length === 0) return usage;
  const rows = await db
    .selectFrom('promotion_redemptions')
    .select('promotion_id')
    .select((eb) => eb.fn.countAll().as('total'))
    .select(sql<number>`sum(case when customer_id = ${customerId ?? ''} then 1 else 0 end)`.as('by_customer'))
    .where('merchant_id', '=', merchantId)
    .where('promotion_id', 'in', [...promotionIds])
    .groupBy('promotion_id')
    .execute();
  for (const row of rows) usage.set(row.promotion_id, { total: countOf(row.total), byCustomer: customerId === null ? 0 : countOf(row.by_customer) });
  return usage;
}

/**
 * Takes the promotion's row lock until the transaction ends, by a write that changes nothing, so
 * two sales using a limited promotion count its uses one after the other (on PostgreSQL the second
 * waits here; SQLite transactions already run one at a time).
 */
export async function lockPromotionForRedemption(tx: Tx, merchantId: string, promotionId: string): Promise<void> {
  const result = await tx.updateTable('promotions').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('merchant_id', '=', merchantId).where('id', '=', promotionId).executeTakeFirst();
  assert(Number(result.numUpdatedRows) === 1, 'the promotion to lock exists');
}

/** Counts one use of a promotion by an order, once, whatever channel it came from; true when it was new. */
export async function recordPromotionRedemption(db: Queryable, merchantId: string, input: { promotionId: string; orderId: string; customerId: string | null; channel: SalesChannel; amountMinor: number }): Promise<boolean> {
  const result = await db
    .insertInto('promotion_redemptions')
    .values({ id: newId('prd'), merchant_id: merchantId, promotion_id: input.promotionId, order_id: input.orderId, customer_id: input.customerId, channel: input.channel, amount_minor: input.amountMinor, created_at: nowIso() })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'promotion_id', 'order_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function countPromotionRedemptions(db: Queryable, merchantId: string, promotionId: string): Promise<{ total: number; byChannel: Record<string, number> }> {
  const rows = await db.selectFrom('promotion_redemptions').select('channel').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('promotion_id', '=', promotionId).groupBy('channel').execute();
  const byChannel = Object.fromEntries(rows.map((row) => [row.channel, countOf(row.count)]));
  return { total: Object.values(byChannel).reduce((sum, count) => sum + count, 0), byChannel };
}

/** The customers who used a promotion most (at most `usageByCustomerListMax`), with their uses. */
export async function listTopPromotionCustomers(db: Queryable, merchantId: string, promotionId: string): Promise<{ customerId: string; total: number }[]> {
  const rows = await db
    .selectFrom('promotion_redemptions')
    .select('customer_id')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('merchant_id', '=', merchantId)
    .where('promotion_id', '=', promotionId)
    .where('customer_id', 'is not', null)
    .groupBy('customer_id')
    .orderBy((eb) => eb.fn.countAll(), 'desc')
    .orderBy('customer_id')
    .limit(usageByCustomerListMax)
    .execute();
  return rows.map((row) => ({ customerId: row.customer_id!, total: countOf(row.count) }));
}

/** One customer's uses of a promotion, by channel. */
export async function countCustomerPromotionRedemptions(db: Queryable, merchantId: string, promotionId: string, customerId: string): Promise<{ total: number; byChannel: Record<string, number> }> {
  const rows = await db.selectFrom('promotion_redemptions').select('channel').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('promotion_id', '=', promotionId).where('customer_id', '=', customerId).groupBy('channel').execute();
  const byChannel = Object.fromEntries(rows.map((row) => [row.channel, countOf(row.count)]));
  return { total: Object.values(byChannel).reduce((sum, count) => sum + count, 0), byChannel };
}

/** Moves promotion uses between customers (a merge), so per-customer limits see one shopper. */
export async function reassignPromotionRedemptions(db: Queryable, merchantId: string, fromCustomerId: string, toCustomerId: string, orderIds: string[]): Promise<void> {
  if (orderIds.length === 0) return;
  await db.updateTable('promotion_redemptions').set({ customer_id: toCustomerId }).where('merchant_id', '=', merchantId).where('customer_id', '=', fromCustomerId).where('order_id', 'in', orderIds).execute();
}
