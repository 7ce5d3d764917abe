import { z } from 'zod';
import { backfillShopify, getShopifyBackfillProgress, ORDER_RECONCILE_DAYS_MAX, reconcileScopes, reconcileShopify } from '../../connectors/shopify/index.ts';
import { listChannelAccounts, listChannelLocations, listLocations, mapLocationToChannel, updateChannelConnection } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

/** Pages one backfill request applies at most; the caller asks again to go on (it resumes). */
export const BACKFILL_PAGES_PER_REQUEST_MAX = 200;

/** The Shopify connector's admin routes: first-connection backfill, reconciliation, the shop's locations. */
export function registerShopifyRoutes(app: AppInstance, { database, worker, shopify }: RouteDependencies): void {
  const db = database.db;
  const clientFactory = shopify?.clientFactory;

  app.post('/v1/channels/shopify/backfill', {
    config: { scope: 'admin' },
    schema: {
      summary: "Read the connected shop's locations, products, customers and stock into Continuum, a bounded number of pages per request; ask again to resume",
      tags: ['channels'],
      body: z.object({
        pages_max: z.number().int().min(1).max(BACKFILL_PAGES_PER_REQUEST_MAX).default(50).describe('Pages applied by this request at most'),
        restart: z.boolean().default(false).describe('Forget the cursors and read everything again (what is current stays unchanged)'),
      }).default({ pages_max: 50, restart: false }),
    },
  }, async (request) => {
    const result = await backfillShopify(db, merchantOf(request).id, { pagesMax: request.body.pages_max, restart: request.body.restart, ...(clientFactory ? { clientFactory } : {}) });
    worker.wake();
    return { data: result };
  });

  app.get('/v1/channels/shopify/backfill', {
    config: { scope: 'read' },
    schema: { summary: 'How far the backfill got, per resource, without reading Shopify', tags: ['channels'] },
  }, async (request) => ({ data: await getShopifyBackfillProgress(db, merchantOf(request).id) }));

  app.post('/v1/reconciliation/shopify', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Compare Shopify with Continuum by scope (stock, customers, recent orders, webhook subscriptions), each drift with its reason; repair puts the truth back',
      tags: ['sync'],
      body: z.object({
        scopes: z.array(z.enum(reconcileScopes)).min(1).max(reconcileScopes.length).default([...reconcileScopes]),
        repair: z.boolean().default(false),
        order_days: z.number().int().min(1).max(ORDER_RECONCILE_DAYS_MAX).optional(),
      }),
    },
  }, async (request) => {
    const { scopes, repair, order_days: orderDays } = request.body;
    const report = await reconcileShopify(db, merchantOf(request).id, { scopes: [...new Set(scopes)], repair, publicUrl: shopify?.publicUrl ?? null, ...(orderDays ? { orderDays } : {}), ...(clientFactory ? { clientFactory } : {}) });
    worker.wake();
    return { data: report };
  });

  app.post('/v1/channels/shopify/reconnect', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Give the shop its Admin API access again (after it reinstalled the app): it is connected again and the outbox pushes to it',
      tags: ['channels'],
      body: z.object({ admin_api_url: z.url(), access_token: z.string().min(1).max(500) }),
    },
  }, async (request) => {
    const merchantId = merchantOf(request).id;
    if ((await listChannelAccounts(db, merchantId, 'shopify')).length === 0) throw new AppError('channels.not_found', 'No Shopify shop is connected', { channel: 'shopify' });
    await updateChannelConnection(db, merchantId, 'shopify', { adminApiUrl: request.body.admin_api_url, accessToken: request.body.access_token });
    const [account] = await listChannelAccounts(db, merchantId, 'shopify');
    return { data: { id: account!.id, account_ref: account!.accountRef, state: account!.state } };
  });

  app.get('/v1/channels/shopify/locations', {
    config: { scope: 'read' },
    schema: { summary: "The shop's locations as Shopify reported them, and which location here each maps to", tags: ['channels'] },
  }, async (request) => {
    const merchantId = merchantOf(request).id;
    const ours = await listLocations(db, merchantId);
    const theirs = await listChannelLocations(db, merchantId, 'shopify');
    return {
      data: theirs.map((location) => ({
        shopify_location_id: location.externalId, name: location.name, active: location.active, address: location.address, deleted_at: location.deletedAt,
        location_id: ours.find((candidate) => candidate.shopifyLocationId === location.externalId)?.id ?? null,
      })),
    };
  });

  app.post('/v1/channels/shopify/locations/:shopify_location_id/map', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Map a Shopify location to a location here (its stock is pushed there, its orders move stock here)',
      tags: ['channels'],
      params: z.object({ shopify_location_id: z.string().regex(/^\d{1,20}$/) }),
      body: z.object({ location_id: z.string().min(1).max(100) }),
    },
  }, async (request) => {
    const location = await mapLocationToChannel(db, merchantOf(request).id, request.body.location_id, 'shopify', request.params.shopify_location_id);
    return { data: location };
  });
}
