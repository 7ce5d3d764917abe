import { z } from 'zod';
import { adjustCustomerPoints, describeLoyalty, endCustomerMembership, grantMembership, listCustomerMemberships, setCustomerBirthday } from '../../commands/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const id = z.string().min(1).max(100);
const timestamp = z.iso.datetime({ offset: true });

/** Memberships (paid or invited VIP status) and the birthday the birthday bonus is given on. */
export function registerLoyaltyProgramRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;

  app.post('/v1/customers/:id/loyalty/adjustments', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Correct a balance by hand, with a reason (audited): points added, or taken (never below zero)', tags: ['loyalty'],
      params: z.object({ id: z.string().min(1).max(100) }),
      body: z.object({ points: z.number().int().min(-10_000_000).max(10_000_000).refine((value) => value !== 0, 'must not be zero'), reason: z.string().trim().min(3).max(500), reference: z.string().min(1).max(200).optional() }),
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const result = await database.db.transaction().execute((tx) => adjustCustomerPoints(tx, merchant, { customerId: request.params.id, points: body.points, reason: body.reason, reference: body.reference ?? null, actor: `api:${request.principal?.keyId}` }));
    return reply.code(result.adjusted ? 201 : 200).send({ data: await describeLoyalty(database.db, merchant, request.params.id) });
  });

  app.post('/v1/customers/:id/memberships', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Grant a paid or invited membership with its period and perks (independent of the tier)', tags: ['loyalty'],
      params: z.object({ id }),
      body: z.object({
        name: z.string().trim().min(1).max(100),
        kind: z.enum(['paid', 'invited']),
        starts_at: timestamp.optional().describe('Default: now'),
        ends_at: timestamp.optional().describe('Exclusive; default: open-ended until ended'),
        perks: z.object({ earn_multiplier_bps: z.number().int().min(10_000).max(100_000).optional().describe('20000 = 2× points on purchases; combines with the tier by taking the larger') }).strict().default({}),
      }).strict(),
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const membership = await db.transaction().execute((tx) => grantMembership(tx, merchant, request.params.id, { name: body.name, kind: body.kind, startsAt: body.starts_at ?? null, endsAt: body.ends_at ?? null, earnMultiplierBps: body.perks.earn_multiplier_bps ?? null }));
    return reply.code(201).send({ data: membership });
  });

  app.get('/v1/customers/:id/memberships', {
    config: { scope: 'read' },
    schema: { summary: 'Her memberships, past, current and future, each with whether it is active now', tags: ['loyalty'], params: z.object({ id }) },
  }, async (request) => ({ data: await listCustomerMemberships(db, merchantOf(request), request.params.id) }));

  app.post('/v1/memberships/:id/end', {
    config: { scope: 'admin' },
    schema: { summary: 'End a membership now; ending one already ended changes nothing', tags: ['loyalty'], params: z.object({ id }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    return { data: await db.transaction().execute((tx) => endCustomerMembership(tx, merchant, request.params.id)) };
  });

  app.post('/v1/customers/:id/birthday', {
    config: { scope: 'pos' },
    schema: {
      summary: 'Set (or clear, with null) her birthday: MM-DD or YYYY-MM-DD; the birthday bonus is given on it once a year', tags: ['customers'],
      params: z.object({ id }),
      body: z.object({ birthday: z.string().max(10).nullable() }).strict(),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const result = await db.transaction().execute((tx) => setCustomerBirthday(tx, merchant, request.params.id, request.body.birthday));
    return { data: { customer_id: result.customerId, birthday: result.birthday } };
  });
}
