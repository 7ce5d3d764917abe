import { z } from 'zod';
import { changeStock } from '../../commands/index.ts';
import { findVariantBySku } from '../../catalog/index.ts';
import { listStockLevelsBySku, listStockMovements } from '../../inventory/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const levelView = z.object({ location_id: z.string(), sku: z.string(), on_hand: z.number().int(), reserved: z.number().int(), safety: z.number().int(), available: z.number().int() });
const sku = z.string().trim().min(1).max(200);

export function registerInventoryRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  app.get('/v1/inventory', {
    config: { scope: 'read' },
    schema: { summary: 'Stock of one SKU at every location (available = on_hand − reserved − safety)', tags: ['inventory'], querystring: z.object({ sku }), response: { 200: z.object({ data: z.array(levelView) }) } },
  }, async (request) => ({ data: await listStockLevelsBySku(database.db, merchantOf(request).id, request.query.sku) }));

  app.get('/v1/inventory/movements', {
    config: { scope: 'read' },
    schema: { summary: 'The append-only movements of one SKU, optionally at one location', tags: ['inventory'], querystring: z.object({ sku, location_id: z.string().optional() }) },
  }, async (request) => {
    const merchantId = merchantOf(request).id;
    const variant = await findVariantBySku(database.db, merchantId, request.query.sku);
    if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${request.query.sku}`, { field: 'sku' });
    const movements = await listStockMovements(database.db, merchantId, { variantId: variant.id, ...(request.query.location_id ? { locationId: request.query.location_id } : {}) });
    return { data: movements.map((movement) => ({ id: movement.id, location_id: movement.location_id, kind: movement.kind, on_hand_delta: movement.on_hand_delta, reserved_delta: movement.reserved_delta, reason: movement.reason, actor: movement.actor, order_id: movement.order_id, created_at: movement.created_at })) };
  });

  for (const kind of ['receive', 'adjust'] as const) {
    app.post(`/v1/inventory/${kind}`, {
      config: { scope: 'admin' },
      schema: {
        summary: kind === 'receive' ? 'Receive units at a location' : 'Adjust on-hand units at a location (never below available zero)',
        tags: ['inventory'],
        body: z.object({
          location_id: z.string().min(1),
          sku,
          quantity: kind === 'receive' ? z.number().int().min(1).max(1_000_000) : z.number().int().min(-1_000_000).max(1_000_000).refine((value) => value !== 0, 'must not be zero'),
          reason: kind === 'receive' ? z.string().max(500).optional() : z.string().min(1).max(500),
          reference: z.string().min(1).max(200).optional().describe('The document behind the change; repeating it moves nothing'),
        }),
      },
    }, async (request) => {
      const body = request.body;
      const merchant = merchantOf(request);
      const result = await database.db.transaction().execute((tx) => changeStock(tx, merchant, { kind, locationId: body.location_id, sku: body.sku, delta: body.quantity, reason: body.reason ?? null, reference: body.reference ?? null, actor: `api:${request.principal?.keyId}` }));
      worker.wake();
      return { data: { applied: result.applied, location_id: result.level.locationId, sku: body.sku, on_hand: result.level.onHand, reserved: result.level.reserved, available: result.level.available } };
    });
  }
}
