import { z } from 'zod';
import { describeException, getPrivacyRequest, listPrivacyRequests, resolveException, type ExceptionAction } from '../../commands/index.ts';
import { reconcileShopifyStock } from '../../connectors/shopify/index.ts';
import { reconcileSquareStock } from '../../connectors/square/index.ts';
import {
  assignException, countInboxByStatus, countOutboxByStatus, dismissException, exceptionsPageSizeDefault, exceptionsPageSizeMax, exceptionStates, listChannelCircuits,
  listExceptionPage, listOutboxEvents, reopenException, replayOutbox, retryException, settledCountWindowMs, type ReplayResult,
} from '../../sync/index.ts';
import { nowMs } from '../../shared/clock.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const exceptionParams = z.object({ id: z.string().min(1).max(100) });
const resolutionNote = z.string().min(1).max(1000);

/** Who the audit log names for a request: its API key. */
function actorOf(request: { principal?: { keyId?: string } | undefined }): string {
  return `api:${request.principal?.keyId ?? 'unknown'}`;
}

function toDecision(body: { action: 'merge'; survivor_id: string } | { action: 'not_same_person' } | { action: 'resolve'; note: string } | { resolution: string }): ExceptionAction {
  if (!('action' in body)) return { action: 'resolve', note: body.resolution };
  if (body.action === 'merge') return { action: 'merge', survivorId: body.survivor_id };
  return body.action === 'resolve' ? { action: 'resolve', note: body.note } : { action: 'not_same_person' };
}

export function registerSyncRoutes(app: AppInstance, dependencies: RouteDependencies): void {
  registerStatusAndOutboxRoutes(app, dependencies);
  registerExceptionRoutes(app, dependencies);
  registerExceptionActionRoutes(app, dependencies);
  registerPrivacyRoutes(app, dependencies);
}

