import pino, { type Logger } from 'pino';
import { readConfig, type EngineConfig } from '../config.ts';
import { createEngine, type Engine, type EngineOptions } from '../engine.ts';

export function createLogger(config: EngineConfig): Logger {
  return pino({ level: config.logLevel });
}

/** Starts the engine on the configured port; stops cleanly on SIGINT and SIGTERM. */
export async function serveEngine(config: EngineConfig = readConfig(), extra: Partial<EngineOptions> = {}): Promise<Engine> {
  const logger = createLogger(config);
  const engine = await createEngine({ databaseUrl: config.databaseUrl, logger, startWorker: config.runWorker, workerPollIntervalMs: config.workerPollIntervalMs, publicUrl: config.publicUrl, reconcileIntervalMs: config.reconcileIntervalMs, syncRetentionDays: config.syncRetentionDays, webhookReplayWindows: config.webhookReplayWindows, ...extra });
  await engine.server.listen({ port: config.port, host: config.host });
  const stop = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    await engine.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return engine;
}
