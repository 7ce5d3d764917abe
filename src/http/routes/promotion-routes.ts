import { z } from 'zod';
import { changePromotion, deactivatePromotion, definePromotion, priceCart, type PricedCart } from '../../commands/index.ts';
import { getCustomerIdentity } from '../../customers/index.ts';
import { findOnlineFulfilmentLocation, getLocation, type Location } from '../../merchants/index.ts';
import {
  conditionListMax, countCustomerPromotionRedemptions, countPromotionRedemptions, getPromotion, listPromotions, listTopPromotionCustomers, memberPricesMax, promotionAmountMinorMax,
  promotionPriorityMax, promotionQuantityMax, promotionUsageMax, selectorEntriesMax, type ItemSelector, type Promotion, type PromotionAction, type PromotionConditions,
} from '../../promotions/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { nowIso, toIso } from '../../shared/clock.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';
import { moneyView } from '../views.ts';

// Promotions (issue #6): one rule for every channel, defined here, pushed to Shopify, priced by
// `POST /v1/carts/price` and the register alike. The rules are in docs/promotions.md.

const name = z.string().trim().min(1).max(200);
const identifier = z.string().trim().min(1).max(200);
const bps = z.number().int().min(1).max(10_000);
const amountMinor = z.number().int().min(1).max(promotionAmountMinorMax);
const quantity = z.number().int().min(1).max(promotionQuantityMax);
const usageMax = z.number().int().min(1).max(promotionUsageMax);
const timestamp = z.iso.datetime({ offset: true });
const channels = z.array(z.enum(['online', 'store'])).min(1).max(2);
/** Cart lines that did not apply, listed in one answer at most. */
const notAppliedListedMax = 500;

const selectorFields = {
  skus: z.array(identifier).max(selectorEntriesMax).default([]).describe('SKUs it applies to (empty, with product_ids empty: every item)'),
  product_ids: z.array(identifier).max(selectorEntriesMax).default([]).describe('Continuum product ids it applies to'),
};

const actionBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('percent_off'), target: z.enum(['order', 'lines']).default('order'), percent_bps: bps.describe('Basis points (1000 = 10 %)'), ...selectorFields }).strict(),
  z.object({ type: z.literal('amount_off'), target: z.enum(['order', 'lines']).default('order'), amount_minor: amountMinor, ...selectorFields }).strict(),
  z.object({
    type: z.literal('buy_x_get_y'),
    buy: z.object({ ...selectorFields, quantity }).strict(),
    get: z.object({ ...selectorFields, quantity, percent_bps: bps.default(10_000).describe('Off each discounted unit; 10000 = free') }).strict(),
    uses_per_order_max: quantity.optional(),
  }).strict(),
  z.object({ type: z.literal('free_item'), sku: identifier, quantity: quantity.default(1) }).strict(),
  z.object({ type: z.literal('free_shipping') }).strict(),
  z.object({ type: z.literal('member_price'), prices: z.array(z.object({ sku: identifier, unit_price_minor: z.number().int().min(0).max(promotionAmountMinorMax) }).strict()).min(1).max(memberPricesMax) }).strict(),
]).superRefine((action, context) => {
  if ((action.type === 'percent_off' || action.type === 'amount_off') && action.target === 'order' && action.skus.length + action.product_ids.length > 0) {
    context.addIssue({ code: 'custom', path: ['target'], message: 'skus and product_ids choose lines: use target "lines"' });
  }
});

const conditionsBody = z.object({
  location_ids: z.array(identifier).max(conditionListMax).optional().describe('Valid only at these locations'),
  customer_tiers: z.array(name).max(conditionListMax).optional().describe('The customer holds one of these tiers (with memberships: either unlocks it)'),
  memberships: z.array(name).max(conditionListMax).optional().describe('The customer holds an active membership of one of these names'),
  first_order: z.boolean().optional().describe('The customer has no earlier order in any channel'),
  min_subtotal_minor: amountMinor.nullable().optional().describe('Merchandise before discounts is at least this'),
  skus: z.array(identifier).max(selectorEntriesMax).optional().describe('The cart holds one of these SKUs (or product_ids)'),
  product_ids: z.array(identifier).max(selectorEntriesMax).optional(),
  hours: z.object({
    days: z.array(z.number().int().min(1).max(7)).min(1).max(7).describe('ISO weekdays: 1 = Monday … 7 = Sunday'),
    start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/).describe('"HH:MM", included'),
    end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/).describe('"HH:MM", excluded'),
    time_zone: z.string().min(1).max(64).default('UTC').describe('IANA time zone of the window'),
  }).strict().nullable().optional(),
}).strict();