function registerStatusAndOutboxRoutes(app: AppInstance, { database, worker, metrics }: RouteDependencies): void {
  const db = database.db;
  app.get('/v1/sync/status', { config: { scope: 'read' }, schema: { summary: 'Inbox and outbox counts by state (what waits and what died: all; what was settled: since settled_since, the last 24 hours), and the circuit breakers that are open, half-open or counting failures', tags: ['sync'] } }, async (request) => {
    const merchantId = merchantOf(request).id;
    const now = nowMs();
    const settledIn = { fromIso: new Date(now - settledCountWindowMs).toISOString(), toIso: new Date(now).toISOString() };
    return {
      data: {
        settled_since: settledIn.fromIso,
        inbox: await countInboxByStatus(db, merchantId, settledIn),
        outbox: await countOutboxByStatus(db, merchantId, settledIn),
        circuits: await listChannelCircuits(db, merchantId),
      },
    };
  });

  app.post('/v1/reconciliation/stock', {
    config: { scope: 'admin' },
    schema: { summary: "Compare Shopify's available figures with the truth, with a reason for each difference; repair pushes the truth again", tags: ['sync'], body: z.object({ repair: z.boolean().default(false) }) },
  }, async (request) => {
    const report = await reconcileShopifyStock(db, merchantOf(request).id, { repair: request.body.repair });
    worker.wake();
    return { data: report };
  });

  app.post('/v1/reconciliation/square', {
    config: { scope: 'admin' },
    schema: {
      summary: "Compare Square's IN_STOCK counts at each location mapped to Square with the truth (less the Square buffer), each difference with its reason; repair pushes the truth again, stated as of now",
      tags: ['sync'],
      body: z.object({ scopes: z.array(z.enum(['stock'])).min(1).max(1).default(['stock']), repair: z.boolean().default(false) }),
    },
  }, async (request) => {
    const stock = await reconcileSquareStock(db, merchantOf(request).id, { repair: request.body.repair });
    worker.wake();
    return { data: { stock } };
  });

  app.get('/v1/outbox', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Outbound messages to the channels, newest first (500 at most)', tags: ['sync'],
      querystring: z.object({ status: z.enum(['pending', 'delivering', 'delivered', 'dead']).optional(), destination: z.string().max(50).optional(), kind: z.string().max(100).optional() }),
    },
  }, async (request) => {
    const rows = await listOutboxEvents(db, merchantOf(request).id, { ...(request.query.status ? { status: request.query.status } : {}), ...(request.query.destination ? { destination: request.query.destination } : {}), ...(request.query.kind ? { kind: request.query.kind } : {}) });
    return {
      data: rows.map((row) => ({
        id: row.id, destination: row.destination, kind: row.kind, circuit_key: row.circuit_key, payload: JSON.parse(row.payload) as unknown, status: row.status, attempts: row.attempts, next_attempt_at: row.next_attempt_at,
        last_error: row.last_error, created_at: row.created_at, delivered_at: row.delivered_at, replays: row.replays, superseded: row.superseded, claimed_by: row.claimed_by,
      })),
    };
  });

  app.post('/v1/outbox/replay', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Re-queue one dead or delivered message by id, or the dead messages of a destination and/or kind (500 per call); a pending message is never copied', tags: ['sync'],
      body: z.object({ id: z.string().min(1).max(100).optional(), destination: z.string().min(1).max(50).optional(), kind: z.string().min(1).max(100).optional() })
        .refine((body) => body.id !== undefined || body.destination !== undefined || body.kind !== undefined, { message: 'name an id, or a destination and/or kind', path: ['id'] })
        .refine((body) => body.id === undefined || (body.destination === undefined && body.kind === undefined), { message: 'an id replays that message only: leave out destination and kind', path: ['id'] }),
    },
  }, async (request) => {
    const selection = { ...(request.body.id ? { id: request.body.id } : {}), ...(request.body.destination ? { destination: request.body.destination } : {}), ...(request.body.kind ? { kind: request.body.kind } : {}) };
    const result = await db.transaction().execute((tx) => replayOutbox(tx, merchantOf(request).id, selection, actorOf(request)));
    countReplays(metrics, result.replayed);
    worker.wake();
    return { data: result.replayed, more: result.more };
  });
}

function countReplays(metrics: RouteDependencies['metrics'], replayed: ReplayResult[]): void {
  for (const result of replayed) if (result.outcome === 'requeued') metrics.outboxReplays.inc({ destination: result.destination });
}

function registerExceptionRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;
  app.get('/v1/exceptions', {
    config: { scope: 'read' },
    schema: {
      summary: 'Cases a person must decide (possible duplicates, unmapped SKUs, oversells, failed syncs, ...), newest first, a page at a time', tags: ['sync'],
      querystring: z.object({
        state: z.enum([...exceptionStates, 'active']).optional(), kind: z.string().max(50).optional(), owner: z.string().min(1).max(200).optional(), subject: z.string().min(1).max(200).optional(),
        since: z.iso.datetime({ offset: true }).optional(), cursor: z.string().min(1).max(500).optional(), limit: z.coerce.number().int().min(1).max(exceptionsPageSizeMax).default(exceptionsPageSizeDefault),
      }),
    },
  }, async (request) => {
    const { state, kind, owner, subject, since, cursor, limit } = request.query;
    const page = await listExceptionPage(db, merchantOf(request).id, { ...(state ? { state } : {}), ...(kind ? { kind } : {}), ...(owner ? { owner } : {}), ...(subject ? { subject } : {}), ...(since ? { since } : {}), ...(cursor ? { cursor } : {}), limit });
    return { data: page.items, next_cursor: page.nextCursor };
  });

  app.get('/v1/exceptions/:id', {
    config: { scope: 'read' },
    schema: { summary: 'One exception with the actions it offers and its history; a possible duplicate shows both profiles side by side', tags: ['sync'], params: exceptionParams },
  }, async (request) => ({ data: await describeException(db, merchantOf(request), request.params.id) }));
}

