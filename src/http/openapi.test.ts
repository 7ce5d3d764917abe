import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from '../../test/support/databases.ts';
import type { TestEngine } from '../../test/support/engine-harness.ts';
import { startLockedTestEngine } from '../../test/support/postgres-schema-lock.ts';

// The self-description an integrator starts from: /openapi.json documents every route the server
// answers, /docs renders it, and /healthz and /metrics answer without a key.

// Routes that serve the documentation itself, or the console's files (a web page, not an API),
// and so are not part of it.
const documentationPath = /^\/(docs|openapi\.json|console)(\/|\*|$)/;

const knownRoutes = [
  'GET /healthz', 'GET /metrics',
  'GET /v1/customers/lookup', 'GET /v1/customers/{id}', 'GET /v1/customers/{id}/loyalty',
  'POST /v1/pos/sales', 'POST /v1/pos/uploads', 'GET /v1/orders/{id}',
  'GET /v1/inventory', 'GET /v1/inventory/movements', 'POST /v1/inventory/receive', 'POST /v1/inventory/adjust',
  'GET /v1/locations', 'POST /v1/locations', 'GET /v1/products', 'POST /v1/products',
  'GET /v1/promotions', 'POST /v1/promotions', 'GET /v1/promotions/{code}', 'PATCH /v1/promotions/{code}', 'POST /v1/promotions/{code}/deactivate', 'POST /v1/carts/price', 'GET /v1/rewards', 'POST /v1/rewards',
  'GET /v1/channels', 'POST /v1/channels', 'GET /v1/sync/status', 'GET /v1/exceptions', 'GET /v1/outbox',
  'POST /webhooks/shopify', 'POST /webhooks/square',
];

/**
 * Every "METHOD /path" the server routes, read from Fastify's route tree (`printRoutes`), with
 * `:param` written as OpenAPI's `{param}`. HEAD routes Fastify adds to each GET are left out.
 */
function serverRoutes(harness: TestEngine): string[] {
  const tree = harness.engine.server.printRoutes({ commonPrefix: false });
  const prefixes: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│   |    )*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const path = (prefixes[depth - 1] ?? '') + (match[2] ?? '');
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    for (const method of (match[3] ?? '').split(',').map((name) => name.trim()).filter((name) => name && name !== 'HEAD')) {
      routes.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes.filter((route) => !documentationPath.test(route.split(' ')[1] ?? '')).sort();
}

function documentedRoutes(spec: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(spec.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)).sort();
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] /openapi.json documents every route the server answers, and no other`, async (t) => {
    const harness = await startLockedTestEngine(dialect);
    t.after(() => harness.dispose());

    const response = await harness.request('GET', '/openapi.json', { key: '' });

    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /application\/json/);
    const spec = response.body;
    assert.match(spec.openapi, /^3\./);
    assert.equal(spec.info.title, 'Continuum');
    const documented = documentedRoutes(spec);
    for (const route of knownRoutes) assert.ok(documented.includes(route), `${route} is documented`);
    const routed = serverRoutes(harness);
    assert.ok(routed.length >= knownRoutes.length, `the route tree was read: ${routed.join(', ')}`);
    assert.deepEqual(documented, routed, 'the documented routes are exactly the routed ones');

    const sale = spec.paths['/v1/pos/sales'].post;
    assert.ok(sale.requestBody?.content?.['application/json']?.schema, 'the sale body schema is documented');
    assert.ok(spec.components?.securitySchemes?.apiKey, 'the bearer key scheme is documented');
  });

  test(`[${dialect}] /docs serves the interactive API documentation as an HTML page`, async (t) => {
    const harness = await startLockedTestEngine(dialect);
    t.after(() => harness.dispose());

    let response = await harness.engine.server.inject({ method: 'GET', url: '/docs' });
    for (let redirects = 0; response.statusCode >= 300 && response.statusCode < 400 && redirects < 3; redirects += 1) {
      const location = String(response.headers.location);
      response = await harness.engine.server.inject({ method: 'GET', url: new URL(location, 'http://localhost/docs').pathname });
    }

    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /text\/html/);
    assert.match(response.body, /<html/i);
    assert.match(response.body, /swagger/i);
  });

  test(`[${dialect}] /healthz answers 200 {status: "ok"} with the database dialect, without a key`, async (t) => {
    const harness = await startLockedTestEngine(dialect);
    t.after(() => harness.dispose());

    const response = await harness.request('GET', '/healthz', { key: '' });

    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { status: 'ok', database: dialect });
  });

  test(`[${dialect}] /metrics exposes continuum_http_request_duration_seconds in the Prometheus text format, labelled by route`, async (t) => {
    const harness = await startLockedTestEngine(dialect);
    t.after(() => harness.dispose());
    assert.equal((await harness.request('GET', '/healthz', { key: '' })).status, 200);

    const response = await harness.request('GET', '/metrics', { key: '' });

    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /text\/plain/);
    assert.match(response.body, /# TYPE continuum_http_request_duration_seconds histogram/);
    assert.match(response.body, /continuum_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} 1/);
  });
}