const ruleFields = {
  conditions: conditionsBody.optional(),
  priority: z.number().int().min(-promotionPriorityMax).max(promotionPriorityMax).optional().describe('Higher first; ties: the older first'),
  exclusive: z.boolean().optional().describe('Applies alone, never with another promotion'),
  stackable: z.boolean().optional().describe('false: never combines with another non-stackable promotion'),
  usage_limit_total: usageMax.nullable().optional().describe('Uses in all, counted across channels'),
  usage_limit_per_customer: usageMax.nullable().optional().describe('Uses by one customer, counted across channels'),
  channels: channels.optional(),
};

const createBody = z.object({
  code: z.string().trim().min(2).max(50).optional().describe('Optional for an automatic promotion'),
  name,
  kind: z.enum(['percent_off_order', 'amount_off_order']).optional().describe('The first API: percent or amount off the order, with value'),
  value: z.number().int().min(1).optional().describe('Basis points for percent off (1000 = 10 %), minor units for an amount off'),
  action: actionBody.optional(),
  automatic: z.boolean().default(false).describe('Applies without a code whenever its conditions hold'),
  starts_at: timestamp.optional(),
  ends_at: timestamp.optional(),
  ...ruleFields,
}).strict().superRefine((body, context) => {
  const legacy = body.kind !== undefined || body.value !== undefined;
  if (legacy && body.action) context.addIssue({ code: 'custom', path: ['action'], message: 'give either action or kind and value, not both' });
  if (!legacy && !body.action) context.addIssue({ code: 'custom', path: ['action'], message: 'a promotion needs an action (or kind and value)' });
  if (legacy && (body.kind === undefined || body.value === undefined)) context.addIssue({ code: 'custom', path: [body.kind === undefined ? 'kind' : 'value'], message: 'kind and value go together' });
  if (!body.automatic && body.code === undefined) context.addIssue({ code: 'custom', path: ['code'], message: 'a promotion that is not automatic needs a code' });
});

const changeBody = z.object({
  name: name.optional(),
  active: z.boolean().optional(),
  starts_at: timestamp.nullable().optional(),
  ends_at: timestamp.nullable().optional(),
  action: actionBody.optional(),
  ...ruleFields,
}).strict().refine((body) => Object.keys(body).length > 0, { message: 'change at least one field' });

const cartBody = z.object({
  channel: z.enum(['online', 'store']),
  location_id: identifier.optional().describe('Required in store; online, the location that fulfils online orders by default'),
  customer_id: identifier.optional(),
  lines: z.array(z.object({ sku: identifier, quantity: z.number().int().min(1).max(10_000), unit_price_minor: z.number().int().min(0).max(100_000_000).optional() }).strict()).min(1).max(500),
  promotion_codes: z.array(identifier).max(10).default([]),
  rewards: z.array(identifier).max(10).default([]).describe('Rewards to redeem with points, by id or code'),
  shipping_minor: z.number().int().min(0).max(100_000_000).default(0),
  at: timestamp.optional().describe('Price as of this instant (default now)'),
}).strict();

type ActionBody = z.infer<typeof actionBody>;
type ConditionsBody = z.infer<typeof conditionsBody>;

function selectorOf(body: { skus: string[]; product_ids: string[] }): ItemSelector {
  return { skus: body.skus, productIds: body.product_ids };
}

function toAction(body: ActionBody): PromotionAction {
  switch (body.type) {
    case 'percent_off':
      return body.target === 'order' ? { type: 'percent_off_order', percentBps: body.percent_bps } : { type: 'percent_off_lines', percentBps: body.percent_bps, items: selectorOf(body) };
    case 'amount_off':
      return body.target === 'order' ? { type: 'amount_off_order', amountMinor: body.amount_minor } : { type: 'amount_off_lines', amountMinor: body.amount_minor, items: selectorOf(body) };
    case 'buy_x_get_y':
      return { type: 'buy_x_get_y', buy: { ...selectorOf(body.buy), quantity: body.buy.quantity }, get: { ...selectorOf(body.get), quantity: body.get.quantity, percentBps: body.get.percent_bps }, usesPerOrderMax: body.uses_per_order_max ?? null };
    case 'free_item':
      return { type: 'free_item', sku: body.sku, quantity: body.quantity };
    case 'free_shipping':
      return { type: 'free_shipping' };
    case 'member_price':
      return { type: 'member_price', prices: body.prices.map((price) => ({ sku: price.sku, unitPriceMinor: price.unit_price_minor })) };
  }
}

