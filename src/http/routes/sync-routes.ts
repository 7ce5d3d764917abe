import { z } from 'zod';
import { countInboxByStatus, countOutboxByStatus, listExceptions, listOutboxEvents } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

export function registerSyncRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;
  app.get('/v1/sync/status', { config: { scope: 'read' }, schema: { summary: 'Inbox and outbox counts by state', tags: ['sync'] } }, async (request) => {
    const merchantId = merchantOf(request).id;
    return { data: { inbox: await countInboxByStatus(db, merchantId), outbox: await countOutboxByStatus(db, merchantId) } };
  });

  app.get('/v1/exceptions', {
    config: { scope: 'read' },
    schema: { summary: 'Cases a person must decide: possible duplicates, unmapped SKUs, oversells, failed syncs', tags: ['sync'], querystring: z.object({ state: z.enum(['open', 'resolved']).optional(), kind: z.string().max(50).optional() }) },
  }, async (request) => ({ data: await listExceptions(db, merchantOf(request).id, { ...(request.query.state ? { state: request.query.state } : {}), ...(request.query.kind ? { kind: request.query.kind } : {}) }) }));

  app.get('/v1/outbox', {
    config: { scope: 'admin' },
    schema: { summary: 'Outbound messages to the channels, newest first', tags: ['sync'], querystring: z.object({ status: z.enum(['pending', 'delivering', 'delivered', 'dead']).optional(), destination: z.string().max(50).optional() }) },
  }, async (request) => {
    const rows = await listOutboxEvents(db, merchantOf(request).id, { ...(request.query.status ? { status: request.query.status } : {}), ...(request.query.destination ? { destination: request.query.destination } : {}) });
    return { data: rows.map((row) => ({ id: row.id, destination: row.destination, kind: row.kind, payload: JSON.parse(row.payload) as unknown, status: row.status, attempts: row.attempts, next_attempt_at: row.next_attempt_at, last_error: row.last_error, created_at: row.created_at, delivered_at: row.delivered_at })) };
  });
}
