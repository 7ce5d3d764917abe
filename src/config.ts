/**
 * Every option of the engine, read from the environment, with its default. This is the one place
 * defaults live; docs/configuration.md lists the same table for people.
 */
export interface EngineConfig {
  /** `sqlite:PATH` (embedded, the default) or `postgres://...`. */
  databaseUrl: string;
  port: number;
  /** Loopback by default; set HOST=0.0.0.0 to serve other machines. */
  host: string;
  logLevel: string;
  /** Run the inbox/outbox worker in this process (on by default). */
  runWorker: boolean;
  workerPollIntervalMs: number;
}

function readInteger(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (got "${raw}")`);
  return value;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  return {
    databaseUrl: env['DATABASE_URL'] || 'sqlite:./data/continuum.db',
    port: readInteger('PORT', 3000, env),
    host: env['HOST'] || '127.0.0.1',
    logLevel: env['LOG_LEVEL'] || 'info',
    runWorker: (env['WORKER'] ?? 'on') !== 'off',
    workerPollIntervalMs: readInteger('WORKER_POLL_INTERVAL_MS', 250, env),
  };
}
