import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { issueApiKey } from '../../src/merchants/index.ts';
import { signShopifyBody } from '../../src/connectors/shopify/index.ts';
import { signSquareBody } from '../../src/connectors/square/index.ts';
import type { DialectName } from '../../src/db/index.ts';
import { DIALECTS } from '../support/databases.ts';
import { startTestEngine, testAdminKey, testPosKey, testShopDomain, testShopifySecret, testSquareMerchantRef, testSquareNotificationUrl, testSquareSignatureKey, type TestEngine } from '../support/engine-harness.ts';
import { countEveryTable, describeCountChanges, listTables } from './fault-support.ts';
import { describePath, exampleOf, fillPath, listFields, readOperations, replaceAt, wrongTypeValue, type ExampleHints, type RouteOperation } from './openapi-routes.ts';

// Issue #9: hostile input at every route of the API and at both webhooks, the routes read from
// GET /openapi.json so that a route added later is attacked too, each with the key its scope needs.
// Malformed JSON, truncated bodies, bodies over the 1 MiB limit, JSON nested 50,000 deep, prototype
// poisoning, the wrong content type, a JSON value of the wrong type for every field of the body,
// unicode edge cases and fast-check's arbitrary JSON in bodies, path and query. Proven: every
// answer is below 500 and the process keeps answering; every refusal is a 4xx with exactly
// `{ error: { code, message, details } }`; a refused request wrote nothing (the row count of every
// table, read from the database catalog, is unchanged); bad input that is certainly bad (the cases
// that are not fast-check's) is refused, never accepted. FAULT_FUZZ_RUNS sets fast-check's runs per
// route (default 6).

const fuzzRuns = Number(process.env['FAULT_FUZZ_RUNS'] ?? 6);
const seed = Number(process.env['FAULT_SEED'] ?? 20_261_126);
const bodyBytesMax = 1024 * 1024;
const nestingDepth = 50_000;
const testTimeoutMs = 240_000;

/** Strings that have broken parsers, databases and log pipelines before. */
const unicodeEdgeCases = [
  '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '\u202e\u0644\u0627', 'e\u0301\u0301\u0301', '\ufeffBOM', '\u2028\u2029', '🧪'.repeat(60), '\u{10ffff}',
  'Ｆｕｌｌｗｉｄｔｈ', 'zero\u200bwidth', '%00', "'; drop table orders; --", '<script>alert(1)</script>', '${7*7}', '../../etc/passwd', ' '.repeat(300), 'x'.repeat(20_000),
];

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

interface Verdict {
  /** Bad for certain: must be refused with a 4xx (a 2xx is a finding). */
  mustRefuse: boolean;
  /** The exact status expected, when the case has one. */
  status?: number;
}

interface Finding {
  route: string;
  what: string;
  problem: string;
}

interface Fuzzer {
  harness: TestEngine;
  tables: string[];
  findings: Finding[];
  requests: number;
  keyFor(operation: RouteOperation): string;
}

function isErrorShape(body: unknown): boolean {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  return !!error && Object.keys(body as object).length === 1 && typeof error['code'] === 'string' && typeof error['message'] === 'string' && (error['message'] as string).length > 0
    && typeof error['details'] === 'object' && error['details'] !== null && Object.keys(error).sort().join() === 'code,details,message';
}

