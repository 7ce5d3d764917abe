import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/index.ts';
import { authenticateApiKeyWithMerchant, type ApiKeyPrincipal, type ApiKeyScope, type Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: ApiKeyPrincipal;
    merchant?: Merchant;
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

/** Authenticates `Authorization: Bearer KEY` and checks the route's scope; sets the merchant (one query for both). */
export function createAuthHook(db: Db) {
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const required = request.routeOptions.config.scope;
    if (!required) return;
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1]) throw new AppError('auth.unauthenticated', 'Send an API key as Authorization: Bearer KEY', { header: 'Authorization' });
    const authenticated = await authenticateApiKeyWithMerchant(db, match[1]);
    if (!authenticated) throw new AppError('auth.unauthenticated', 'The API key is unknown, revoked or expired', { header: 'Authorization' });
    const { principal, merchant } = authenticated;
    if (!allowedScopes[required].includes(principal.scope)) {
      throw new AppError('auth.forbidden', `This route needs a key with scope ${required}; this key has ${principal.scope}`, { required_scope: required, key_scope: principal.scope });
    }
    request.principal = principal;
    request.merchant = merchant;
  };
}

/** The authenticated merchant of a request; routes with a scope always have one. */
export function merchantOf(request: FastifyRequest): Merchant {
  if (!request.merchant) throw new AppError('auth.unauthenticated', 'No authenticated merchant');
  return request.merchant;
}
