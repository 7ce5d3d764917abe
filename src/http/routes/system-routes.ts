import { sql } from 'kysely';
import { z } from 'zod';
import { classifyStorageError } from '../../db/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';

export function registerSystemRoutes(app: AppInstance, { database, metrics, storageHealth }: RouteDependencies): void {
  app.get('/healthz', {
    schema: { summary: 'Liveness and database reachability: 503 storage.unavailable while the database does not answer, or refused a write in the last 10 s (a full disk)', tags: ['system'], response: { 200: z.object({ status: z.literal('ok'), database: z.string() }) } },
  }, async () => {
    try {
      await sql`select 1`.execute(database.db);
    } catch (error) {
      throw new AppError('storage.unavailable', 'The database does not answer', { reason: classifyStorageError(error) ?? 'no_answer', database: database.dialect });
    }
    // A full SQLite disk still answers reads: a write refused lately says the storage is not well.
    const failure = storageHealth?.recentFailure();
    if (failure) throw new AppError('storage.unavailable', 'The database refused a write in the last seconds', { reason: failure.reason, since: new Date(failure.atMs).toISOString(), database: database.dialect });
    return { status: 'ok' as const, database: database.dialect };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['system'] } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