/** The conditions a body sets; those it leaves out are not in the result (a change keeps them). */
function toConditions(body: ConditionsBody): Partial<PromotionConditions> {
  const conditions: Partial<PromotionConditions> = {};
  if (body.location_ids !== undefined) conditions.locationIds = body.location_ids;
  if (body.customer_tiers !== undefined) conditions.customerTiers = body.customer_tiers;
  if (body.memberships !== undefined) conditions.memberships = body.memberships;
  if (body.first_order !== undefined) conditions.firstOrder = body.first_order;
  if (body.min_subtotal_minor !== undefined) conditions.minSubtotalMinor = body.min_subtotal_minor;
  if (body.skus !== undefined || body.product_ids !== undefined) {
    const items = { skus: body.skus ?? [], productIds: body.product_ids ?? [] };
    conditions.items = items.skus.length + items.productIds.length > 0 ? items : null;
  }
  if (body.hours !== undefined) conditions.hours = body.hours === null ? null : { days: body.hours.days, start: body.hours.start, end: body.hours.end, timeZone: body.hours.time_zone };
  return conditions;
}

function actionView(action: PromotionAction) {
  const selector = (items: ItemSelector) => ({ skus: items.skus, product_ids: items.productIds });
  switch (action.type) {
    case 'percent_off_order':
      return { type: 'percent_off', target: 'order', percent_bps: action.percentBps };
    case 'amount_off_order':
      return { type: 'amount_off', target: 'order', amount_minor: action.amountMinor };
    case 'percent_off_lines':
      return { type: 'percent_off', target: 'lines', percent_bps: action.percentBps, ...selector(action.items) };
    case 'amount_off_lines':
      return { type: 'amount_off', target: 'lines', amount_minor: action.amountMinor, ...selector(action.items) };
    case 'buy_x_get_y':
      return { type: 'buy_x_get_y', buy: { ...selector(action.buy), quantity: action.buy.quantity }, get: { ...selector(action.get), quantity: action.get.quantity, percent_bps: action.get.percentBps }, uses_per_order_max: action.usesPerOrderMax };
    case 'free_item':
      return { type: 'free_item', sku: action.sku, quantity: action.quantity };
    case 'free_shipping':
      return { type: 'free_shipping' };
    case 'member_price':
      return { type: 'member_price', prices: action.prices.map((price) => ({ sku: price.sku, unit_price_minor: price.unitPriceMinor })) };
  }
}

/** A promotion as the API shows it. `startsAt` and `endsAt` stay for clients of the first API. */
export function promotionView(promotion: Promotion) {
  const { conditions } = promotion;
  return {
    id: promotion.id, code: promotion.code, name: promotion.name, kind: promotion.kind, value: promotion.value, channels: promotion.channels, active: promotion.active,
    startsAt: promotion.startsAt, endsAt: promotion.endsAt, starts_at: promotion.startsAt, ends_at: promotion.endsAt,
    automatic: promotion.automatic, priority: promotion.priority, exclusive: promotion.exclusive, stackable: promotion.stackable,
    usage_limit_total: promotion.totalUsageMax, usage_limit_per_customer: promotion.perCustomerUsageMax,
    conditions: {
      location_ids: conditions.locationIds, customer_tiers: conditions.customerTiers, memberships: conditions.memberships, first_order: conditions.firstOrder, min_subtotal_minor: conditions.minSubtotalMinor,
      skus: conditions.items?.skus ?? [], product_ids: conditions.items?.productIds ?? [],
      hours: conditions.hours ? { days: conditions.hours.days, start: conditions.hours.start, end: conditions.hours.end, time_zone: conditions.hours.timeZone } : null,
    },
    action: actionView(promotion.action),
    shopify_discount_id: promotion.shopifyDiscountId, created_at: promotion.createdAt, updated_at: promotion.updatedAt,
  };
}

