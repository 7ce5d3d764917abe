#!/usr/bin/env node
// Runs every `*.test.ts` under src/ and test/ with Node's built-in test runner (through tsx).
// Node 20's runner has no glob support, so the files are found here and passed explicitly.
//
// Usage: npm test [-- FILTER... | -- --runner-flag...]
//   A plain argument is a substring filter on the file path: `npm test -- journey` runs only the
//   files whose path contains "journey" (several filters match any of them). Arguments starting
//   with "-" are passed through to `node --test` (for example `--test-name-pattern=stock`).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const searchRoots = ['src', 'test'];
const skippedDirectories = new Set(['node_modules', '.git']);
// Two test files at a time: the CI machine has two cores, and each file may open its own database.
const testConcurrency = 2;

function findTestFiles(directory) {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  const files = [];
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (!skippedDirectories.has(entry.name)) files.push(...findTestFiles(path));
    } else if (entry.isFile() && entry.name.endsWith('.test.ts')) {
      files.push(path);
    }
  }
  return files;
}

const extraArguments = process.argv.slice(2);
const filters = extraArguments.filter((argument) => !argument.startsWith('-'));
const runnerFlags = extraArguments.filter((argument) => argument.startsWith('-'));

// Paths are relative and use "/" so a filter like "db/database" works on every platform.
const allFiles = searchRoots
  .flatMap((searchRoot) => findTestFiles(join(root, searchRoot)))
  .map((path) => relative(root, path).split(sep).join('/'))
  .sort();
const files = filters.length === 0 ? allFiles : allFiles.filter((path) => filters.some((filter) => path.includes(filter)));

if (files.length === 0) {
  const what = filters.length === 0 ? 'under src/ or test/' : `matching ${filters.map((filter) => JSON.stringify(filter)).join(' or ')}`;
  console.error(`run-tests: no *.test.ts files ${what}`);
  process.exit(1);
}

// The spec reporter is named explicitly: Node 20 picks TAP when output is not a terminal (as in CI),
// and spec's closing summary ("ℹ pass N", "ℹ fail N") plus its list of failing tests read better.
const reporterFlags = runnerFlags.some((flag) => flag.startsWith('--test-reporter')) ? [] : ['--test-reporter=spec'];
const nodeArguments = ['--import', 'tsx', '--test', `--test-concurrency=${testConcurrency}`, ...reporterFlags, ...runnerFlags];
console.log(`run-tests: ${files.length} file(s): node ${nodeArguments.join(' ')} <files>`);

const child = spawn(process.execPath, [...nodeArguments, ...files], { cwd: root, stdio: 'inherit' });
// Forward Ctrl-C and termination to the runner so it can stop its own children cleanly.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  console.error(`run-tests: could not start node: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`run-tests: test runner ended by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
