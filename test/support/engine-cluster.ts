import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { DialectName } from '../../src/db/index.ts';
import { seedDemoMerchant, type DemoMerchant } from '../../src/demo/demo-merchant.ts';
import { openTestDatabase, type TestDatabase } from './databases.ts';
import { testAdminKey, testPosKey, testShopDomain, testShopifySecret, testSquareMerchantRef, testSquareNotificationUrl, testSquareSignatureKey } from './engine-harness.ts';
import { engineDatabaseUrl, findFreePort, spawnEngine, stopEngines, waitUntilHealthy, type EngineProcess } from './engine-processes.ts';

// The setup the multi-process tests share (race-, inbox- and outbox-multiprocess): a fresh database
// with the demo merchant, and real `continuum serve` processes on it. After the test the engines
// stop before anything they talk to closes, and the database is dropped last.

const healthTimeoutMs = 5_000;
const outputShownPerEngineChars = 2_000;

export interface EngineCluster {
  database: TestDatabase;
  demo: DemoMerchant;
  /** The engines started so far, in the order started. */
  engines: EngineProcess[];
  /**
   * Starts `count` engine processes on the database (each its own port, `env` added to its
   * environment), waits until every one answers /healthz and checks it uses the test's dialect.
   */
  startEngines(count: number, env?: Record<string, string>): Promise<EngineProcess[]>;
}

/**
 * Opens the database and seeds the demo merchant (connected to no real Shopify or Square API).
 * `afterEnginesStop` runs after the engines stopped and before the database is dropped: for what
 * the engines call out to (a loopback subscriber), so they never see it gone while they run.
 */
export async function openEngineCluster(dialect: DialectName, t: TestContext, options: { afterEnginesStop?: () => Promise<void> } = {}): Promise<EngineCluster> {
  const database = await openTestDatabase(dialect);
  const engines: EngineProcess[] = [];
  // One hook, so the order holds: engines stopped, then what they called, then the database dropped.
  t.after(async () => {
    await stopEngines(engines);
    await options.afterEnginesStop?.();
    await database.dispose();
  });
  const demo = await seedDemoMerchant(database.handle.db, {
    shopDomain: testShopDomain, shopifySecret: testShopifySecret, shopifyAdminApiUrl: null, shopifyAccessToken: null,
    squareMerchantRef: testSquareMerchantRef, squareSignatureKey: testSquareSignatureKey, squareNotificationUrl: testSquareNotificationUrl,
    adminApiKey: testAdminKey, posApiKey: testPosKey,
  });
  const startEngines = async (count: number, env: Record<string, string> = {}): Promise<EngineProcess[]> => {
    const started: EngineProcess[] = [];
    // Pushed into `engines` as each spawns, so the cleanup stops even those that never became healthy.
    for (let index = 0; index < count; index += 1) {
      const engine = spawnEngine(engines.length, engineDatabaseUrl(database), await findFreePort(), env);
      engines.push(engine);
      started.push(engine);
    }
    await waitUntilHealthy(started);
    for (const engine of started) {
      const health = await fetch(`${engine.baseUrl}/healthz`, { signal: AbortSignal.timeout(healthTimeoutMs) });
      assert.equal(((await health.json()) as { database?: string }).database, dialect, `engine ${engine.index} uses the test's ${dialect} database`);
    }
    return started;
  };
  return { database, demo, engines, startEngines };
}

/**
 * Polls `countLeft` until it is 0; past `waitMsMax` fails with `describe(count)` and the end of every
 * engine's output (what each was doing when the work stalled).
 */
export async function waitUntilNoneLeft(engines: EngineProcess[], countLeft: () => Promise<number>, describe: (count: number) => string, timing: { waitMsMax: number; pollMs: number }): Promise<void> {
  const deadline = Date.now() + timing.waitMsMax;
  for (;;) {
    const count = await countLeft();
    if (count === 0) return;
    if (Date.now() > deadline) assert.fail(`${describe(count)} after ${timing.waitMsMax} ms; engine output:\n${engines.map((engine) => engine.output().slice(-outputShownPerEngineChars)).join('\n---\n')}`);
    await new Promise((resolve) => setTimeout(resolve, timing.pollMs));
  }
}
