import { sql } from 'kysely';
import { z } from 'zod';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';

export function registerSystemRoutes(app: AppInstance, { database, metrics }: RouteDependencies): void {
  app.get('/healthz', {
    schema: { summary: 'Liveness and database reachability', tags: ['system'], response: { 200: z.object({ status: z.literal('ok'), database: z.string() }) } },
  }, async () => {
    try {
      await sql`select 1`.execute(database.db);
    } catch (error) {
      throw new AppError('storage.unavailable', 'The database does not answer', { reason: String(error) });
    }
    return { status: 'ok' as const, database: database.dialect };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'] } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