function pricedCartView(priced: PricedCart, currency: string) {
  const money = (amount: number) => moneyView(amount, currency);
  const perLine = (amounts: number[]) => amounts.flatMap((amount, index) => (amount === 0 ? [] : [{ line: index, amount: money(amount) }]));
  const notApplied = priced.notApplied.map((entry) => ({ promotion_id: entry.promotion?.id ?? null, code: entry.code ?? entry.promotion?.code ?? null, name: entry.promotion?.name ?? null, automatic: entry.promotion?.automatic ?? false, reason: entry.reason, message: entry.message }));
  return {
    currency,
    lines: priced.lines.map((line, index) => ({
      line: index, sku: line.sku, title: line.variant.title, quantity: line.quantity, unit_price: money(line.unitPriceMinor), gross: money(line.grossMinor),
      discounts: [
        ...priced.promotions.flatMap((applied) => (applied.lineAmountsMinor[index] ? [{ kind: 'promotion', promotion_id: applied.promotion.id, code: applied.code ?? applied.promotion.code, amount: money(applied.lineAmountsMinor[index]) }] : [])),
        ...priced.rewards.flatMap((applied) => (applied.lineAmountsMinor[index] ? [{ kind: 'reward', reward: applied.reward.code, code: applied.rewardCode?.code ?? applied.reward.code, amount: money(applied.lineAmountsMinor[index]) }] : [])),
      ],
      discount: money(line.discountMinor), net: money(line.netMinor), tax: money(line.taxMinor),
    })),
    shipping: { gross: money(priced.shipping.grossMinor), discount: money(priced.shipping.discountMinor), net: money(priced.shipping.netMinor) },
    totals: { subtotal: money(priced.totals.subtotalMinor), discount: money(priced.totals.discountMinor), shipping: money(priced.totals.shippingMinor), tax: money(priced.totals.taxMinor), total: money(priced.totals.totalMinor) },
    applied: priced.promotions.map((applied) => ({
      promotion_id: applied.promotion.id, code: applied.code ?? applied.promotion.code, name: applied.promotion.name, kind: applied.promotion.kind, automatic: applied.promotion.automatic,
      amount: money(applied.amountMinor), lines: perLine(applied.lineAmountsMinor), shipping: money(applied.shippingMinor),
    })),
    rewards: priced.rewards.map((applied) => ({ reward: applied.reward.code, reward_code: applied.rewardCode?.code ?? null, points_cost: applied.rewardCode ? 0 : applied.reward.pointsCost, amount: money(applied.amountMinor), lines: perLine(applied.lineAmountsMinor), shipping: money(applied.shippingMinor) })),
    not_applied: notApplied.slice(0, notAppliedListedMax),
    not_applied_left_off: Math.max(0, notApplied.length - notAppliedListedMax),
  };
}

async function cartLocation(db: RouteDependencies['database']['db'], merchantId: string, body: z.infer<typeof cartBody>): Promise<Location | null> {
  if (body.location_id) return getLocation(db, merchantId, body.location_id);
  if (body.channel === 'store') throw new AppError('carts.invalid_location', 'location_id: a store cart is priced at its store (its tax rate and location conditions)', { field: 'location_id' });
  return (await findOnlineFulfilmentLocation(db, merchantId)) ?? null;
}

