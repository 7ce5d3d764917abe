import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { createStorageHealth, toStorageUnavailable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowMs } from '../shared/clock.ts';
import type { AppInstance, RouteDependencies } from './app-instance.ts';
import { createAuthHook } from './auth.ts';
import { errorBody, statusForCode } from './error-mapping.ts';
import { createIdempotencyHooks } from './idempotency.ts';
import { registerConsoleRoutes } from './routes/console-routes.ts';
import { registerCustomerRoutes } from './routes/customer-routes.ts';
import { registerIdentityRoutes } from './routes/identity-routes.ts';
import { registerMerchantWebhookRoutes } from './routes/merchant-webhook-routes.ts';
import { registerLoyaltyProgramRoutes } from './routes/loyalty-program-routes.ts';
import { registerFulfilmentRoutes } from './routes/fulfilment-routes.ts';
import { registerInventoryRoutes } from './routes/inventory-routes.ts';
import { registerOrderRoutes } from './routes/order-routes.ts';
import { registerPosRoutes } from './routes/pos-routes.ts';
import { registerReturnRoutes } from './routes/return-routes.ts';
import { registerSetupRoutes } from './routes/setup-routes.ts';
import { registerStaffRoutes } from './routes/staff-routes.ts';
import { registerReportRoutes } from './routes/report-routes.ts';
import { registerShopifyRoutes } from './routes/shopify-routes.ts';
import { registerPromotionRoutes } from './routes/promotion-routes.ts';
import { registerRewardRoutes } from './routes/reward-routes.ts';
import { registerSyncRoutes } from './routes/sync-routes.ts';
import { registerReferralRoutes } from './routes/referral-routes.ts';
import { registerSystemRoutes } from './routes/system-routes.ts';
import { registerWebhookRoutes, webhookBodyBytesMax } from './routes/webhook-routes.ts';

/** Turns any error into `{ error: { code, message, details } }` with a fitting status. */
function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation.map((issue) => ({ field: `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}`, rule: issue.keyword, message: issue.message }));
    const first = issues[0];
    return new AppError('request.invalid', first ? `${first.field}: ${first.message}` : 'The request is invalid', { issues });
  }
  if (!(error instanceof Error)) return new AppError('internal.error', 'Something went wrong on our side; it is logged', {});
  // A full disk, a failing disk, a database server that is down: 503, nothing written, send again.
  const storageUnavailable = toStorageUnavailable(error);
  if (storageUnavailable) return storageUnavailable;
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('request.too_large', `The body is larger than ${webhookBodyBytesMax} bytes`, { limit_bytes: webhookBodyBytesMax });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('request.unsupported_media_type', 'Send the body as application/json', { header: 'Content-Type' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('request.malformed_json', fastifyError.message);
  }
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new AppError('request.malformed_json', error.message);
  if (fastifyError.statusCode && fastifyError.statusCode < 500) return new AppError('request.invalid', fastifyError.message, { fastify_code: fastifyError.code });
  return new AppError('internal.error', 'Something went wrong on our side; it is logged', {});
}

function statusFor(error: AppError): number {
  return error.code === 'internal.error' ? 500 : statusForCode(error.code);
}

// Values a request's params, query and body are searched at most for a NUL character.
const nulSearchValuesMax = 100_000;

/**
 * The first field of the request holding a NUL character (`body.customer.phone`), if any.
 * PostgreSQL cannot store one in text (SQLSTATE 22021: a 500 before this check), SQLite stores it
 * and C-string tools cut at it; refused for every route on both dialects (found by
 * test/faults/hostile-input.test.ts, issue #9). Iterative and bounded: a body nested 50,000 deep
 * costs no stack.
 */
function findNulField(parts: Record<string, unknown>): string | undefined {
  const pending: [string, unknown][] = Object.entries(parts);
  for (let visited = 0; pending.length > 0 && visited < nulSearchValuesMax; visited += 1) {
    const [path, value] = pending.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
    } else if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
      for (const [key, inner] of Object.entries(value)) pending.push([`${path}.${key}`, inner]);
    }
  }
  return undefined;
}

// How long a caller refused for a storage outage is asked to wait before sending again.
const storageRetryAfterSeconds = 5;

/** The route's authentication in its OpenAPI operation: a bearer key of a scope, or none (public). */
function documentAuth(input: Parameters<typeof jsonSchemaTransform>[0]): ReturnType<typeof jsonSchemaTransform> {
  const transformed = jsonSchemaTransform(input);
  const scope = (input.route as { config?: { scope?: string } } | undefined)?.config?.scope;
  // `x-continuum-auth` names what test/faults/security.test.ts must prove for every route.
  // A route with a scope also takes a console session (docs/console-api.md); a public route may name its own (the session routes do).
  const declared = (transformed.schema as { security?: unknown }).security;
  const schema: Record<string, unknown> = { ...transformed.schema, security: scope ? [{ apiKey: [] }, { session: [] }] : declared ?? [], 'x-continuum-auth': scope ? `api_key:${scope}` : 'public' };
  return { ...transformed, schema };
}

/**
 * The access log: one line a request with the route's pattern (`/v1/customers/:id`, never the
 * path's ids or the query), the status and the time taken. A webhook stored is at debug level: it
 * is in the inbox with its headers and counted in /metrics, and a busy shop sends thousands a
 * second; a refused one is at info like every other request.
 */
function logRequest(request: FastifyRequest, route: string, status: number, seconds: number): void {
  const level = status < 300 && route.startsWith('/webhooks/') ? 'debug' : 'info';
  request.log[level]({ method: request.method, route, status, ms: Math.round(seconds * 10_000) / 10 }, 'request');
}

