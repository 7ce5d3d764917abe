import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { exchangeOrder, planReturn, returnOrder, type ReturnOrderCommand, type ReturnPlan } from '../../commands/index.ts';
import type { Queryable } from '../../db/index.ts';
import { getStoreCredit, listStoreCreditHistory } from '../../loyalty/index.ts';
import { getCustomerIdentity } from '../../customers/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';
import { moneyView, orderView } from '../views.ts';

const identifier = z.string().trim().min(1).max(200);

export const returnBody = z.object({
  order_id: identifier,
  return_ref: identifier.optional().describe("The register's own id for this return; sending the same return again changes nothing"),
  location_id: identifier.optional().describe('Where the goods are taken back (restocked there); by default where each line was fulfilled'),
  lines: z.array(z.object({
    order_line_id: identifier,
    quantity: z.number().int().min(1).max(10_000),
    disposition: z.enum(['restock', 'damaged']).default('restock').describe('restock: back on the shelf at the location; damaged: set aside, not for sale'),
    waive_fee: z.boolean().default(false).describe('Keep no restocking fee on this line'),
  })).min(1).max(500),
  refund_method: z.enum(['original', 'store_credit']).default('original'),
  reason: z.string().trim().max(500).optional(),
  override: z.boolean().default(false).describe("A manager's decision to accept outside the return window or a final-sale line; needs an admin key"),
  refund_shipping: z.boolean().default(false).describe('Refund what is left of the shipping now, whatever the policy'),
});

type ReturnBody = z.infer<typeof returnBody>;

export const exchangeBody = z.object({
  order_id: identifier,
  exchange_ref: identifier.describe("The register's own id for this exchange; sending it again changes nothing"),
  register_id: identifier.optional(),
  location_id: identifier.describe('Where the exchange happens: returned units are restocked here and the new ones leave from here'),
  return_lines: returnBody.shape.lines,
  new_lines: z.array(z.object({ sku: identifier, quantity: z.number().int().min(1).max(10_000), unit_price_minor: z.number().int().min(0).max(100_000_000).optional() })).min(1).max(500),
  promotion_codes: z.array(identifier).max(10).default([]),
  payments: z.array(z.object({ method: identifier, amount_minor: z.number().int().min(0) })).max(20).optional().describe('How the shopper pays what the new goods cost above the returned ones'),
  refund_method: z.enum(['original', 'store_credit']).default('original').describe('How the shopper gets back what the returned goods are worth above the new ones'),
  reason: z.string().trim().max(500).optional(),
  override: z.boolean().default(false),
});

function actorOf(request: FastifyRequest): string {
  return `api:${request.principal?.keyId ?? 'unknown'}`;
}

function toCommand(request: FastifyRequest, body: ReturnBody): ReturnOrderCommand {
  if (body.override && request.principal?.scope !== 'admin') throw new AppError('returns.manager_required', 'Overriding the return policy needs a manager (an admin key)', { field: 'override' });
  return {
    orderId: body.order_id, returnRef: body.return_ref ?? null, locationId: body.location_id ?? null,
    lines: body.lines.map((line) => ({ orderLineId: line.order_line_id, quantity: line.quantity, disposition: line.disposition, waiveFee: line.waive_fee })),
    refundMethod: body.refund_method, reason: body.reason ?? null, override: body.override, refundShipping: body.refund_shipping, actor: actorOf(request),
  };
}

/** The refund as the associate sees it before confirming: per line what was paid, what comes back, and where the unit goes. */
export function returnPlanView(plan: ReturnPlan) {
  const money = (amountMinor: number) => moneyView(amountMinor, plan.order.currency);
  return {
    order_id: plan.order.id,
    order_channel: plan.order.channel,
    order_discounts: plan.order.discounts.map((discount) => ({ kind: discount.kind, code: discount.code, amount: money(discount.amountMinor) })),
    lines: plan.lines.map((planned) => ({
      order_line_id: planned.line.id, sku: planned.line.sku, title: planned.line.title, quantity: planned.quantity, final_sale: planned.line.finalSale ?? false,
      gross: money(planned.refund.grossMinor), discount: money(planned.refund.discountMinor), tax: money(planned.refund.taxMinor), restocking_fee: money(planned.refund.feeMinor), refund: money(planned.refund.refundMinor),
      points_reversed: planned.pointsReversed, disposition: planned.disposition, location_id: planned.location?.id ?? null, location_name: planned.location?.name ?? null,
    })),
    merchandise: money(plan.refund.merchandiseMinor),
    discount: money(plan.refund.discountMinor),
    tax: money(plan.refund.taxMinor),
    shipping: money(plan.refund.shippingMinor),
    restocking_fee: money(plan.refund.feeMinor),
    total: money(plan.refund.totalMinor),
    refund_to: { store_credit: money(plan.storeCreditMinor), original_payment: money(plan.originalPaymentMinor), refunded_by: plan.originalPaymentMinor > 0 ? plan.destination : null },
    points: { reversed: plan.pointsReversed, restored: plan.pointsRestored },
  };
}