/** The lifecycle actions; each answers the exception as it is after the action. */
function registerExceptionActionRoutes(app: AppInstance, { database, worker, metrics }: RouteDependencies): void {
  const db = database.db;
  app.post('/v1/exceptions/:id/assign', {
    config: { scope: 'admin' },
    schema: { summary: 'Give an active exception an owner (open → assigned)', tags: ['sync'], params: exceptionParams, body: z.object({ owner: z.string().min(1).max(200) }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    await db.transaction().execute((tx) => assignException(tx, merchant.id, request.params.id, request.body.owner, actorOf(request)));
    return { data: await describeException(db, merchant, request.params.id) };
  });

  app.post('/v1/exceptions/:id/resolve', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Resolve an active exception: with a resolution note, or for a duplicate by a merge or by saying they are different people', tags: ['sync'], params: exceptionParams,
      body: z.union([
        z.discriminatedUnion('action', [
          z.object({ action: z.literal('merge'), survivor_id: z.string().min(1).max(100) }),
          z.object({ action: z.literal('not_same_person') }),
          z.object({ action: z.literal('resolve'), note: resolutionNote }),
        ]),
        z.object({ resolution: resolutionNote }),
      ]),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    await db.transaction().execute((tx) => resolveException(tx, merchant, request.params.id, toDecision(request.body), actorOf(request)));
    return { data: await describeException(db, merchant, request.params.id) };
  });

  app.post('/v1/exceptions/:id/dismiss', {
    config: { scope: 'admin' },
    schema: { summary: 'Close an active exception as not a case after all', tags: ['sync'], params: exceptionParams, body: z.object({ reason: resolutionNote.default('dismissed') }).default({ reason: 'dismissed' }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    await db.transaction().execute((tx) => dismissException(tx, merchant.id, request.params.id, request.body.reason, actorOf(request)));
    return { data: await describeException(db, merchant, request.params.id) };
  });

  app.post('/v1/exceptions/:id/reopen', {
    config: { scope: 'admin' },
    schema: { summary: 'Open a resolved or dismissed exception again (back to its owner, if it has one)', tags: ['sync'], params: exceptionParams, body: z.object({ reason: resolutionNote.default('reopened') }).default({ reason: 'reopened' }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    await db.transaction().execute((tx) => reopenException(tx, merchant.id, request.params.id, request.body.reason, actorOf(request)));
    return { data: await describeException(db, merchant, request.params.id) };
  });

  app.post('/v1/exceptions/:id/retry', {
    config: { scope: 'admin' },
    schema: { summary: "A failed sync's action: replay its dead outbox message; the exception is in progress until the delivery succeeds, which resolves it", tags: ['sync'], params: exceptionParams },
  }, async (request) => {
    const merchant = merchantOf(request);
    const replay = await db.transaction().execute((tx) => retryException(tx, merchant.id, request.params.id, actorOf(request)));
    countReplays(metrics, [replay]);
    worker.wake();
    return { data: { ...(await describeException(db, merchant, request.params.id)), replay } };
  });
}

function registerPrivacyRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;
  app.get('/v1/privacy/requests', {
    config: { scope: 'admin' },
    schema: { summary: 'Privacy requests from the channels (data requests, redactions), newest first, without their bodies', tags: ['privacy'], querystring: z.object({ kind: z.enum(['data_request', 'customer_redact']).optional() }) },
  }, async (request) => ({ data: await listPrivacyRequests(db, merchantOf(request).id, request.query.kind ? { kind: request.query.kind } : {}) }));

  app.get('/v1/privacy/requests/:id', {
    config: { scope: 'admin' },
    schema: { summary: 'One privacy request: a data request with the export to hand to the shopper, a redaction with what was erased', tags: ['privacy'], params: z.object({ id: z.string().min(1).max(100) }) },
  }, async (request) => ({ data: await getPrivacyRequest(db, merchantOf(request).id, request.params.id) }));
}