/** Sends one hostile request and checks the answer and that a refusal wrote nothing; records what is wrong. */
async function attack(fuzzer: Fuzzer, route: string, what: string, sent: Sent, verdict: Verdict): Promise<void> {
  const db = fuzzer.harness.engine.database.db;
  const before = await countEveryTable(db, fuzzer.tables);
  fuzzer.requests += 1;
  let response;
  try {
    response = await fuzzer.harness.engine.server.inject({ method: sent.method as 'GET', url: sent.url, headers: sent.headers, ...(sent.payload !== undefined ? { payload: sent.payload } : {}) });
  } catch (error) {
    fuzzer.findings.push({ route, what, problem: `the request threw: ${(error as Error).message}` });
    return;
  }
  const problem = (text: string): void => void fuzzer.findings.push({ route, what, problem: `${text} (answered ${response.statusCode} ${response.body.slice(0, 300)})` });
  if (response.statusCode >= 500) return problem('a 5xx');
  if (verdict.status !== undefined && response.statusCode !== verdict.status) problem(`expected ${verdict.status}`);
  if (response.statusCode < 400) {
    if (verdict.mustRefuse) problem('accepted input that is certainly bad');
    return;
  }
  let body: unknown;
  try { body = JSON.parse(response.body); } catch { return problem('a refusal that is not JSON'); }
  if (!isErrorShape(body)) problem('a refusal without exactly { error: { code, message, details } }');
  // A refused sign-in is counted on purpose: that count is the sign-in limit (src/staff/sign-in-limiter.ts).
  const counted = route === 'POST /v1/sessions' && response.statusCode === 401 ? 'sign_in_failures:' : null;
  const changes = describeCountChanges(before, await countEveryTable(db, fuzzer.tables)).filter((change) => !counted || !change.startsWith(counted));
  if (changes.length > 0) problem(`a refusal wrote: ${changes.join(', ')}`);
}

function hintsFor(harness: TestEngine, data: { customerId: string; orderId: string; lineId: string }): ExampleHints {
  return {
    location_id: harness.demo.store.id, from_location_id: harness.demo.warehouse.id, to_location_id: harness.demo.store.id, sku: 'SKU-WALLET-01',
    customer_id: data.customerId, order_id: data.orderId, order_line_id: data.lineId, email: 'hostile@example.com',
  };
}

function baseUrl(operation: RouteOperation, hints: ExampleHints): string {
  const path = fillPath(operation.path, () => 'hostile-id');
  const query = operation.parameters.filter((parameter) => parameter.in === 'query' && parameter.required)
    .map((parameter) => `${parameter.name}=${encodeURIComponent(String(exampleOf(parameter.schema, hints, parameter.name)))}`);
  return query.length > 0 ? `${path}?${query.join('&')}` : path;
}

const hasBody = (operation: RouteOperation) => operation.method !== 'GET' && operation.method !== 'HEAD';

/** The body cases of one route: broken JSON, limits, nesting, poisoning, content types, wrong top-level values. */
async function attackBody(fuzzer: Fuzzer, operation: RouteOperation, hints: ExampleHints): Promise<void> {
  const url = baseUrl(operation, hints);
  const key = fuzzer.keyFor(operation);
  const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  const json = { ...auth, 'content-type': 'application/json' };
  const example = operation.bodySchema ? exampleOf(operation.bodySchema, hints) : {};
  const text = JSON.stringify(example);
  const send = (what: string, headers: Record<string, string>, payload: string | Buffer, verdict: Verdict) => attack(fuzzer, operation.name, what, { method: operation.method, url, headers, payload }, verdict);
  await send('malformed JSON', json, '{"sale_id": "S-1", "lines": [', { mustRefuse: true, status: 400 });
  await send('JSON with a trailing comma and a comment', json, '{"a": 1, /* hi */ }', { mustRefuse: true, status: 400 });
  if (text.length > 2) await send('a body cut in half', json, text.slice(0, Math.floor(text.length / 2)), { mustRefuse: true, status: 400 });
  await send(`a body over ${bodyBytesMax} bytes`, json, JSON.stringify({ ...(example as object), padding: 'x'.repeat(bodyBytesMax + 1) }), { mustRefuse: true, status: 413 });
  await send(`arrays nested ${nestingDepth} deep`, json, '['.repeat(nestingDepth) + ']'.repeat(nestingDepth), { mustRefuse: Boolean(operation.bodySchema) });
  await send(`objects nested ${nestingDepth} deep around a constructor key`, json, '{"a":'.repeat(nestingDepth) + '{"constructor":{"prototype":{"admin":true}}}' + '}'.repeat(nestingDepth), { mustRefuse: true });
  await send('prototype poisoning', json, `{"__proto__": {"scope": "admin"}, ${text.slice(1)}`.replace(/, }$/, '}'), { mustRefuse: true, status: 400 });
  for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
    await send(`content type ${contentType}`, { ...auth, 'content-type': contentType }, text, { mustRefuse: true, status: 415 });
  }
  await send('an empty JSON body', json, '', { mustRefuse: true, status: 400 });
  if (!operation.bodySchema) return;
  for (const top of ['null', '[]', '"a string"', '42', 'true']) await send(`a JSON ${top} instead of an object`, json, top, { mustRefuse: true });
}