/** Builds the HTTP server: validation, auth, idempotency, errors, OpenAPI and every route. */
export async function buildServer(dependencies: RouteDependencies, logger: Logger): Promise<AppInstance> {
  const app: AppInstance = Fastify({
    loggerInstance: logger as FastifyBaseLogger, bodyLimit: webhookBodyBytesMax,
    // Fastify's own request logging writes two lines a request with the full URL: a register's
    // search `?q=jane@example.com` put shoppers' emails and phone numbers in the logs, which no
    // redaction reaches. One line per request is written below instead, naming the route's pattern.
    logController: new LogController({ disableRequestLogging: true }),
    // The router's own refusals (a URL that does not decode, a path parameter over 100 characters)
    // get the error shape too (found by test/faults/hostile-input.test.ts, issue #9).
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const appError = new AppError(tooLong ? 'request.param_too_long' : 'request.bad_url', tooLong ? 'A path parameter is longer than 100 characters' : 'The URL does not decode', { url: request.url.slice(0, 200) });
      void (reply as FastifyReply).code(statusForCode(appError.code)).send(errorBody(appError));
    },
  }).withTypeProvider<ZodTypeProvider>();
  // JSON only: Fastify's built-in text/plain parser would hand a route a string (or, for a route
  // without a body, run it with a body it never reads); refused with 415 instead.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const storageHealth = createStorageHealth(nowMs);
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    const status = statusFor(appError);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (appError.code === 'storage.unavailable') {
      // The health check's own refusal is not news: noting it would keep /healthz at 503 forever.
      if (request.routeOptions.url !== '/healthz') storageHealth.noteFailure(String(appError.details['reason'] ?? 'unknown'));
      reply.header('retry-after', String(storageRetryAfterSeconds));
    }
    return reply.code(status).send(errorBody(appError));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(new AppError('http.route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`, { method: request.method }))));

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Continuum', version: '0.1.0', description: 'One customer, one loyalty ledger, one stock truth per location and one order history across Shopify, Square and store registers.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key of scope admin, pos or read' },
          session: { type: 'apiKey', in: 'cookie', name: 'continuum_session', description: 'A console session (POST /v1/sessions): an associate has scope pos, a manager admin. A signed-in request that changes something needs a same-origin Origin header, or X-Requested-With: continuum-console (docs/console-api.md)' },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
    transform: documentAuth,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const idempotency = createIdempotencyHooks(dependencies.database.db);
  const authenticate = createAuthHook(dependencies.database.db, dependencies.database.changeStamp);
  // Every hook here runs for every request, webhooks included (10,000 a second is the target, issue
  // #9). A hook with nothing to do for a request calls `done` at once, where an async hook returning
  // early would still cost a promise and a turn of the microtask queue. A few µs at most: below what
  // a loop of injected requests could tell apart on the 2-core bench machine.
  app.addHook('onRequest', (request, reply, done) => {
    (request as { startedAt?: bigint }).startedAt = process.hrtime.bigint();
    // Authenticate on request, before the body is read or validated: no key learns nothing about
    // the route. A route without a scope is public (the webhooks verify their own signatures).
    if (!request.routeOptions.config.scope) return done();
    authenticate(request, reply).then(() => done(), done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const field = findNulField({ params: request.params, querystring: request.query, body: request.body });
    if (!field) return done();
    const message = `${field}: text must not contain the NUL character`;
    done(new AppError('request.invalid', message, { issues: [{ field, rule: 'no_nul_character', message }] }));
  });
  // Idempotency-Key is for API keys and console sessions: a request without a principal has nothing to claim or keep.
  app.addHook('preHandler', (request, reply, done) => {
    if (!request.principal) return done();
    idempotency.claim(request, reply).then(() => done(), done);
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!request.idempotencyClaim) return done(null, payload);
    idempotency.remember(request, reply, payload).then((result) => done(null, result), (error: Error) => done(error));
  });
  app.addHook('onResponse', (request, reply, done) => {
    // A write answered 2xx was committed: the storage takes writes again (for /healthz).
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 300) storageHealth.noteSuccess();
    const startedAt = (request as { startedAt?: bigint }).startedAt ?? process.hrtime.bigint();
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const route = request.routeOptions.url ?? 'unmatched';
    dependencies.metrics.httpRequests.observe({ method: request.method, route, status: String(reply.statusCode) }, seconds);
    logRequest(request, route, reply.statusCode, seconds);
    done();
  });

  registerSystemRoutes(app, { ...dependencies, storageHealth });
  registerCustomerRoutes(app, dependencies);
  registerIdentityRoutes(app, dependencies);
  registerLoyaltyProgramRoutes(app, dependencies);
  registerOrderRoutes(app, dependencies);
  registerPosRoutes(app, dependencies);
  registerReturnRoutes(app, dependencies);
  registerInventoryRoutes(app, dependencies);
  registerFulfilmentRoutes(app, dependencies);
  registerSetupRoutes(app, dependencies);
  registerPromotionRoutes(app, dependencies);
  registerRewardRoutes(app, dependencies);
  registerSyncRoutes(app, dependencies);
  registerShopifyRoutes(app, dependencies);
  registerMerchantWebhookRoutes(app, dependencies);
  registerReferralRoutes(app, dependencies);
  registerStaffRoutes(app, dependencies);
  registerReportRoutes(app, dependencies);
  registerConsoleRoutes(app);
  await app.register(async (scope) => registerWebhookRoutes(scope, dependencies));
  return app;
}
