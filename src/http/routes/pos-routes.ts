import { applyOfflineUpload, offlineUploadSchema } from '../../connectors/pos/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

export function registerPosRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  app.post('/v1/pos/uploads', {
    config: { scope: 'pos' },
    schema: {
      summary: 'Upload what a register did while offline: sales, returns and reward redemptions, applied once each in the order they happened; conflicts are applied and raised for a person (docs/pos-offline.md)',
      tags: ['pos'],
      body: offlineUploadSchema,
    },
  }, async (request, reply) => {
    const outcome = await applyOfflineUpload(database.db, merchantOf(request), request.body);
    worker.wake();
    const count = (status: string) => outcome.results.filter((result) => result.status === status).length;
    return reply.code(200).send({
      data: {
        register_id: outcome.registerId,
        results: outcome.results,
        summary: { applied: count('applied'), replayed: count('replayed'), failed: count('failed'), with_conflicts: outcome.results.filter((result) => result.conflicts.length > 0).length },
      },
    });
  });
}
