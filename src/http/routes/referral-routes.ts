import { z } from 'zod';
import { approveReferral, claimReferral, getOrCreateReferralCode, listCustomerReferrals, referralView, rejectReferral } from '../../commands/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';
import { errorBody } from '../error-mapping.ts';

const id = z.string().trim().min(1).max(100);
// The body is optional: a decision without a note sends none (Fastify gives null).
const reviewBody = z.object({ note: z.string().trim().min(1).max(1000).optional() }).nullish();
const referral = z.object({
  id: z.string(), referrer_id: z.string(), friend_id: z.string(), state: z.enum(['pending', 'awaiting_return_window', 'paid', 'review', 'refused']), reason: z.string().nullable(),
  order_id: z.string().nullable(), created_at: z.string(), qualifies_at: z.string().nullable(), closed_at: z.string().nullable(),
});
const claimBody = z.object({
  code: z.string().trim().min(1).max(40).describe('The referrer\'s code as the friend typed it: "REF-7KQ2M9", "ref 7kq2m9"'),
  friend: z.object({
    customer_id: id.optional(), email: z.string().max(320).optional(), phone: z.string().max(40).optional(),
    first_name: z.string().max(100).optional(), last_name: z.string().max(100).optional(),
  }).refine((friend) => Boolean(friend.customer_id || friend.email || friend.phone), { message: 'Name the friend by customer_id, email or phone' }),
});

// A refusal is the referral's answer, not a broken request: a friend who is already known (a
// customer, or referred before) conflicts with what is held (409); a code nobody holds or a
// member referring herself cannot be accepted as sent (422). The status depends on the reason, so
// it is chosen here rather than by the code alone.
const conflictReasons = new Set(['already_referred', 'already_customer']);

function refusalStatus(error: AppError): number {
  return conflictReasons.has(String(error.details['reason'])) ? 409 : 422;
}

const actorOf = (keyId: string | undefined) => `api:${keyId ?? 'unknown'}`;

/** Referral codes, claims by friends, a person's review, and a member's referrals. */
export function registerReferralRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;

  app.get('/v1/customers/:id/referral-code', {
    config: { scope: 'pos' },
    schema: { summary: "The member's referral code, issued on the first ask", tags: ['loyalty'], params: z.object({ id }), response: { 200: z.object({ data: z.object({ customer_id: z.string(), code: z.string(), created_at: z.string() }) }) } },
  }, async (request) => {
    const code = await db.transaction().execute((tx) => getOrCreateReferralCode(tx, merchantOf(request), request.params.id));
    return { data: { customer_id: code.customerId, code: code.code, created_at: code.createdAt } };
  });

  app.post('/v1/referrals', {
    config: { scope: 'pos' },
    schema: {
      summary: 'A friend claims a referral code: refused (422/409, loyalty.referral_refused with details.reason), held for review, or pending until her first order',
      tags: ['loyalty'], body: claimBody,
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const { code, friend } = request.body;
    try {
      const claimed = await db.transaction().execute((tx) => claimReferral(tx, merchant, { code, friend: { customerId: friend.customer_id ?? null, email: friend.email ?? null, phone: friend.phone ?? null, firstName: friend.first_name ?? null, lastName: friend.last_name ?? null } }));
      worker.wake();
      return reply.code(201).send({ data: referralView(claimed) });
    } catch (error) {
      if (error instanceof AppError && error.code === 'loyalty.referral_refused') return reply.code(refusalStatus(error)).send(errorBody(error));
      throw error;
    }
  });

  app.get('/v1/referrals', {
    config: { scope: 'read' },
    schema: { summary: "A member's referrals, made and received, with their states", tags: ['loyalty'], querystring: z.object({ customer_id: id }), response: { 200: z.object({ data: z.array(referral) }) } },
  }, async (request) => ({ data: (await listCustomerReferrals(db, merchantOf(request), request.query.customer_id)).map(referralView) }));

  const decisions = { approve: approveReferral, reject: rejectReferral } as const;
  for (const [decision, decide] of Object.entries(decisions)) {
    app.post(`/v1/referrals/:id/${decision}`, {
      config: { scope: 'admin' },
      schema: { summary: decision === 'approve' ? 'A person approves a referral held for review: it becomes pending' : 'A person rejects a referral held for review: it is refused', tags: ['loyalty'], params: z.object({ id }), body: reviewBody },
    }, async (request) => {
      const merchant = merchantOf(request);
      const decided = await db.transaction().execute((tx) => decide(tx, merchant, request.params.id, { actor: actorOf(request.principal?.keyId), note: request.body?.note ?? null }));
      return { data: referralView(decided) };
    });
  }
}
