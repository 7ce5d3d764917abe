import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance } from '../app-instance.ts';

/** Where `npm run build:console` puts the built console (web/dist), from this file's folder. */
export const consoleDistDirectory = join(import.meta.dirname, '..', '..', '..', 'web', 'dist');

/** The path the console is served under; web/vite.config.ts builds it with the same base. */
export const consoleBasePath = '/console';

/** The longest path under /console answered; a longer one is no file of the console. */
const consolePathLengthMax = 300;

// The types of what Vite emits. Anything else is not served: the console has no other files.
const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

// The console loads only its own scripts and styles and talks only to this engine. React sets
// styles through the DOM (allowed); no inline script or style element is emitted by the build.
const securityHeaders = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const notBuiltPage = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Continuum console not built</title>
<main><h1>The console is not built yet</h1><p>Run <code>npm run build:console</code> (or <code>npm start</code>, which builds it when it is missing) and reload.</p></main></html>`;

export interface ConsoleRouteOptions {
  /** The built console; web/dist by default. */
  distDirectory?: string;
}

/**
 * The staff and operations console: the files Vite built, under /console, without an API key (the
 * console signs in with a staff session; every API call it makes is authenticated as usual).
 * Hashed assets are cached for a year; index.html is revalidated, and answers every path that
 * names no file (the console routes in the browser). Left out of the OpenAPI document: it is no API.
 */
export function registerConsoleRoutes(app: AppInstance, options: ConsoleRouteOptions = {}): void {
  const distDirectory = normalize(options.distDirectory ?? consoleDistDirectory);

  app.get(consoleBasePath, { schema: { hide: true } }, async (_request, reply) => reply.redirect(`${consoleBasePath}/`, 308));

  app.get(`${consoleBasePath}/*`, { schema: { hide: true } }, async (request, reply) => {
    const wildcard = (request.params as { '*'?: string })['*'] ?? '';
    const relativePath = safeRelativePath(wildcard);
    if (relativePath === null) throw fileNotFound(wildcard);
    if (relativePath !== '' && extname(relativePath) !== '') {
      const file = await readConsoleFile(distDirectory, relativePath);
      if (!file) throw fileNotFound(relativePath);
      const immutable = relativePath.startsWith('assets/');
      return reply.headers({ ...securityHeaders, 'content-type': file.contentType, 'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache' }).send(file.body);
    }
    const index = await readConsoleFile(distDirectory, 'index.html');
    if (!index) return reply.code(503).headers({ ...securityHeaders, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).send(notBuiltPage);
    return reply.headers({ ...securityHeaders, 'content-type': index.contentType, 'cache-control': 'no-cache' }).send(index.body);
  });
}

/** The wildcard as a path inside the dist folder, or null when it leaves it or is no plausible file name. */
function safeRelativePath(wildcard: string): string | null {
  if (wildcard.length > consolePathLengthMax) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(wildcard);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '..' || segment.startsWith('.'))) return null;
  return segments.join('/');
}

async function readConsoleFile(distDirectory: string, relativePath: string): Promise<{ body: Buffer; contentType: string } | null> {
  const contentType = contentTypes[extname(relativePath).toLowerCase()];
  if (!contentType) return null;
  const path = join(distDirectory, relativePath);
  // safeRelativePath already refuses "..": this is the invariant, checked where the file is opened.
  if (!path.startsWith(distDirectory + sep)) throw new Error(`console path escaped its folder: ${relativePath}`);
  try {
    if (!(await stat(path)).isFile()) return null;
    return { body: await readFile(path), contentType };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw error;
  }
}

function fileNotFound(path: string): AppError {
  return new AppError('console.file_not_found', 'The console has no such file', { path: path.slice(0, consolePathLengthMax) });
}
