// Builds the staff and operations console (web/) into web/dist with Vite.
//
// Usage: node --import tsx scripts/build-console.ts [--if-stale]
//   --if-stale  build only when web/dist/index.html is missing or older than a source file
//               (`npm start` runs it this way through `prestart`, and so do the e2e tests).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const webDirectory = join(root, 'web');
export const consoleIndexFile = join(webDirectory, 'dist', 'index.html');

/** Source files looked at for staleness at most; the console has a few dozen. */
const sourceFilesMax = 2_000;

/** The newest modification time among the console's sources (web/src, index.html, the configs). */
function newestSourceMs(): number {
  const files = [join(webDirectory, 'index.html'), join(webDirectory, 'vite.config.ts'), join(root, 'package-lock.json')];
  const pending = [join(webDirectory, 'src')];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else files.push(path);
      if (files.length > sourceFilesMax) throw new Error(`web/src holds more than ${sourceFilesMax} files: is something generated there?`);
    }
  }
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

/** Whether web/dist is missing or older than a source file. */
export function isConsoleStale(): boolean {
  let builtMs: number;
  try {
    builtMs = statSync(consoleIndexFile).mtimeMs;
  } catch {
    return true;
  }
  return newestSourceMs() > builtMs;
}

/** Builds the console with Vite (about ten seconds on two cores). */
export async function buildConsole(): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: join(webDirectory, 'vite.config.ts'), logLevel: 'warn' });
}

/** Builds the console when it is missing or stale; answers whether it built. */
export async function ensureConsoleBuilt(): Promise<boolean> {
  if (!isConsoleStale()) return false;
  await buildConsole();
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale');
  const startedMs = Date.now();
  if (ifStale && !isConsoleStale()) {
    console.log('console: web/dist is up to date');
  } else {
    console.log('console: building web/ into web/dist …');
    await buildConsole();
    console.log(`console: built in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  }
}