export async function loadReturn(db: Queryable, merchantId: string, returnId: string) {
  const row = await db.selectFrom('returns').selectAll().where('merchant_id', '=', merchantId).where('id', '=', returnId).executeTakeFirst();
  if (!row) throw new AppError('returns.not_found', `No return ${returnId}`, { return_id: returnId });
  const lines = await db.selectFrom('return_lines').selectAll().where('merchant_id', '=', merchantId).where('return_id', '=', returnId).execute();
  const money = (amountMinor: number) => moneyView(amountMinor, row.currency);
  return {
    id: row.id, order_id: row.order_id, source: row.source, source_ref: row.source_ref, location_id: row.location_id, refund_method: row.refund_method, reason: row.reason ?? row.note, actor: row.actor,
    exchange_order_id: row.exchange_order_id, created_at: row.created_at,
    merchandise: money(row.merchandise_minor), discount: money(row.discount_minor), tax: money(row.tax_minor), shipping: money(row.shipping_minor), restocking_fee: money(row.fee_minor),
    total: money(row.amount_minor), store_credit: money(row.store_credit_minor),
    channel_refund: { state: row.push_state ?? 'not_needed', reference: row.channel_refund_ref },
    lines: lines.map((line) => ({
      order_line_id: line.order_line_id, quantity: line.quantity, gross: money(line.gross_minor), discount: money(line.discount_minor), tax: money(line.tax_minor), restocking_fee: money(line.fee_minor),
      refund: money(line.amount_minor), went_to: line.restock, location_id: line.restock_location_id, points_reversed: line.points_reversed,
    })),
  };
}

export function registerReturnRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;
  app.post('/v1/returns/preview', {
    config: { scope: 'pos' },
    schema: { summary: 'Compute a return before anything is committed: the refund per line with discounts, rewards and tax allocated, points, restock', tags: ['returns'], body: returnBody },
  }, async (request) => {
    const merchant = merchantOf(request);
    return { data: returnPlanView(await planReturn(db, merchant, toCommand(request, request.body))) };
  });

  app.post('/v1/returns', {
    config: { scope: 'pos' },
    schema: { summary: 'Take a return against an order from any channel, at any location: refund, restock, points, store credit', tags: ['returns'], body: returnBody },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const command = toCommand(request, request.body);
    const result = await db.transaction().execute((tx) => returnOrder(tx, merchant, command));
    worker.wake();
    return reply.code(result.created ? 201 : 200).send({ data: await loadReturn(db, merchant.id, result.returnId) });
  });

  app.post('/v1/exchanges', {
    config: { scope: 'pos' },
    schema: { summary: 'Exchange: return lines and give new ones in one operation; only the difference is charged or refunded', tags: ['returns'], body: exchangeBody },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const body = request.body;
    if (body.override && request.principal?.scope !== 'admin') throw new AppError('returns.manager_required', 'Overriding the return policy needs a manager (an admin key)', { field: 'override' });
    const result = await db.transaction().execute((tx) => exchangeOrder(tx, merchant, {
      orderId: body.order_id, exchangeRef: body.exchange_ref, registerId: body.register_id ?? null, locationId: body.location_id,
      returnLines: body.return_lines.map((line) => ({ orderLineId: line.order_line_id, quantity: line.quantity, disposition: line.disposition, waiveFee: line.waive_fee })),
      newLines: body.new_lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor ?? null })),
      promotionCodes: body.promotion_codes, payments: body.payments?.map((payment) => ({ method: payment.method, amountMinor: payment.amount_minor })) ?? null,
      refundMethod: body.refund_method, reason: body.reason ?? null, override: body.override, actor: actorOf(request),
    }));
    worker.wake();
    return reply.code(result.created ? 201 : 200).send({
      data: { return: await loadReturn(db, merchant.id, result.returnId), new_order: orderView(result.newOrder), difference: moneyView(result.differenceMinor, result.newOrder.currency), points_carried: result.pointsCarried },
    });
  });

  app.get('/v1/returns/:id', {
    config: { scope: 'read' },
    schema: { summary: 'One return: what was refunded, how, where each unit went, and whether the channel holds the refund', tags: ['returns'], params: z.object({ id: identifier }) },
  }, async (request) => ({ data: await loadReturn(db, merchantOf(request).id, request.params.id) }));

  app.get('/v1/customers/:id/store-credit', {
    config: { scope: 'read' },
    schema: { summary: 'Her store credit, spendable in every channel, with its history', tags: ['loyalty'], params: z.object({ id: identifier }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    const customer = await getCustomerIdentity(db, merchant.id, request.params.id);
    const balance = await getStoreCredit(db, merchant.id, customer.id, merchant.currency);
    const history = await listStoreCreditHistory(db, merchant.id, customer.id);
    return { data: { customer_id: customer.id, balance: moneyView(balance.balanceMinor, balance.currency), history: history.map((entry) => ({ id: entry.id, kind: entry.kind, amount: moneyView(Number(entry.amount_minor), entry.asset), order_id: entry.order_id, memo: entry.memo, created_at: entry.created_at })) } };
  });
}
