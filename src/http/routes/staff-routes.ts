import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { addStaffUser, disableStaffUser, enableStaffUser, setStaffPassword, updateStaffProfile, type StaffAccountActor } from '../../commands/index.ts';
import { listLocations } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { authenticateStaffSession, createSignInLimiter, listStaffUsers, normaliseStaffEmail, revokeStaffSession, signInStaff, staffPasswordLengthMax, staffPasswordLengthMin, staffRoles, type StaffSession, type StaffUser } from '../../staff/index.ts';
import { writeAudit } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';
import { assertSameOrigin, clearedSessionCookie, readSessionToken, sessionCookie, sessionCookieName } from '../session-cookie.ts';

const identifier = z.string().trim().min(1).max(200);
const emailLengthMax = 320;

function staffView(staff: StaffUser, homeLocationName: string | null) {
  return { id: staff.id, email: staff.email, name: staff.name, role: staff.role, home_location_id: staff.homeLocationId, home_location_name: homeLocationName, created_at: staff.createdAt, disabled_at: staff.disabledAt };
}

/**
 * Who is signed in, as the console shows it (docs/console-api.md). The session routes answer it as
 * the body itself, not in the `{ data }` envelope of the other routes: the console's contract (#8).
 */
function sessionView(session: StaffSession) {
  const { staff, merchant } = session;
  return {
    staff: { id: staff.id, email: staff.email, name: staff.name, role: staff.role, home_location_id: staff.homeLocationId, home_location_name: session.homeLocationName },
    merchant: { id: merchant.id, name: merchant.name, currency: merchant.currency },
    expires_at: session.expiresAt,
  };
}

function actorOf(request: FastifyRequest): string {
  return `api:${request.principal?.keyId ?? 'unknown'}`;
}

/** Who asks, for a change to someone's account: a manager changing her own is told apart from a key. */
function accountActorOf(request: FastifyRequest): StaffAccountActor {
  return { actor: actorOf(request), staffId: request.principal?.staffId, sessionToken: request.principal?.staffId === undefined ? undefined : readSessionToken(request) };
}

function noSession(): AppError {
  return new AppError('auth.unauthenticated', 'Not signed in, or the session has expired or was signed out', { cookie: sessionCookieName });
}

/** Staff users of the console, and their sessions: sign in, who am I, sign out (docs/console-api.md). */
export function registerStaffRoutes(app: AppInstance, dependencies: RouteDependencies): void {
  registerStaffUserRoutes(app, dependencies);
  registerSessionRoutes(app, dependencies);
}

function registerStaffUserRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;
  app.post('/v1/staff', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Add a person to the console: an associate (register work and reads) or a manager (everything); the password is kept only as a salted scrypt hash', tags: ['staff'],
      body: z.object({
        email: z.email().max(emailLengthMax),
        name: z.string().trim().min(1).max(200),
        role: z.enum(staffRoles),
        home_location_id: identifier.nullable().describe('The store she works at; null for none'),
        password: z.string().min(staffPasswordLengthMin).max(staffPasswordLengthMax),
      }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const merchant = merchantOf(request);
    const staff = await addStaffUser(db, merchant.id, { email: body.email, name: body.name, role: body.role, homeLocationId: body.home_location_id, password: body.password }, actorOf(request));
    const locations = await listLocations(db, merchant.id);
    return reply.code(201).send({ data: staffView(staff, locations.find((location) => location.id === staff.homeLocationId)?.name ?? null) });
  });

  app.get('/v1/staff', { config: { scope: 'admin' }, schema: { summary: 'The people who sign in to the console, by name (never their password hashes)', tags: ['staff'] } }, async (request) => {
    const merchant = merchantOf(request);
    const names = new Map((await listLocations(db, merchant.id)).map((location) => [location.id, location.name]));
    return { data: (await listStaffUsers(db, merchant.id)).map((staff) => staffView(staff, staff.homeLocationId ? names.get(staff.homeLocationId) ?? null : null)) };
  });

  const homeLocationNameOf = async (merchantId: string, staff: StaffUser) =>
    staff.homeLocationId === null ? null : (await listLocations(db, merchantId)).find((location) => location.id === staff.homeLocationId)?.name ?? null;

  app.post('/v1/staff/:id/disable', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Disable a person who left: her sessions end at once and she can no longer sign in. A manager cannot disable herself (409 staff.disable_self_conflict); disabling someone disabled already changes nothing',
      tags: ['staff'], params: z.object({ id: identifier }),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const staff = await disableStaffUser(db, merchant.id, request.params.id, accountActorOf(request));
    return { data: staffView(staff, await homeLocationNameOf(merchant.id, staff)) };
  });

  app.post('/v1/staff/:id/enable', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Let a disabled person sign in again (she came back); her old sessions stay ended. Enabling someone active changes nothing',
      tags: ['staff'], params: z.object({ id: identifier }),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const staff = await enableStaffUser(db, merchant.id, request.params.id, accountActorOf(request));
    return { data: staffView(staff, await homeLocationNameOf(merchant.id, staff)) };
  });

  app.patch('/v1/staff/:id', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Change a person\'s name, store (home_location_id, null for none) or role; her email stays. A new role holds for her open sessions from their next request; a manager cannot change her own role (409 staff.role_self_conflict). Audited with what was and what is',
      tags: ['staff'], params: z.object({ id: identifier }),
      body: z.object({
        name: z.string().trim().min(1).max(200).optional(),
        home_location_id: identifier.nullable().optional().describe('The store she works at; null for none'),
        role: z.enum(staffRoles).optional().describe('associate (the register\'s work) or manager (everything)'),
      }).strict().refine((body) => body.name !== undefined || body.home_location_id !== undefined || body.role !== undefined, { message: 'name, home_location_id or role is required' }),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const change = {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.home_location_id !== undefined ? { homeLocationId: body.home_location_id } : {}),
      ...(body.role !== undefined ? { role: body.role } : {}),
    };
    const staff = await updateStaffProfile(db, merchant.id, request.params.id, change, accountActorOf(request));
    return { data: staffView(staff, await homeLocationNameOf(merchant.id, staff)) };
  });

  app.post('/v1/staff/:id/password', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Set a new password for a person (10 to 200 characters, as at creation); her other sessions end',
      tags: ['staff'], params: z.object({ id: identifier }),
      body: z.object({ password: z.string().min(staffPasswordLengthMin).max(staffPasswordLengthMax) }),
    },
  }, async (request) => {
    const merchant = merchantOf(request);
    const staff = await setStaffPassword(db, merchant.id, request.params.id, request.body.password, accountActorOf(request));
    return { data: staffView(staff, await homeLocationNameOf(merchant.id, staff)) };
  });
}

function registerSessionRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;
  // Failed sign-ins per email and client address, shared by every engine on the database (staff/sign-in-limiter.ts).
  const limiter = createSignInLimiter(db);

  app.post('/v1/sessions', {
    schema: {
      summary: 'Sign in to the console with email and password: sets the HttpOnly session cookie continuum_session (12 hours). A wrong email or password is the same 401; 10 failures in 15 minutes per email and address are a 429',
      tags: ['staff'], security: [],
      body: z.object({
        email: z.string().trim().min(1).max(emailLengthMax),
        password: z.string().min(1).max(staffPasswordLengthMax),
        merchant_id: identifier.optional().describe('Needed only when the email signs in at several merchants'),
      }),
    },
  }, async (request, reply) => {
    const body = request.body;
    const limitKey = `${normaliseStaffEmail(body.email)}|${request.ip}`;
    const waitSeconds = await limiter.retryAfterSeconds(limitKey);
    if (waitSeconds > 0) {
      reply.header('retry-after', String(waitSeconds));
      throw new AppError('auth.too_many_attempts', `Too many failed sign-ins for this email from this address: try again in ${waitSeconds} s`, { field: 'email', retry_after_seconds: waitSeconds });
    }
    const result = await signInStaff(db, { email: body.email, password: body.password, merchantId: body.merchant_id ?? null });
    if (result.outcome === 'invalid_credentials') {
      await limiter.recordFailure(limitKey);
      request.log.info({ ip: request.ip }, 'staff sign-in refused');
      throw new AppError('auth.invalid_credentials', 'The email or password is wrong', { fields: ['email', 'password'] });
    }
    if (result.outcome === 'merchant_required') {
      throw new AppError('auth.merchant_required', 'This email signs in at several merchants: name one with merchant_id', { field: 'merchant_id', merchants: result.merchants });
    }
    await limiter.clear(limitKey);
    const { session } = result;
    await writeAudit(db, session.merchant.id, { actor: `api:staff:${session.staff.id}`, action: 'staff.sign_in', subject: session.staff.id, details: { ip: request.ip } });
    return reply.code(201).header('set-cookie', sessionCookie(request, result.token)).header('cache-control', 'no-store').send(sessionView(session));
  });

  app.get('/v1/sessions/current', {
    schema: { summary: 'Who is signed in: the person, her home store and the merchant; 401 without a live session', tags: ['staff'], security: [{ session: [] }] },
  }, async (request, reply) => {
    const session = await currentSession(request);
    return reply.header('cache-control', 'no-store').send(sessionView(session));
  });

  app.delete('/v1/sessions/current', {
    schema: { summary: 'Sign out: the session ends at once and its cookie is cleared (same-origin rule as every signed-in change)', tags: ['staff'], security: [{ session: [] }] },
  }, async (request, reply) => {
    const session = await currentSession(request);
    assertSameOrigin(request);
    await revokeStaffSession(db, readSessionToken(request)!);
    await writeAudit(db, session.merchant.id, { actor: `api:staff:${session.staff.id}`, action: 'staff.sign_out', subject: session.staff.id, details: {} });
    return reply.code(204).header('set-cookie', clearedSessionCookie(request)).send();
  });

  async function currentSession(request: FastifyRequest): Promise<StaffSession> {
    const token = readSessionToken(request);
    const session = token === undefined ? undefined : await authenticateStaffSession(db, token);
    if (!session) throw noSession();
    return session;
  }
}
