import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyError } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { AppError } from '../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from './app-instance.ts';
import { createAuthHook } from './auth.ts';
import { errorBody, statusForCode } from './error-mapping.ts';
import { createIdempotencyHooks } from './idempotency.ts';
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

/** Builds the HTTP server: validation, auth, idempotency, errors, OpenAPI and every route. */
export async function buildServer(dependencies: RouteDependencies, logger: Logger): Promise<AppInstance> {
  const app: AppInstance = Fastify({ loggerInstance: logger as FastifyBaseLogger, bodyLimit: webhookBodyBytesMax }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    const status = statusFor(appError);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).send(errorBody(appError));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody(new AppError('http.route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`, { method: request.method }))));

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Continuum', version: '0.1.0', description: 'One customer, one loyalty ledger, one stock truth per location and one order history across Shopify, Square and store registers.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key of scope admin, pos or read' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const idempotency = createIdempotencyHooks(dependencies.database.db);
  app.addHook('onRequest', (request, _reply, done) => {
    (request as { startedAt?: bigint }).startedAt = process.hrtime.bigint();
    done();
  });
  // Authenticate on request, before the body is read or validated: no key learns nothing about the route.
  app.addHook('onRequest', createAuthHook(dependencies.database.db));
  app.addHook('preHandler', idempotency.claim);
  app.addHook('onSend', (request, reply, payload, done) => {
    idempotency.remember(request, reply, payload).then((result) => done(null, result), (error: Error) => done(error));
  });
  app.addHook('onResponse', (request, reply, done) => {
    const startedAt = (request as { startedAt?: bigint }).startedAt ?? process.hrtime.bigint();
    dependencies.metrics.httpRequests.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, Number(process.hrtime.bigint() - startedAt) / 1e9);
    done();
  });

  registerSystemRoutes(app, dependencies);
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
  await app.register(async (scope) => registerWebhookRoutes(scope, dependencies));
  return app;
}
