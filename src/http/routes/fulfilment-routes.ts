import { z } from 'zod';
import { announceStockChange, cancelPickup, countStock, describePickup, findOrders, findPickupIdByOrder, listPickups, markPickedUp, markPickupReady, placeHold, recordPosSale, releaseHold, transferStock } from '../../commands/index.ts';
import { findVariantBySku } from '../../catalog/index.ts';
import { requestGroupCommit } from '../../db/index.ts';
import { setChannelBuffer, setSafetyStock } from '../../inventory/index.ts';
import { getLocation } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';
import { orderView } from '../views.ts';
import { posSaleBody } from './order-routes.ts';

const id = z.string().trim().min(1).max(200);
const sku = z.string().trim().min(1).max(200);

/** Store pickup, cart holds, counts, transfers, safety stock, channel buffers and order search. */
export function registerFulfilmentRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;
  const commands = requestGroupCommit(db);
  const actorOf = (keyId: string | undefined) => `api:${keyId ?? 'unknown'}`;

  app.post('/v1/pickups', {
    config: { scope: 'pos' },
    schema: {
      summary: 'Place an online order for pickup at a store: priced with the shared promotions, reserved at that store in the same transaction (409 with other locations when it cannot be)',
      tags: ['pickup'],
      body: posSaleBody.omit({ register_id: true }).extend({ sale_id: id.describe("The storefront's own order id; sending it again changes nothing") }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const merchant = merchantOf(request);
    const result = await db.transaction().execute((tx) => recordPosSale(tx, merchant, {
      saleId: body.sale_id, registerId: null, locationId: body.location_id, occurredAt: body.occurred_at ?? null, fulfilment: 'pickup',
      customer: body.customer ? { customerId: body.customer.customer_id ?? null, loyaltyCode: body.customer.loyalty_code ?? null, email: body.customer.email ?? null, phone: body.customer.phone ?? null, firstName: body.customer.first_name ?? null, lastName: body.customer.last_name ?? null } : null,
      lines: body.lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPriceMinor: line.unit_price_minor ?? null })),
      promotionCodes: body.promotion_codes, rewards: body.rewards,
      payments: body.payments?.map((payment) => ({ method: payment.method, amountMinor: payment.amount_minor })) ?? null,
    }));
    worker.wake();
    return reply.code(result.created ? 201 : 200).send({ data: { order: orderView(result.order), pickup_id: await findPickupIdByOrder(db, merchant.id, result.order.id), points_earned: result.pointsEarned } });
  });

  app.get('/v1/pickups', {
    config: { scope: 'read' },
    schema: { summary: "A store's pickup queue: to prepare (placed), ready, handed over", tags: ['pickup'], querystring: z.object({ location_id: id.optional(), state: z.enum(['placed', 'ready', 'picked_up', 'cancelled', 'expired']).optional() }) },
  }, async (request) => ({ data: await listPickups(db, merchantOf(request).id, { ...(request.query.location_id ? { locationId: request.query.location_id } : {}), ...(request.query.state ? { state: request.query.state } : {}) }) }));

  app.get('/v1/pickups/:id', { config: { scope: 'read' }, schema: { summary: 'One pickup with its reservations', tags: ['pickup'], params: z.object({ id }) } },
    async (request) => ({ data: await describePickup(db, merchantOf(request).id, request.params.id) }));

  const steps = { ready: markPickupReady, 'picked-up': markPickedUp, cancel: cancelPickup } as const;
  for (const [step, run] of Object.entries(steps)) {
    app.post(`/v1/pickups/:id/${step}`, {
      config: { scope: 'pos' },
      schema: { summary: step === 'ready' ? 'The order is prepared and waiting' : step === 'picked-up' ? 'Handed over: the reserved units leave the shelf' : 'Cancel: the reserved units become available again', tags: ['pickup'], params: z.object({ id }) },
    }, async (request) => {
      const merchant = merchantOf(request);
      await db.transaction().execute((tx) => run(tx, merchant, request.params.id, actorOf(request.principal?.keyId)));
      worker.wake();
      return { data: await describePickup(db, merchant.id, request.params.id) };
    });
  }

  app.post('/v1/holds', {
    config: { scope: 'pos' },
    schema: { summary: 'Hold units for a cart for a limited time (409 when not available)', tags: ['inventory'], body: z.object({ location_id: id, sku, quantity: z.number().int().min(1).max(10_000), ttl_seconds: z.number().int().min(10).max(24 * 60 * 60).default(900) }) },
  }, async (request, reply) => {
    const body = request.body;
    const merchant = merchantOf(request);
    // Concurrent holds share one transaction and one commit, each in its own savepoint (src/db/group-commit.ts).
    const hold = await commands.run((tx) => placeHold(tx, merchant, { locationId: body.location_id, sku: body.sku, quantity: body.quantity, ttlSeconds: body.ttl_seconds, actor: actorOf(request.principal?.keyId) }));
    worker.wake();
    return reply.code(201).send({ data: hold });
  });

  app.post('/v1/holds/:id/release', { config: { scope: 'pos' }, schema: { summary: 'Release a cart hold now', tags: ['inventory'], params: z.object({ id }) } }, async (request) => {
    const merchant = merchantOf(request);
    const hold = await commands.run((tx) => releaseHold(tx, merchant, request.params.id, actorOf(request.principal?.keyId)));
    worker.wake();
    return { data: hold };
  });

  app.post('/v1/inventory/count', {
    config: { scope: 'admin' },
    schema: { summary: 'Record a physical count: on hand becomes what was counted', tags: ['inventory'], body: z.object({ location_id: id, sku, on_hand: z.number().int().min(0).max(10_000_000), reason: z.string().max(500).optional(), reference: z.string().min(1).max(200).optional() }) },
  }, async (request) => {
    const body = request.body;
    const result = await db.transaction().execute((tx) => countStock(tx, merchantOf(request), { locationId: body.location_id, sku: body.sku, onHand: body.on_hand, reason: body.reason ?? null, reference: body.reference ?? null, actor: actorOf(request.principal?.keyId) }));
    worker.wake();
    return { data: { applied: result.applied, on_hand: result.level.onHand, reserved: result.level.reserved, available: result.level.available } };
  });

  app.post('/v1/inventory/transfer', {
    config: { scope: 'admin' },
    schema: { summary: 'Move units from one location to another', tags: ['inventory'], body: z.object({ from_location_id: id, to_location_id: id, sku, quantity: z.number().int().min(1).max(1_000_000), reference: z.string().min(1).max(200).optional() }) },
  }, async (request) => {
    const body = request.body;
    const result = await db.transaction().execute((tx) => transferStock(tx, merchantOf(request), { fromLocationId: body.from_location_id, toLocationId: body.to_location_id, sku: body.sku, quantity: body.quantity, reference: body.reference ?? null, actor: actorOf(request.principal?.keyId) }));
    worker.wake();
    return { data: { from: { location_id: result.from.locationId, on_hand: result.from.onHand, available: result.from.available }, to: { location_id: result.to.locationId, on_hand: result.to.onHand, available: result.to.available } } };
  });

  app.post('/v1/inventory/safety', {
    config: { scope: 'admin' },
    schema: { summary: 'Set safety stock: units kept back from available everywhere', tags: ['inventory'], body: z.object({ location_id: id, sku, safety: z.number().int().min(0).max(1_000_000) }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const variant = await findVariantBySku(db, merchant.id, body.sku);
    if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${body.sku}`, { field: 'sku' });
    const location = await getLocation(db, merchant.id, body.location_id);
    const level = await db.transaction().execute(async (tx) => {
      const updated = await setSafetyStock(tx, merchant.id, location.id, variant.id, body.safety);
      await announceStockChange(tx, merchant.id, location, variant.id);
      return updated;
    });
    worker.wake();
    return { data: { location_id: level.locationId, sku: body.sku, on_hand: level.onHand, reserved: level.reserved, safety: level.safety, available: level.available } };
  });

  app.post('/v1/inventory/buffers', {
    config: { scope: 'admin' },
    schema: { summary: "Hold units back from one channel's figure at a location (e.g. 2 from the website)", tags: ['inventory'], body: z.object({ channel: z.enum(['shopify', 'square']), location_id: id, units: z.number().int().min(0).max(1_000_000) }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    const body = request.body;
    await getLocation(db, merchant.id, body.location_id);
    await setChannelBuffer(db, merchant.id, body.channel, body.location_id, body.units);
    return { data: { channel: body.channel, location_id: body.location_id, units: body.units } };
  });

  app.get('/v1/orders', {
    config: { scope: 'read' },
    schema: { summary: 'Find orders at the register by order number, email, phone, loyalty code or customer', tags: ['orders'], querystring: z.object({ q: z.string().max(200).optional(), customer_id: id.optional() }) },
  }, async (request) => {
    const orders = await findOrders(db, merchantOf(request), { ...(request.query.q ? { q: request.query.q } : {}), ...(request.query.customer_id ? { customerId: request.query.customer_id } : {}) });
    return { data: orders.map((order) => ({ id: order.id, customer_id: order.customerId, channel: order.channel, source: order.source, order_number: order.orderNumber, location_id: order.locationId, placed_at: order.placedAt, total: { amount_minor: order.totalMinor, currency: order.currency }, refunded: { amount_minor: order.refundedMinor, currency: order.currency } })) };
  });
}