/** Every field of the body, one at a time, with a value of a type it does not take. */
async function attackFieldTypes(fuzzer: Fuzzer, operation: RouteOperation, hints: ExampleHints): Promise<void> {
  if (!operation.bodySchema) return;
  const url = baseUrl(operation, hints);
  const key = fuzzer.keyFor(operation);
  const headers = { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' };
  const example = exampleOf(operation.bodySchema, hints);
  for (const field of listFields(operation.bodySchema, example)) {
    const wrong = wrongTypeValue(field.schema);
    if (wrong === undefined) continue;
    await attack(fuzzer, operation.name, `${describePath(field.path)} = ${JSON.stringify(wrong)}`, { method: operation.method, url, headers, payload: JSON.stringify(replaceAt(example, field.path, wrong)) }, { mustRefuse: true, status: 400 });
  }
}

/** Unicode edge cases in the body's string fields, and fast-check's arbitrary JSON as the body: never a 5xx. */
async function attackWithGeneratedValues(fuzzer: Fuzzer, operation: RouteOperation, hints: ExampleHints, routeSeed: number): Promise<void> {
  const url = baseUrl(operation, hints);
  const key = fuzzer.keyFor(operation);
  const headers = { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' };
  if (operation.bodySchema) {
    const example = exampleOf(operation.bodySchema, hints);
    const strings = listFields(operation.bodySchema, example).filter((field) => field.schema.type === 'string' && !field.schema.enum);
    const picks = fc.sample(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...unicodeEdgeCases), fc.string({ unit: 'binary', maxLength: 40 }))), { numRuns: fuzzRuns, seed: routeSeed });
    for (const [index, value] of strings.length > 0 ? picks : []) {
      const field = strings[index % strings.length]!;
      await attack(fuzzer, operation.name, `${describePath(field.path)} = ${JSON.stringify(value).slice(0, 60)}`, { method: operation.method, url, headers, payload: JSON.stringify(replaceAt(example, field.path, value)) }, { mustRefuse: false });
    }
  }
  if (hasBody(operation)) {
    for (const value of fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: fuzzRuns, seed: routeSeed + 1 })) {
      await attack(fuzzer, operation.name, `arbitrary JSON ${JSON.stringify(value).slice(0, 60)}`, { method: operation.method, url, headers, payload: JSON.stringify(value) }, { mustRefuse: false });
    }
  }
}

/** Hostile path parameters and query values: never a 5xx, and a refusal has the error shape. */
async function attackPathAndQuery(fuzzer: Fuzzer, operation: RouteOperation, hints: ExampleHints, routeSeed: number): Promise<void> {
  const key = fuzzer.keyFor(operation);
  const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(operation.bodySchema ? { 'content-type': 'application/json' } : {}) };
  const payload = operation.bodySchema ? JSON.stringify(exampleOf(operation.bodySchema, hints)) : undefined;
  const send = (what: string, url: string) => attack(fuzzer, operation.name, what, { method: operation.method, url, headers, ...(payload !== undefined ? { payload } : {}) }, { mustRefuse: false });
  const encode = (value: string) => encodeURIComponent(value.replace(/[\ud800-\udfff]/g, '\ufffd'));
  const raw = ['%ED%A0%80', '%', '%zz', '..%2F..%2F', '%00'];
  if (operation.path.includes('{')) {
    for (const value of [...unicodeEdgeCases.map(encode), ...raw]) await send(`path = ${value.slice(0, 40)}`, operation.path.replace(/\{(\w+)\}/g, value));
  }
  const base = baseUrl(operation, hints);
  const separator = base.includes('?') ? '&' : '?';
  const queryValues = fc.sample(fc.oneof(fc.constantFrom(...unicodeEdgeCases), fc.string({ unit: 'binary', maxLength: 30 })), { numRuns: fuzzRuns, seed: routeSeed + 2 });
  for (const parameter of operation.parameters.filter((candidate) => candidate.in === 'query')) {
    const wrong = wrongTypeValue(parameter.schema);
    for (const value of [...queryValues.map(encode), ...raw, ...(wrong !== undefined ? [encode(JSON.stringify(wrong))] : [])]) {
      await send(`query ${parameter.name} = ${value.slice(0, 40)}`, `${base}${separator}${parameter.name}=${value}&${parameter.name}=again`);
    }
  }
}

