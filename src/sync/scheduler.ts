import type { Logger } from 'pino';

/** A job the engine runs on a schedule; returns how much it did (for the logs). */
export interface ScheduledJob {
  name: string;
  intervalMs: number;
  run(): Promise<number>;
}

/**
 * Runs each job on its own interval, one run at a time per job, never overlapping itself; a failing
 * run is logged and tried again at the next interval. `runAll()` runs every job once, for tests.
 */
export function createScheduler(jobs: ScheduledJob[], logger: Logger) {
  const timers: NodeJS.Timeout[] = [];
  const running = new Map<string, Promise<void>>();

  function runJob(job: ScheduledJob): Promise<void> {
    const current = running.get(job.name);
    if (current) return current;
    const run = job.run()
      .then((count) => { if (count > 0) logger.info({ job: job.name, count }, 'scheduled job did work'); })
      .catch((error: unknown) => logger.error({ job: job.name, err: error }, 'scheduled job failed'))
      .finally(() => running.delete(job.name));
    running.set(job.name, run);
    return run;
  }

  return {
    start(): void {
      for (const job of jobs) timers.push(setInterval(() => void runJob(job), job.intervalMs));
    },
    async stop(): Promise<void> {
      timers.splice(0).forEach((timer) => clearInterval(timer));
      await Promise.all(running.values());
    },
    async runAll(): Promise<void> {
      for (const job of jobs) await runJob(job);
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
