import type { PromotionsTable, Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { applyBasisPoints } from '../shared/money.ts';

export type PromotionKind = 'percent_off_order' | 'amount_off_order';
export type SalesChannel = 'online' | 'store';

export interface Promotion {
  id: string;
  code: string;
  name: string;
  kind: PromotionKind;
  /** Basis points for percent off (1000 = 10 %), minor units for an amount off. */
  value: number;
  channels: SalesChannel[];
  active: boolean;
  startsAt: string | null;
  endsAt: string | null;
}

export interface PromotionInput {
  code: string;
  name: string;
  kind: PromotionKind;
  value: number;
  channels?: SalesChannel[];
  startsAt?: string | null;
  endsAt?: string | null;
}

function toPromotion(row: PromotionsTable): Promotion {
  return { id: row.id, code: row.code, name: row.name, kind: row.kind as PromotionKind, value: row.value, channels: JSON.parse(row.channels) as SalesChannel[], active: row.active === 1, startsAt: row.starts_at, endsAt: row.ends_at };
}

function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

export async function createPromotion(db: Queryable, merchantId: string, input: PromotionInput): Promise<Promotion> {
  const code = normalizeCode(input.code);
  if (input.kind === 'percent_off_order' && (input.value <= 0 || input.value > 10_000)) {
    throw new AppError('promotions.invalid_value', 'A percent-off value is basis points between 1 and 10000', { field: 'value', value: input.value });
  }
  const existing = await db.selectFrom('promotions').select('id').where('merchant_id', '=', merchantId).where('code', '=', code).executeTakeFirst();
  if (existing) throw new AppError('promotions.duplicate_code', `A promotion with code ${code} exists`, { field: 'code', code });
  const row: PromotionsTable = { id: newId('promo'), merchant_id: merchantId, code, name: input.name, kind: input.kind, value: input.value, channels: JSON.stringify(input.channels ?? ['online', 'store']), active: 1, starts_at: input.startsAt ?? null, ends_at: input.endsAt ?? null, created_at: nowIso() };
  await db.insertInto('promotions').values(row).execute();
  return toPromotion(row);
}

export async function listPromotions(db: Queryable, merchantId: string): Promise<Promotion[]> {
  return (await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).orderBy('code').execute()).map(toPromotion);
}

export async function findPromotionByCode(db: Queryable, merchantId: string, code: string): Promise<Promotion | undefined> {
  const row = await db.selectFrom('promotions').selectAll().where('merchant_id', '=', merchantId).where('code', '=', normalizeCode(code)).executeTakeFirst();
  return row ? toPromotion(row) : undefined;
}

/** Why a promotion does not apply to this cart, or undefined when it does. */
function whyNotApplicable(promotion: Promotion, channel: SalesChannel, at: string): string | undefined {
  if (!promotion.active) return 'inactive';
  if (!promotion.channels.includes(channel)) return `not valid in channel ${channel}`;
  if (promotion.startsAt && at < promotion.startsAt) return 'not started';
  if (promotion.endsAt && at >= promotion.endsAt) return 'ended';
  return undefined;
}

/**
 * Prices a promotion code against a merchandise subtotal, by the same rule in every channel.
 * Example: SUMMER10 (10 %) on 50.00 → 5.00 off.
 */
export async function evaluatePromotionCode(db: Queryable, merchantId: string, input: { code: string; channel: SalesChannel; subtotalMinor: number; at?: string }): Promise<{ promotion: Promotion; amountMinor: number }> {
  const promotion = await findPromotionByCode(db, merchantId, input.code);
  if (!promotion) throw new AppError('promotions.unknown_code', `No promotion with code ${input.code}`, { field: 'promotion_codes', code: input.code });
  const reason = whyNotApplicable(promotion, input.channel, input.at ?? nowIso());
  if (reason) throw new AppError('promotions.not_applicable', `Promotion ${promotion.code} does not apply: ${reason}`, { field: 'promotion_codes', code: promotion.code, reason });
  const amountMinor = promotion.kind === 'percent_off_order' ? applyBasisPoints(input.subtotalMinor, promotion.value) : Math.min(promotion.value, input.subtotalMinor);
  return { promotion, amountMinor };
}

/** Counts one use of a promotion by an order, once, whatever channel it came from. */
export async function recordPromotionRedemption(db: Queryable, merchantId: string, input: { promotionId: string; orderId: string; customerId: string | null; channel: SalesChannel; amountMinor: number }): Promise<void> {
  await db
    .insertInto('promotion_redemptions')
    .values({ id: newId('prd'), merchant_id: merchantId, promotion_id: input.promotionId, order_id: input.orderId, customer_id: input.customerId, channel: input.channel, amount_minor: input.amountMinor, created_at: nowIso() })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'promotion_id', 'order_id']).doNothing())
    .execute();
}

export async function countPromotionRedemptions(db: Queryable, merchantId: string, promotionId: string): Promise<{ total: number; byChannel: Record<string, number> }> {
  const rows = await db.selectFrom('promotion_redemptions').select('channel').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('promotion_id', '=', promotionId).groupBy('channel').execute();
  const byChannel = Object.fromEntries(rows.map((row) => [row.channel, Number(row.count)]));
  return { total: Object.values(byChannel).reduce((sum, count) => sum + count, 0), byChannel };
}

/** Moves promotion uses between customers (a merge), so per-customer limits see one shopper. */
export async function reassignPromotionRedemptions(db: Queryable, merchantId: string, fromCustomerId: string, toCustomerId: string, orderIds: string[]): Promise<void> {
  if (orderIds.length === 0) return;
  await db.updateTable('promotion_redemptions').set({ customer_id: toCustomerId }).where('merchant_id', '=', merchantId).where('customer_id', '=', fromCustomerId).where('order_id', 'in', orderIds).execute();
}
