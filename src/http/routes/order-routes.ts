import { z } from 'zod';
import { requestGroupCommit } from '../../db/index.ts';
import { recordPosSale } from '../../commands/index.ts';
import { getOrder } from '../../orders/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';
import { moneyView, orderView } from '../views.ts';

const identifier = z.string().trim().min(1).max(200);

export const posSaleBody = z.object({
  sale_id: identifier.describe("The register's own id for this sale; sending the same sale again changes nothing"),
  register_id: identifier.optional(),
  location_id: identifier,
  occurred_at: z.iso.datetime({ offset: true }).optional(),
  customer: z
    .object({ customer_id: identifier.optional(), loyalty_code: identifier.optional(), email: z.string().max(320).optional(), phone: z.string().max(40).optional(), first_name: z.string().max(100).optional(), last_name: z.string().max(100).optional() })
    .optional(),
  lines: z.array(z.object({ sku: identifier, quantity: z.number().int().min(1).max(10_000), unit_price_minor: z.number().int().min(0).max(100_000_000).optional() })).min(1).max(500),
  promotion_codes: z.array(identifier).max(10).default([]),
  rewards: z.array(identifier).max(10).default([]).describe('Rewards to redeem, by id or code'),
  payments: z.array(z.object({ method: identifier, amount_minor: z.number().int().min(0) })).max(20).optional(),
});

export function registerOrderRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const commands = requestGroupCommit(database.db);
  app.post('/v1/pos/sales', {
    config: { scope: 'pos' },
    schema: { summary: 'Record a register sale: price with the shared promotion rules, redeem rewards, move stock, earn points', tags: ['pos'], body: posSaleBody },
  }, async (request, reply) => {
    const body = request.body;
    const merchant = merchantOf(request);
    // Concurrent sales share one transaction and one commit, each in its own savepoint (src/db/group-commit.ts).
    const result = await commands.run((tx) => recordPosSale(tx, merchant, {
      saleId: body.sale_id, registerId: body.register_id ?? null, locationId: body.location_id, occurredAt: body.occurred_at ?? null,
      customer: body.customer ? { customerId: body.customer.customer_id ?? null, loyaltyCode: body.customer.loyalty_code ?? null, email: body.customer.email ?? null, phone: body.customer.phone ?? null, firstName: body.customer.first_name ?? null, lastName: body.customer.last_name ?? null } : null,
      lines: body.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor ?? null })),
      promotionCodes: body.promotion_codes, rewards: body.rewards,
      payments: body.payments?.map((payment) => ({ method: payment.method, amountMinor: payment.amount_minor })) ?? null,
    }));
    worker.wake();
    return reply.code(result.created ? 201 : 200).send({
      data: { order: orderView(result.order), points_earned: result.pointsEarned, points_redeemed: result.pointsRedeemed, loyalty: result.loyalty ? { available: result.loyalty.available, pending: result.loyalty.pending, tier: result.loyalty.tier } : null },
    });
  });

  app.get('/v1/orders/:id', {
    config: { scope: 'read' },
    schema: { summary: 'One order from any channel', tags: ['orders'], params: z.object({ id: z.string() }) },
  }, async (request) => {
    const merchantId = merchantOf(request).id;
    const order = await getOrder(database.db, merchantId, request.params.id);
    // The history links both ways: the returns taken against this order (with any exchange's new
    // order), and the order an exchange took back when this is the exchange's new goods.
    const returns = await database.db.selectFrom('returns').select(['id', 'source', 'created_at', 'amount_minor', 'store_credit_minor', 'location_id', 'exchange_order_id', 'push_state']).where('merchant_id', '=', merchantId).where('order_id', '=', order.id).orderBy('created_at').orderBy('id').execute();
    return {
      data: {
        ...orderView(order),
        exchange_of_order_id: order.exchangeOfOrderId,
        returns: returns.map((row) => ({ id: row.id, source: row.source, created_at: row.created_at, location_id: row.location_id, total: moneyView(row.amount_minor, order.currency), store_credit: moneyView(row.store_credit_minor, order.currency), exchange_order_id: row.exchange_order_id, channel_refund_state: row.push_state ?? 'not_needed' })),
      },
    };
  });
}