export function registerPromotionRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;

  app.get('/v1/promotions', { config: { scope: 'read' }, schema: { summary: 'Promotions shared by every channel', tags: ['promotions'] } },
    async (request) => ({ data: (await listPromotions(db, merchantOf(request).id)).map(promotionView) }));

  app.get('/v1/promotions/:code', {
    config: { scope: 'read' },
    schema: {
      summary: 'One promotion (by code or id) with its uses counted across every channel; per customer when asked', tags: ['promotions'],
      params: z.object({ code: z.string().min(1).max(200) }),
      querystring: z.object({ customer_id: identifier.optional().describe("One customer's uses, by channel"), by_customer: z.enum(['true', 'false']).optional().describe('The customers who used it most (at most 100)') }),
    },
  }, async (request) => {
    const merchantId = merchantOf(request).id;
    const promotion = await getPromotion(db, merchantId, request.params.code);
    const usage = await countPromotionRedemptions(db, merchantId, promotion.id);
    const customerId = request.query.customer_id;
    return {
      data: {
        ...promotionView(promotion),
        usage: {
          total: usage.total, by_channel: usage.byChannel,
          ...(customerId ? { customer: { customer_id: customerId, ...(await countCustomerPromotionRedemptions(db, merchantId, promotion.id, customerId).then((counted) => ({ total: counted.total, by_channel: counted.byChannel }))) } } : {}),
          ...(request.query.by_customer === 'true' ? { by_customer: (await listTopPromotionCustomers(db, merchantId, promotion.id)).map((entry) => ({ customer_id: entry.customerId, total: entry.total })) } : {}),
        },
      },
    };
  });

  app.post('/v1/promotions', {
    config: { scope: 'admin' },
    schema: { summary: 'Define a promotion once for every channel: conditions, an action, automatic or by code, priority, exclusivity, stacking and usage limits', tags: ['promotions'], body: createBody },
  }, async (request, reply) => {
    const body = request.body;
    const promotion = await db.transaction().execute((tx) => definePromotion(tx, merchantOf(request).id, {
      code: body.code ?? null, name: body.name, ...(body.action ? { action: toAction(body.action) } : { kind: body.kind!, value: body.value! }),
      channels: body.channels ?? ['online', 'store'], startsAt: body.starts_at ? toIso(body.starts_at) : null, endsAt: body.ends_at ? toIso(body.ends_at) : null,
      automatic: body.automatic, priority: body.priority ?? 0, exclusive: body.exclusive ?? false, stackable: body.stackable ?? true,
      totalUsageMax: body.usage_limit_total ?? null, perCustomerUsageMax: body.usage_limit_per_customer ?? null, conditions: body.conditions ? toConditions(body.conditions) : {},
    }));
    return reply.code(201).send({ data: promotionView(promotion) });
  });

  app.patch('/v1/promotions/:code', {
    config: { scope: 'admin' },
    schema: { summary: 'Change a promotion (by code or id); its kind stays. Shopify hears the change', tags: ['promotions'], params: z.object({ code: z.string().min(1).max(200) }), body: changeBody },
  }, async (request) => {
    const body = request.body;
    const changes = {
      ...(body.name !== undefined ? { name: body.name } : {}), ...(body.active !== undefined ? { active: body.active } : {}), ...(body.channels !== undefined ? { channels: body.channels } : {}),
      ...(body.starts_at !== undefined ? { startsAt: body.starts_at === null ? null : toIso(body.starts_at) } : {}), ...(body.ends_at !== undefined ? { endsAt: body.ends_at === null ? null : toIso(body.ends_at) } : {}),
      ...(body.priority !== undefined ? { priority: body.priority } : {}), ...(body.exclusive !== undefined ? { exclusive: body.exclusive } : {}), ...(body.stackable !== undefined ? { stackable: body.stackable } : {}),
      ...(body.usage_limit_total !== undefined ? { totalUsageMax: body.usage_limit_total } : {}), ...(body.usage_limit_per_customer !== undefined ? { perCustomerUsageMax: body.usage_limit_per_customer } : {}),
      ...(body.action !== undefined ? { action: toAction(body.action) } : {}), ...(body.conditions !== undefined ? { conditions: toConditions(body.conditions) } : {}),
    };
    const promotion = await db.transaction().execute((tx) => changePromotion(tx, merchantOf(request).id, request.params.code, changes));
    return { data: promotionView(promotion) };
  });

  app.post('/v1/promotions/:code/deactivate', {
    config: { scope: 'admin' },
    schema: { summary: 'Deactivate a promotion (by code or id) in every channel; Shopify stops accepting it', tags: ['promotions'], params: z.object({ code: z.string().min(1).max(200) }) },
  }, async (request) => {
    const promotion = await db.transaction().execute((tx) => deactivatePromotion(tx, merchantOf(request).id, request.params.code));
    return { data: promotionView(promotion) };
  });

  app.post('/v1/carts/price', {
    config: { scope: 'pos' },
    schema: {
      summary: 'Price a cart for any channel with the shared rules: each discount per line, net, tax and totals, and why every other promotion did not apply. Writes nothing',
      tags: ['promotions'], body: cartBody,
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const location = await cartLocation(db, merchant.id, body);
    const customerId = body.customer_id ? (await getCustomerIdentity(db, merchant.id, body.customer_id)).id : null;
    if (body.rewards.length > 0 && !customerId) throw new AppError('loyalty.customer_required', 'Redeeming a reward needs a customer', { field: 'customer_id' });
    const priced = await priceCart(db, merchant, {
      channel: body.channel, location, customerId, at: body.at ? toIso(body.at) : nowIso(), shippingMinor: body.shipping_minor,
      lines: body.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor ?? null })), promotionCodes: body.promotion_codes, rewards: body.rewards,
    });
    return { data: { channel: body.channel, location_id: location?.id ?? null, customer_id: customerId, ...pricedCartView(priced, merchant.currency) } };
  });
}
