import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance } from '../app-instance.ts';
import { errorBody, statusForCode } from '../error-mapping.ts';
import { registerConsoleRoutes } from './console-routes.ts';

// The console's files are served without an API key, from the built folder only: every path that
// names no file answers index.html (the browser routes), hashed assets are cached for good, and
// nothing outside the folder or of an unknown type is ever read.

const indexHtml = '<!doctype html><title>console</title><script type="module" src="/console/assets/app-abc123.js"></script>';

function consoleServer(distDirectory: string): AppInstance {
  const app = Fastify().withTypeProvider<ZodTypeProvider>() as unknown as AppInstance;
  // The engine's error handler, reduced to what these routes throw.
  app.setErrorHandler((error, _request, reply) => {
    const appError = error instanceof AppError ? error : new AppError('internal.error', 'unexpected');
    return reply.code(appError.code === 'internal.error' ? 500 : statusForCode(appError.code)).send(errorBody(appError));
  });
  registerConsoleRoutes(app, { distDirectory });
  return app;
}

function builtConsole(t: { after(callback: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'continuum-console-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dist = join(root, 'dist');
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), indexHtml);
  writeFileSync(join(dist, 'assets', 'app-abc123.js'), 'console.log("console")');
  writeFileSync(join(root, 'secret.txt'), 'outside the console');
  writeFileSync(join(dist, '.env'), 'HIDDEN=1');
  writeFileSync(join(dist, 'notes.md'), '# not a console file type');
  return dist;
}

test('/console answers index.html without a key, for itself and for every screen path, revalidated and under a strict CSP', async (t) => {
  const app = consoleServer(builtConsole(t));
  t.after(() => app.close());

  const bare = await app.inject({ method: 'GET', url: '/console' });
  assert.equal(bare.statusCode, 308);
  assert.equal(bare.headers.location, '/console/');
  for (const url of ['/console/', '/console/staff', '/console/staff/customers/cus_123?q=jane', '/console/ops/exceptions/exc_1']) {
    const response = await app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, 200, url);
    assert.equal(response.body, indexHtml, url);
    assert.match(String(response.headers['content-type']), /^text\/html/);
    assert.equal(response.headers['cache-control'], 'no-cache');
    assert.match(String(response.headers['content-security-policy']), /default-src 'self'; script-src 'self'/);
    assert.equal(response.headers['x-content-type-options'], 'nosniff');
  }
});

test('/console serves a built asset with its type, cached for a year; an unknown asset is a 404', async (t) => {
  const app = consoleServer(builtConsole(t));
  t.after(() => app.close());

  const asset = await app.inject({ method: 'GET', url: '/console/assets/app-abc123.js' });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.body, 'console.log("console")');
  assert.match(String(asset.headers['content-type']), /^text\/javascript/);
  assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');

  const missing = await app.inject({ method: 'GET', url: '/console/assets/app-000000.js' });
  assert.equal(missing.statusCode, 404);
  assert.equal(JSON.parse(missing.body).error.code, 'console.file_not_found');
});

test('/console never reads outside its folder, hidden files or files of a type it does not serve', async (t) => {
  const app = consoleServer(builtConsole(t));
  t.after(() => app.close());

  for (const url of ['/console/../secret.txt', '/console/..%2fsecret.txt', '/console/assets/..%2F..%2Fsecret.txt', '/console/%2e%2e/secret.txt', '/console/.env', '/console/notes.md', '/console/assets\\..\\..\\secret.txt', '/console/%E0%A4%A']) {
    const response = await app.inject({ method: 'GET', url });
    assert.notEqual(response.statusCode, 200, `${url} is refused`);
    assert.ok(!response.body.includes('outside the console') && !response.body.includes('HIDDEN'), `${url} reveals nothing`);
  }
});

test('/console before the console was built answers 503 with how to build it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'continuum-console-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const app = consoleServer(join(root, 'dist'));
  t.after(() => app.close());

  const response = await app.inject({ method: 'GET', url: '/console/' });
  assert.equal(response.statusCode, 503);
  assert.match(response.body, /npm run build:console/);
});
