import type { FastifyRequest } from 'fastify';
import { AppError } from '../shared/app-error.ts';

/** The cookie the console's session travels in (docs/console-api.md). */
export const sessionCookieName = 'continuum_session';
/** The cookie lives as long as the session: 12 hours. */
export const sessionCookieMaxAgeSeconds = 12 * 60 * 60;
const cookieHeaderLengthMax = 8_192;
/** What the console sends instead of an Origin header when a browser sends none (docs/console-api.md). */
export const consoleRequestedWith = 'continuum-console';

/**
 * The session token of a request's `Cookie` header, or undefined. Parsed by hand (name=value pairs
 * separated by semicolons, RFC 6265): only this one cookie is read, and an oversized header is ignored.
 */
export function readSessionToken(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > cookieHeaderLengthMax) return undefined;
  for (const pair of header.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0 || pair.slice(0, separator).trim() !== sessionCookieName) continue;
    const value = pair.slice(separator + 1).trim();
    // Tokens are base64url: anything else is no token of ours.
    return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
  }
  return undefined;
}

function cookieAttributes(request: FastifyRequest, maxAgeSeconds: number): string {
  // Secure when the request came over HTTPS (behind a proxy, Fastify's trustProxy decides what that means).
  return `HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${request.protocol === 'https' ? '; Secure' : ''}`;
}

export function sessionCookie(request: FastifyRequest, token: string): string {
  return `${sessionCookieName}=${token}; ${cookieAttributes(request, sessionCookieMaxAgeSeconds)}`;
}

export function clearedSessionCookie(request: FastifyRequest): string {
  return `${sessionCookieName}=; ${cookieAttributes(request, 0)}`;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The CSRF defence of cookie-authenticated requests (docs/console-api.md). A browser attaches the
 * cookie to requests other sites make it send; SameSite=Strict already keeps it off cross-site
 * requests, and this check does not rely on it alone: a request that changes something must carry
 * an `Origin` whose host is this server's `Host`, or, when it carries no Origin at all, the header
 * `X-Requested-With: continuum-console`, which a cross-site form cannot set and a cross-site script
 * cannot set without a CORS preflight this server never grants. Reads (GET) change nothing.
 */
export function assertSameOrigin(request: FastifyRequest): void {
  if (safeMethods.has(request.method)) return;
  const origin = request.headers.origin;
  if (origin === undefined) {
    if (request.headers['x-requested-with'] === consoleRequestedWith) return;
    throw csrfRejected('A signed-in request that changes something needs this site\'s Origin header, or X-Requested-With: continuum-console', 'Origin');
  }
  if (!sameHost(origin, request.headers.host)) throw csrfRejected(`Origin ${origin.slice(0, 200)} is not this site`, 'Origin');
}

function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const from = new URL(origin);
    if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
    // Read the Host header with the Origin's scheme, so a default port written or not compares equal.
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

function csrfRejected(message: string, header: string): AppError {
  return new AppError('auth.csrf_rejected', message, { header, rule: 'same_origin' });
}
