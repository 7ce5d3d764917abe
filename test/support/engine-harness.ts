import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { startFakeShopify, type FakeShopify } from '../../fakes/fake-shopify.ts';
import { startFakeSquare, type FakeSquare } from '../../fakes/fake-square.ts';
import { signShopifyBody } from '../../src/connectors/shopify/index.ts';
import { signSquareBody } from '../../src/connectors/square/index.ts';
import type { WebhookReplayWindows } from '../../src/config.ts';
import type { DialectName } from '../../src/db/index.ts';
import { seedDemoMerchant, type DemoMerchant } from '../../src/demo/demo-merchant.ts';
import { createEngine, type Engine } from '../../src/engine.ts';
import { openTestDatabase } from './databases.ts';

export const fixturesDir = join(import.meta.dirname, '..', 'fixtures');
export const testShopDomain = 'jsmith.myshopify.com';
export const testShopifySecret = 'merchant-own-shopify-secret';
export const testAdminKey = 'ck_admin_test_key_for_the_journey';
export const testPosKey = 'ck_pos_test_key_for_the_journey';
// The Square seller, key and URL the Square fixtures were signed with (test/fixtures/headers.json).
export const testSquareMerchantRef = '6SSW7HV8K2ST5';
export const testSquareSignatureKey = 'TEST_ONLY_square_signature_key';
export const testSquareNotificationUrl = 'https://example.com/webhooks/square';

/** A fixture's exact bytes, trailing newline included, as the channel sent them. */
export function readFixture(path: string): Buffer {
  return readFileSync(join(fixturesDir, path));
}

export function fixtureHeaders(path: string): Record<string, string> {
  const all = JSON.parse(readFileSync(join(fixturesDir, 'headers.json'), 'utf8')) as Record<string, Record<string, string>>;
  const headers = all[path];
  if (!headers) throw new Error(`no headers for fixture ${path}`);
  return headers;
}

export interface TestEngine {
  engine: Engine;
  fake: FakeShopify;
  /** The fake Square API the demo merchant's Square account reads register sales from. */
  fakeSquare: FakeSquare;
  demo: DemoMerchant;
  /** Where the engine's database is, for a second opener (a CLI process under test). */
  databaseLocation: { url: string; postgresSchema?: string };
  /** Sends a request through the server without opening a port. */
  request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, options?: { body?: unknown; key?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  /** Posts a Shopify fixture re-signed with the test merchant's own secret, headers as Shopify sent them. */
  deliverShopifyFixture(path: string, overrides?: Record<string, string>, body?: Buffer): Promise<{ status: number; body: any }>;
  /** Posts a Square notification signed with the demo's key over the notification URL and the exact bytes. */
  deliverSquareEvent(body: Buffer | object, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  dispose(): Promise<void>;
}

/**
 * The recorded fixtures keep the delivery times they were recorded with (2020 to 2025), and tests
 * send old times on purpose (stale updates, retries), so the harness's engine checks no replay
 * window unless a test asks for one; test/faults/security.test.ts proves the engine's defaults.
 */
const noReplayWindows: WebhookReplayWindows = { shopify: null, square: null };

/** An engine on a fresh database of the dialect, with the demo merchant connected to a fake Shopify. */
export async function startTestEngine(dialect: DialectName, options: { webhookReplayWindows?: WebhookReplayWindows; logger?: pino.Logger } = {}): Promise<TestEngine> {
  const database = await openTestDatabase(dialect);
  const fake = await startFakeShopify();
  const fakeSquare = await startFakeSquare();
  const engine = await createEngine({ databaseUrl: database.url, ...(database.postgresSchema ? { postgresSchema: database.postgresSchema } : {}), logger: options.logger ?? pino({ level: 'silent' }), startWorker: false, webhookReplayWindows: options.webhookReplayWindows ?? noReplayWindows });
  const demo = await seedDemoMerchant(engine.database.db, {
    shopDomain: testShopDomain, shopifySecret: testShopifySecret, shopifyAdminApiUrl: fake.url, shopifyAccessToken: fake.token,
    squareMerchantRef: testSquareMerchantRef, squareSignatureKey: testSquareSignatureKey, squareNotificationUrl: testSquareNotificationUrl,
    squareApiUrl: fakeSquare.url, squareAccessToken: fakeSquare.token,
    adminApiKey: testAdminKey, posApiKey: testPosKey,
  });

  const request: TestEngine['request'] = async (method, url, options = {}) => {
    const response = await engine.server.inject({
      method, url,
      headers: { ...(options.key === '' ? {} : { authorization: `Bearer ${options.key ?? testAdminKey}` }), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}),
    });
    const text = response.body;
    return { status: response.statusCode, body: text && response.headers['content-type']?.toString().includes('json') ? JSON.parse(text) : text, headers: response.headers };
  };

  const deliverShopifyFixture: TestEngine['deliverShopifyFixture'] = async (path, overrides = {}, body = readFixture(path)) => {
    const headers = { ...fixtureHeaders(path), 'X-Shopify-Shop-Domain': testShopDomain, 'X-Shopify-Hmac-Sha256': signShopifyBody(testShopifySecret, body), ...overrides };
    const response = await engine.server.inject({ method: 'POST', url: '/webhooks/shopify', headers, payload: body });
    return { status: response.statusCode, body: JSON.parse(response.body) };
  };

  const deliverSquareEvent: TestEngine['deliverSquareEvent'] = async (body, headers = {}) => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const signed = { 'content-type': 'application/json', 'x-square-hmacsha256-signature': signSquareBody(testSquareSignatureKey, testSquareNotificationUrl, bytes), ...headers };
    const response = await engine.server.inject({ method: 'POST', url: '/webhooks/square', headers: signed, payload: bytes });
    return { status: response.statusCode, body: JSON.parse(response.body) };
  };

  return {
    engine, fake, fakeSquare, demo, request, deliverShopifyFixture, deliverSquareEvent,
    databaseLocation: { url: database.url, ...(database.postgresSchema ? { postgresSchema: database.postgresSchema } : {}) },
    async dispose() {
      await engine.close();
      await fake.close();
      await fakeSquare.close();
      await database.dispose();
    },
  };
}