async function prepare(dialect: DialectName, t: TestContext): Promise<{ fuzzer: Fuzzer; operations: RouteOperation[]; hints: ExampleHints }> {
  const harness = await startTestEngine(dialect);
  t.after(() => harness.dispose());
  const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'HOSTILE-1', location_id: harness.demo.store.id, customer: { email: 'jane.doe@example.com', first_name: 'Jane' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  const { key: readKey } = await issueApiKey(harness.engine.database.db, harness.demo.merchant.id, { name: 'hostile read', scope: 'read' });
  const keys: Record<string, string> = { 'api_key:read': readKey, 'api_key:pos': testPosKey, 'api_key:admin': testAdminKey, public: '' };
  const fuzzer: Fuzzer = {
    harness, tables: await listTables(harness.engine.database.db, dialect), findings: [], requests: 0,
    keyFor: (operation) => {
      const key = keys[operation.auth];
      if (key === undefined) throw new Error(`${operation.name} states auth ${operation.auth}, which this test does not know: teach it`);
      return key;
    },
  };
  const operations = (await readOperations(harness)).filter((operation) => !operation.path.startsWith('/webhooks/'));
  const hints = hintsFor(harness, { customerId: sale.body.data.order.customer_id, orderId: sale.body.data.order.id, lineId: sale.body.data.order.lines[0].id });
  return { fuzzer, operations, hints };
}

function report(t: TestContext, fuzzer: Fuzzer, routes: number): void {
  t.diagnostic(`${fuzzer.requests} hostile requests at ${routes} routes; ${fuzzer.findings.length} findings`);
  const shown = fuzzer.findings.slice(0, 40).map((finding) => `${finding.route} — ${finding.what}: ${finding.problem}`);
  assert.deepEqual(shown, [], `${fuzzer.findings.length} findings`);
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] hostile bodies at every API route (from /openapi.json): broken, cut, over the limit, nested, poisoned, of the wrong type per field or content type; each refused with a 4xx and the error shape, nothing written`, { timeout: testTimeoutMs }, async (t) => {
    const { fuzzer, operations, hints } = await prepare(dialect, t);
    for (const operation of operations.filter(hasBody)) {
      await attackBody(fuzzer, operation, hints);
      await attackFieldTypes(fuzzer, operation, hints);
    }
    assert.equal((await fuzzer.harness.request('GET', '/healthz', { key: '' })).status, 200, 'the engine still answers');
    report(t, fuzzer, operations.filter(hasBody).length);
  });

  test(`[${dialect}] unicode edge cases and fast-check's arbitrary values in every API route's body, path and query: never a 5xx, every refusal has the error shape and writes nothing`, { timeout: testTimeoutMs }, async (t) => {
    const { fuzzer, operations, hints } = await prepare(dialect, t);
    for (const [index, operation] of operations.entries()) {
      await attackWithGeneratedValues(fuzzer, operation, hints, seed + index * 7);
      await attackPathAndQuery(fuzzer, operation, hints, seed + index * 7);
    }
    assert.equal((await fuzzer.harness.request('GET', '/healthz', { key: '' })).status, 200, 'the engine still answers');
    report(t, fuzzer, operations.length);
  });

  test(`[${dialect}] hostile webhooks: unsigned, badly signed, broken, cut, oversized or arbitrary bodies are refused with a 4xx and the error shape and store nothing; signed JSON that means nothing is kept and the worker survives it`, { timeout: testTimeoutMs }, async (t) => {
    const { fuzzer } = await prepare(dialect, t);
    const shopify = (body: Buffer | string, overrides: Record<string, string> = {}) => ({
      'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': testShopDomain, 'x-shopify-api-version': '2026-04',
      'x-shopify-webhook-id': `hostile-${fuzzer.requests}`, 'x-shopify-triggered-at': new Date().toISOString(), 'x-shopify-hmac-sha256': signShopifyBody(testShopifySecret, body), ...overrides,
    });
    const square = (body: Buffer | string, overrides: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-square-hmacsha256-signature': signSquareBody(testSquareSignatureKey, testSquareNotificationUrl, body), ...overrides });
    const send = (route: string, what: string, payload: string, headers: Record<string, string>, verdict: Verdict) => attack(fuzzer, `POST ${route}`, what, { method: 'POST', url: route, headers, payload }, verdict);
    const squareEnvelope = { merchant_id: testSquareMerchantRef, type: 'payment.updated', event_id: 'hostile-square', created_at: new Date().toISOString(), data: { type: 'payment', id: 'x', object: {} } };
    const broken = ['{"id": 1, "line_items": [', '', '{"a":'.repeat(nestingDepth), `{"note": "${'x'.repeat(bodyBytesMax)}"}`, 'not json at all', '\u0000\u0001\u0002'];
    for (const body of broken) {
      const what = `${JSON.stringify(body.slice(0, 30))} (${body.length} bytes)`;
      const tooLarge = Buffer.byteLength(body) > bodyBytesMax;
      await send('/webhooks/shopify', `signed ${what}`, body, shopify(body), { mustRefuse: true, ...(tooLarge ? { status: 413 } : {}) });
      await send('/webhooks/shopify', `unsigned ${what}`, body, shopify(body, { 'x-shopify-hmac-sha256': 'bm90IHRoZSBzaWduYXR1cmU=' }), { mustRefuse: true, status: tooLarge ? 413 : 401 });
      await send('/webhooks/square', `signed ${what}`, body, square(body), { mustRefuse: true, ...(tooLarge ? { status: 413 } : {}) });
      // Square names the seller inside the body, so its JSON is read before the signature: broken JSON is a 400 either way.
      await send('/webhooks/square', `unsigned ${what}`, body, square(body, { 'x-square-hmacsha256-signature': 'bm90IHRoZSBzaWduYXR1cmU=' }), { mustRefuse: true, status: tooLarge ? 413 : 400 });
    }
    for (const field of ['merchant_id', 'event_id', 'type'] as const) {
      for (const wrong of [null, 42, ['x'], { x: 1 }]) {
        const body = JSON.stringify({ ...squareEnvelope, [field]: wrong });
        await send('/webhooks/square', `signed, ${field} = ${JSON.stringify(wrong)}`, body, square(body), { mustRefuse: true, status: 422 });
      }
    }
    for (const [index, value] of fc.sample(fc.jsonValue({ maxDepth: 4 }), { numRuns: fuzzRuns * 4, seed }).entries()) {
      const body = JSON.stringify(value);
      await send('/webhooks/shopify', `signed arbitrary JSON ${body.slice(0, 40)}`, body, shopify(body, { 'x-shopify-webhook-id': `hostile-arbitrary-${index}`, 'x-shopify-topic': index % 2 === 0 ? 'orders/create' : 'refunds/create' }), { mustRefuse: false });
      await send('/webhooks/square', `signed arbitrary JSON ${body.slice(0, 40)}`, body, square(body), { mustRefuse: false });
      await send('/webhooks/shopify', `unsigned arbitrary JSON ${body.slice(0, 40)}`, body, shopify(body, { 'x-shopify-hmac-sha256': signShopifyBody('not-the-secret', body) }), { mustRefuse: true, status: 401 });
    }
    // What was signed and is JSON was kept (a channel's bytes are its word); the worker must survive it.
    await fuzzer.harness.engine.worker.drain();
    const states = await fuzzer.harness.engine.database.db.selectFrom('inbox_events').select(['status', 'attempts', 'error']).execute();
    t.diagnostic(`${states.length} signed but meaningless events kept; after the worker: ${JSON.stringify(states.reduce<Record<string, number>>((counts, row) => ({ ...counts, [row.status]: (counts[row.status] ?? 0) + 1 }), {}))}`);
    assert.ok(states.every((row) => row.status !== 'received' || (row.attempts > 0 && row.error)), 'every kept event was applied, ignored or failed with a reason, none left untried');
    assert.equal((await fuzzer.harness.request('GET', '/healthz', { key: '' })).status, 200, 'the engine still answers');
    report(t, fuzzer, 2);
  });
}
