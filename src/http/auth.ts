import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/index.ts';
import { createKeyAuthenticator, type ApiKeyPrincipal, type ApiKeyScope, type Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { authenticateStaffSession, scopeOfRole, type StaffSession } from '../staff/index.ts';
import { assertSameOrigin, readSessionToken } from './session-cookie.ts';

/**
 * Who makes a request: an API key, or a person signed in to the console. A person's `keyId` is
 * `staff:<id>`, so the actor every route writes to the audit log (`api:<keyId>`) names her.
 */
export interface RequestPrincipal extends ApiKeyPrincipal {
  staffId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: RequestPrincipal;
    merchant?: Merchant;
    /** Set when the request is authenticated by a console session. */
    staffSession?: StaffSession;
  }
  interface FastifyContextConfig {
    /** The scope a key needs for this route; routes without one are public (webhooks verify signatures). */
    scope?: ApiKeyScope;
  }
}

// What each scope may do: admin everything, pos the register's work and reads, read only reads.
const allowedScopes: Record<ApiKeyScope, ApiKeyScope[]> = {
  read: ['read', 'pos', 'admin'],
  pos: ['pos', 'admin'],
  admin: ['admin'],
};

/**
 * Authenticates `Authorization: Bearer KEY`, or where no key is sent the console's session cookie
 * (an associate has scope pos, a manager admin; a request that changes something must pass the
 * same-origin check), and checks the route's scope; sets the merchant (one query for both, or on
 * SQLite none while nothing was written since it was read: `createKeyAuthenticator`).
 */
export function createAuthHook(db: Db, changeStamp?: () => string) {
  const authenticateKey = createKeyAuthenticator(db, changeStamp);
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const required = request.routeOptions.config.scope;
    if (!required) return;
    const authorization = request.headers.authorization;
    if (authorization === undefined) {
      const token = readSessionToken(request);
      if (token !== undefined) return authenticateSession(db, request, token, required);
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match?.[1]) throw new AppError('auth.unauthenticated', 'Send an API key as Authorization: Bearer KEY, or sign in to the console', { header: 'Authorization' });
    const authenticated = await authenticateKey(match[1]);
    if (!authenticated) throw new AppError('auth.unauthenticated', 'The API key is unknown, revoked or expired', { header: 'Authorization' });
    const { principal, merchant } = authenticated;
    if (!allowedScopes[required].includes(principal.scope)) {
      throw new AppError('auth.forbidden', `This route needs a key with scope ${required}; this key has ${principal.scope}`, { required_scope: required, key_scope: principal.scope });
    }
    request.principal = principal;
    request.merchant = merchant;
  };
}

async function authenticateSession(db: Db, request: FastifyRequest, token: string, required: ApiKeyScope): Promise<void> {
  const session = await authenticateStaffSession(db, token);
  if (!session) throw new AppError('auth.unauthenticated', 'The session has expired or was signed out: sign in again', { cookie: 'continuum_session' });
  assertSameOrigin(request);
  const scope = scopeOfRole(session.staff.role);
  if (!allowedScopes[required].includes(scope)) {
    throw new AppError('auth.forbidden', `This route needs scope ${required}; a signed-in ${session.staff.role} has ${scope}`, { required_scope: required, key_scope: scope, role: session.staff.role });
  }
  request.principal = { merchantId: session.merchant.id, keyId: `staff:${session.staff.id}`, scope, staffId: session.staff.id };
  request.merchant = session.merchant;
  request.staffSession = session;
}

/** The authenticated merchant of a request; routes with a scope always have one. */
export function merchantOf(request: FastifyRequest): Merchant {
  if (!request.merchant) throw new AppError('auth.unauthenticated', 'No authenticated merchant');
  return request.merchant;
}
