import { z } from 'zod';
import { describeException, getPrivacyRequest, listPrivacyRequests, resolveException } from '../../commands/index.ts';
import { reconcileShopifyStock } from '../../connectors/shopify/index.ts';
import { countInboxByStatus, countOutboxByStatus, listExceptions, listOutboxEvents } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

export function registerSyncRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;
  app.get('/v1/sync/status', { config: { scope: 'read' }, schema: { summary: 'Inbox and outbox counts by state', tags: ['sync'] } }, async (request) => {
    const merchantId = merchantOf(request).id;
    return { data: { inbox: await countInboxByStatus(db, merchantId), outbox: await countOutboxByStatus(db, merchantId) } };
  });

  app.get('/v1/exceptions', {
    config: { scope: 'read' },
    schema: { summary: 'Cases a person must decide: possible duplicates, unmapped SKUs, oversells, failed syncs', tags: ['sync'], querystring: z.object({ state: z.enum(['open', 'resolved']).optional(), kind: z.string().max(50).optional() }) },
  }, async (request) => ({ data: await listExceptions(db, merchantOf(request).id, { ...(request.query.state ? { state: request.query.state } : {}), ...(request.query.kind ? { kind: request.query.kind } : {}) }) }));

  app.get('/v1/exceptions/:id', {
    config: { scope: 'read' },
    schema: { summary: 'One exception; a possible duplicate shows both profiles side by side', tags: ['sync'], params: z.object({ id: z.string().min(1).max(100) }) },
  }, async (request) => ({ data: await describeException(db, merchantOf(request), request.params.id) }));

  app.post('/v1/exceptions/:id/resolve', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Settle an exception: merge a duplicate pair, say they are different people, or close it with a note', tags: ['sync'],
      params: z.object({ id: z.string().min(1).max(100) }),
      body: z.discriminatedUnion('action', [
        z.object({ action: z.literal('merge'), survivor_id: z.string().min(1).max(100) }),
        z.object({ action: z.literal('not_same_person') }),
        z.object({ action: z.literal('resolve'), note: z.string().min(1).max(1000) }),
      ]),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const decision = body.action === 'merge' ? { action: 'merge' as const, survivorId: body.survivor_id } : body.action === 'resolve' ? { action: 'resolve' as const, note: body.note } : { action: 'not_same_person' as const };
    await db.transaction().execute((tx) => resolveException(tx, merchant, request.params.id, decision, `api:${request.principal?.keyId}`));
    return { data: await describeException(db, merchant, request.params.id) };
  });

  app.post('/v1/reconciliation/stock', {
    config: { scope: 'admin' },
    schema: { summary: "Compare Shopify's available figures with the truth, with a reason for each difference; repair pushes the truth again", tags: ['sync'], body: z.object({ repair: z.boolean().default(false) }) },
  }, async (request) => {
    const report = await reconcileShopifyStock(db, merchantOf(request).id, { repair: request.body.repair });
    worker.wake();
    return { data: report };
  });

  app.get('/v1/outbox', {
    config: { scope: 'admin' },
    schema: { summary: 'Outbound messages to the channels, newest first', tags: ['sync'], querystring: z.object({ status: z.enum(['pending', 'delivering', 'delivered', 'dead']).optional(), destination: z.string().max(50).optional() }) },
  }, async (request) => {
    const rows = await listOutboxEvents(db, merchantOf(request).id, { ...(request.query.status ? { status: request.query.status } : {}), ...(request.query.destination ? { destination: request.query.destination } : {}) });
    return { data: rows.map((row) => ({ id: row.id, destination: row.destination, kind: row.kind, payload: JSON.parse(row.payload) as unknown, status: row.status, attempts: row.attempts, next_attempt_at: row.next_attempt_at, last_error: row.last_error, created_at: row.created_at, delivered_at: row.delivered_at })) };
  });

  app.get('/v1/privacy/requests', {
    config: { scope: 'admin' },
    schema: { summary: 'Privacy requests from the channels (data requests, redactions), newest first, without their bodies', tags: ['privacy'], querystring: z.object({ kind: z.enum(['data_request', 'customer_redact']).optional() }) },
  }, async (request) => ({ data: await listPrivacyRequests(db, merchantOf(request).id, request.query.kind ? { kind: request.query.kind } : {}) }));

  app.get('/v1/privacy/requests/:id', {
    config: { scope: 'admin' },
    schema: { summary: 'One privacy request: a data request with the export to hand to the shopper, a redaction with what was erased', tags: ['privacy'], params: z.object({ id: z.string().min(1).max(100) }) },
  }, async (request) => ({ data: await getPrivacyRequest(db, merchantOf(request).id, request.params.id) }));
}
