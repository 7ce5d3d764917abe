import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestEngine } from './engine-harness.ts';

// What the console's end-to-end tests share: the engine listening on a loopback port, Debian's
// Chromium driven by playwright-core (no browser is downloaded), signing in as a demo user, and
// screenshots kept as test artifacts.

/** Debian's Chromium; .ci/run installs it when it is missing. */
export const chromiumPath = '/usr/bin/chromium';

/** Where the screenshots go (gitignored); CI keeps the folder as the tests' artifacts. */
export const consoleArtifactsDir = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');

/** How long one browser step may wait for the page; the engine answers in milliseconds. */
export const browserStepTimeoutMs = 15_000;

export const demoStaff = {
  manager: { email: 'manager@demo-outfitters.example', password: 'demo-manager-pass' },
  associate: { email: 'associate@demo-outfitters.example', password: 'demo-associate-pass' },
} as const;

/** Makes the harness's engine listen on 127.0.0.1 (a free port) and answers its base URL. */
export async function listenOnLoopback(harness: TestEngine): Promise<string> {
  await harness.engine.server.listen({ host: '127.0.0.1', port: 0 });
  const address = harness.engine.server.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'], headless: true });
}

/** A fresh browser context (its own cookies) on the console, signed in as a demo user. */
export async function openConsoleAs(browser: Browser, baseUrl: string, role: keyof typeof demoStaff): Promise<Page> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'America/Toronto' });
  context.setDefaultTimeout(browserStepTimeoutMs);
  const page = await context.newPage();
  await page.goto('/console/');
  await page.getByLabel('Email').fill(demoStaff[role].email);
  await page.getByLabel('Password').fill(demoStaff[role].password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

/** Saves a full-page screenshot as test-artifacts/console/NAME.png and answers its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(consoleArtifactsDir, { recursive: true });
  const path = join(consoleArtifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
