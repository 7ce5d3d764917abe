import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../scripts/build-console.ts';
import { createTestClock, installClock } from '../../src/shared/clock.ts';
import { DIALECTS } from '../support/databases.ts';
import { chromiumPath, launchChromium, listenOnLoopback, openConsoleAs, saveScreenshot } from '../support/console-browser.ts';
import { readFixture, startTestEngine, testPosKey, type TestEngine } from '../support/engine-harness.ts';
import { driveOutbox } from '../support/outbox-time.ts';

// Issue #8: the staff and operations console, proven in a real browser. Each test starts the engine
// on a fresh SQLite database with the demo merchant, makes it listen on a loopback port, signs in
// through the console's own sign-in screen as a demo user, does what a person does there (keyboard
// and clicks on the roles and labels a screen reader would announce), checks what the screen says,
// then checks the engine's own state through the API, and keeps a screenshot in
// test-artifacts/console/. The browser tests run on SQLite only: the console talks to the API,
// which the rest of the suite proves on both dialects, so a PostgreSQL pass would prove nothing
// more and cost a browser start per test.

const skip = DIALECTS.includes('sqlite') ? false : 'the browser tests run on SQLite only (TEST_DIALECTS has no sqlite)';
const janePhoneAsSaid = '(613) 555-0142';

let browser: Browser | undefined;

before(async () => {
  if (skip) return;
  await ensureConsoleBuilt();
  try {
    browser = await launchChromium();
  } catch (error) {
    throw new Error(`Chromium did not start from ${chromiumPath} (install Debian's chromium: .ci/run does): ${String(error)}`);
  }
});

after(async () => {
  await browser?.close();
});

async function startConsoleEngine(t: TestContext): Promise<{ harness: TestEngine; baseUrl: string }> {
  const harness = await startTestEngine('sqlite');
  t.after(() => harness.dispose());
  return { harness, baseUrl: await listenOnLoopback(harness) };
}

async function openAs(t: TestContext, baseUrl: string, role: 'manager' | 'associate'): Promise<Page> {
  assert.ok(browser, 'the browser started');
  const page = await openConsoleAs(browser, baseUrl, role);
  t.after(() => page.context().close());
  return page;
}

/** Jane Doe's web order #1042 (the Shopify orders/create fixture), placed `daysAgo` days ago, applied. */
async function deliverJanesWebOrder(harness: TestEngine, daysAgo: number): Promise<void> {
  // Edited as text: JSON.parse would round the fixture's 18-digit ids.
  const placedAt = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  const body = readFixture('shopify/orders-create.json').toString('utf8').replace(/"processed_at":\s*"[^"]*"/, `"processed_at":"${placedAt}"`);
  const delivered = await harness.deliverShopifyFixture('shopify/orders-create.json', {}, Buffer.from(body));
  assert.equal(delivered.status, 200, JSON.stringify(delivered.body));
  await harness.engine.worker.drain();
}

async function onHand(harness: TestEngine, sku: string, locationId: string): Promise<number> {
  const levels = (await harness.request('GET', `/v1/inventory?sku=${encodeURIComponent(sku)}`)).body.data as { location_id: string; on_hand: number }[];
  const level = levels.find((candidate) => candidate.location_id === locationId);
  assert.ok(level, `${sku} has a level at ${locationId}`);
  return level.on_hand;
}

/** The wallet counted at the store while Shopify refuses everything: its push uses up its retries (about a day on the test clock) and dies. Returns its id. */
async function countUntilThePushDies(harness: TestEngine, clock: ReturnType<typeof createTestClock>, onHandCounted: number): Promise<string> {
  await harness.engine.worker.drain();
  harness.fake.failNext(1_000_000_000, 503);
  const counted = await harness.request('POST', '/v1/inventory/count', { body: { location_id: harness.demo.store.id, sku: 'SKU-WALLET-01', on_hand: onHandCounted, reference: `console-e2e-count-${onHandCounted}` } });
  assert.equal(counted.status, 200, JSON.stringify(counted.body));
  const pushes = async () => ((await harness.request('GET', '/v1/outbox?destination=shopify&kind=inventory.push')).body.data as { id: string; status: string }[]);
  await driveOutbox(harness, clock, { untilMs: clock.nowMs() + 3 * 86_400_000, stopWhen: async () => (await pushes()).some((message) => message.status === 'dead') });
  const dead = (await pushes()).find((message) => message.status === 'dead');
  assert.ok(dead, 'the push died after its retries');
  harness.fake.failNext(0);
  return dead.id;
}

test('an associate finds a shopper by the phone she says, sees her points, and redeems a reward for the sale', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  await deliverJanesWebOrder(harness, 7);
  const jane = (await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent(janePhoneAsSaid)}`)).body.data[0];
  assert.equal(jane.loyalty.available, 224, 'her web order earned 224 points');
  const page = await openAs(t, baseUrl, 'associate');

  // A card scanner types the code and Enter into the focused search field: her profile opens.
  await page.getByRole('heading', { name: 'Find a customer' }).waitFor();
  await page.keyboard.type(jane.loyalty_code);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Jane Doe' }).waitFor();

  // The phone as she says it finds her too.
  await page.getByRole('link', { name: 'Customers' }).click();
  await page.getByLabel('Phone, email, name or loyalty code').fill(janePhoneAsSaid);
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: 'One customer found.' }).waitFor();
  await page.getByRole('link', { name: 'Jane Doe' }).click();
  await page.getByRole('heading', { level: 1, name: 'Jane Doe' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.tagName + ' ' + document.activeElement?.textContent), 'H1 Jane Doe', "the focus moved to the new screen's heading");
  assert.equal(await page.getByTestId('points-available').textContent(), '224 points');
  const history = page.getByTestId('purchase-history');
  assert.match(await history.textContent() ?? '', /#1042.*Online.*Shopify/, 'the web order is in her history, marked Online');

  await page.getByRole('button', { name: 'Redeem $5 off for this sale' }).click();
  const code = (await page.getByTestId('reward-code').textContent())?.trim() ?? '';
  assert.match(code, /\S{6,}/, 'a reward code is shown');
  await page.getByText('124 points left').waitFor();
  assert.match(await page.evaluate(() => document.activeElement?.textContent ?? ''), /Reward code/, 'the focus moved to the code, so a screen reader reads it');
  await saveScreenshot(page, '1-find-by-phone-and-redeem');

  const loyalty = (await harness.request('GET', `/v1/customers/${jane.id}/loyalty`)).body.data;
  assert.equal(loyalty.available, 124, 'the engine took the 100 points');
  const codes = (await harness.request('GET', `/v1/customers/${jane.id}/reward-codes`)).body.data as { code: string; state: string }[];
  assert.deepEqual(codes.map((issued) => [issued.code, issued.state]), [[code, 'issued']], 'the code on screen is hers, issued and unused');
});

test('an associate takes back an online order in the store: refund previewed line by line, confirmed, restocked here', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  await deliverJanesWebOrder(harness, 7);
  const order = (await harness.request('GET', '/v1/orders?q=1042')).body.data[0];
  const store = harness.demo.store.id;
  const aviatorsBefore = await onHand(harness, 'SKU2006-001', store);
  const page = await openAs(t, baseUrl, 'associate');

  await page.getByRole('link', { name: 'Returns' }).click();
  await page.getByLabel('Order number, email, phone or loyalty code').fill('1042');
  await page.keyboard.press('Enter');
  await page.getByRole('link', { name: 'Return items from order #1042' }).click();
  await page.getByRole('heading', { level: 1, name: 'Return from order #1042' }).waitFor();
  await page.getByLabel('Quantity of Aviator sunglasses - Gold to return').fill('1');
  assert.equal(await page.getByLabel('Restock at (damaged items are set aside there)').inputValue(), store, "the associate's own store by default");
  await page.getByRole('button', { name: 'Preview the refund' }).click();

  const preview = page.getByTestId('refund-preview');
  await preview.waitFor();
  const row = preview.getByRole('row').filter({ hasText: 'Aviator sunglasses' });
  // $89.99, less its share of SUMMER10 ($9.00), plus its tax ($6.48): $87.47, and its 81 points.
  assert.deepEqual((await row.getByRole('cell').allTextContents()).slice(0, 7), ['1', '$89.99', '−$9.00', '$6.48', '—', '$87.47', '−81']);
  assert.match(await row.textContent() ?? '', /Restocked at Rideau Street Store/);
  await saveScreenshot(page, '2a-return-refund-preview');
  await page.getByRole('button', { name: 'Confirm the return and refund $87.47' }).click();
  await page.getByRole('heading', { name: 'Return recorded' }).waitFor();
  assert.match(await page.getByTestId('return-result').textContent() ?? '', /Refund \$87\.47\. The refund goes back through Shopify \(Pending\)\. 81 points taken back\./);
  await saveScreenshot(page, '2b-return-recorded');

  const after = (await harness.request('GET', `/v1/orders/${order.id}`)).body.data;
  assert.equal(after.returns.length, 1, 'the return is recorded against the web order');
  assert.equal(after.refunded.amount_minor, 8747);
  assert.equal(await onHand(harness, 'SKU2006-001', store), aviatorsBefore + 1, 'restocked at the store it was returned to');
  const loyalty = (await harness.request('GET', `/v1/customers/${order.customer_id}/loyalty`)).body.data;
  assert.equal(loyalty.available, 224 - 81, 'the points the line earned are taken back');
});

test('a manager merges a possible duplicate from the queue, sees the merge in its audit trail, and undoes it', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  const withEmail = await harness.request('POST', '/v1/customers', { body: { email: 'dana@example.com', first_name: 'Dana', last_name: 'Reyes' } });
  const withPhone = await harness.request('POST', '/v1/customers', { body: { phone: '613 555 0199', first_name: 'Dana', last_name: 'Reyes' } });
  assert.equal(withPhone.status, 201, JSON.stringify(withPhone.body));
  // A store sale that gives both her email and her phone names both profiles: a possible duplicate.
  const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'DUP-1', location_id: harness.demo.store.id, customer: { email: 'dana@example.com', phone: '613 555 0199' }, lines: [{ sku: 'SKU-WALLET-01', quantity: 1 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  const [survivorId, mergedId] = [withEmail.body.data.id as string, withPhone.body.data.id as string];
  const page = await openAs(t, baseUrl, 'manager');

  await page.getByRole('heading', { level: 1, name: 'Exceptions' }).waitFor();
  await page.getByLabel('Kind', { exact: true }).selectOption('possible_duplicate');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByTestId('exceptions').getByRole('link', { name: 'Possible duplicate' }).click();
  await page.getByRole('heading', { name: 'Are these the same person?' }).waitFor();
  assert.match(await page.getByTestId('duplicate-0').textContent() ?? '', /dana@example\.com/);
  assert.match(await page.getByTestId('duplicate-1').textContent() ?? '', /\+16135550199/);
  // The profile with the sale is kept by default.
  await page.getByRole('button', { name: 'Merge', exact: true }).click();
  await page.getByText('Merged: Dana Reyes (+16135550199) is now part of Dana Reyes (dana@example.com).').waitFor();
  assert.equal(await page.getByTestId('exception-state').textContent(), 'Resolved');
  await saveScreenshot(page, '3a-duplicate-merged');
  assert.equal((await harness.request('GET', `/v1/customers/${mergedId}`)).body.data.state, 'merged', 'the engine merged the phone-only profile');

  await page.getByRole('link', { name: 'See the merge and its audit trail, or undo it' }).click();
  const merges = page.getByTestId('merges');
  await merges.waitFor();
  assert.match(await merges.textContent() ?? '', /Dana Reyes.*Dana Reyes.*staff:/, 'the trail names who merged');
  await page.getByRole('button', { name: 'Unmerge' }).click();
  await page.getByText('are two profiles again').waitFor();
  await page.getByTestId('merge-state').filter({ hasText: 'Unmerged' }).waitFor();
  await saveScreenshot(page, '3b-merge-undone');

  assert.equal((await harness.request('GET', `/v1/customers/${mergedId}`)).body.data.state, 'active', 'both profiles are back');
  assert.equal((await harness.request('GET', `/v1/customers/${survivorId}`)).body.data.state, 'active');
  const trail = (await harness.request('GET', `/v1/customers/${survivorId}/merges`)).body.data as { state: string; unmerged_at: string | null }[];
  assert.deepEqual(trail.map((merge) => merge.state), ['unmerged']);
});

test('a manager retries a failed sync from the queue and the channel gets the message', { skip }, async (t) => {
  const clock = createTestClock();
  t.after(installClock(clock));
  const { harness, baseUrl } = await startConsoleEngine(t);
  // The push dies, so a failed-sync exception is raised.
  const dead = { id: await countUntilThePushDies(harness, clock, 7) };
  const pushes = async () => ((await harness.request('GET', '/v1/outbox?destination=shopify&kind=inventory.push')).body.data as { id: string; status: string }[]);
  // Signed in after the simulated day, so the session is fresh on the test clock.
  const page = await openAs(t, baseUrl, 'manager');

  await page.getByLabel('Kind', { exact: true }).selectOption('sync_failed');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByTestId('exceptions').getByRole('link', { name: 'Failed sync' }).click();
  await page.getByRole('heading', { name: 'What failed' }).waitFor();
  assert.match(await page.getByTestId('sync-error').textContent() ?? '', /503/, 'the error Shopify gave is shown');
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.getByText('Sent again: the message is queued').waitFor();
  assert.equal(await page.getByTestId('exception-state').textContent(), 'In progress');

  // The worker sends it when the circuit Shopify's outage opened lets a probe through again.
  await driveOutbox(harness, clock, { untilMs: clock.nowMs() + 3_600_000, stopWhen: async () => (await pushes()).find((message) => message.id === dead.id)?.status === 'delivered' });
  await page.reload();
  await page.getByTestId('exception-state').filter({ hasText: 'Resolved' }).waitFor();
  await page.getByText('delivered on replay').first().waitFor();
  await saveScreenshot(page, '4-failed-sync-retried');

  const message = (await pushes()).find((candidate) => candidate.id === dead.id);
  assert.equal(message?.status, 'delivered', 'the same message was delivered on the retry');
  assert.equal(harness.fake.quantity('gid://shopify/InventoryItem/271878346596884017', 'gid://shopify/Location/24826419'), 7, 'Shopify shows the count');
});

test('an associate prepares a pickup order and hands it over from the store queue', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  const store = harness.demo.store.id;
  const placed = await harness.request('POST', '/v1/pickups', { key: testPosKey, body: { sale_id: 'WEB-PICK-7', location_id: store, customer: { email: 'pia@example.com', first_name: 'Pia', last_name: 'Lund' }, lines: [{ sku: 'SKU-BEANIE-01', quantity: 2 }] } });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));
  const pickupId: string = placed.body.data.pickup_id;
  const beaniesBefore = await onHand(harness, 'SKU-BEANIE-01', store);
  const page = await openAs(t, baseUrl, 'associate');

  await page.getByRole('link', { name: 'Pickups' }).click();
  const toPrepare = page.getByTestId('pickups-placed');
  await toPrepare.getByText('2 × Wool beanie - Charcoal').waitFor();
  assert.match(await toPrepare.textContent() ?? '', /WEB-PICK-7.*Pia Lund/);
  await page.getByRole('button', { name: 'Mark ready: order WEB-PICK-7' }).click();
  await page.getByTestId('pickups-ready').getByText('WEB-PICK-7').waitFor();
  await page.getByRole('button', { name: 'Hand over: order WEB-PICK-7' }).click();
  await page.getByRole('status').filter({ hasText: 'Order WEB-PICK-7 was handed over.' }).first().waitFor();
  await page.getByTestId('pickups-picked_up').getByText('WEB-PICK-7').waitFor();
  await saveScreenshot(page, '5-pickup-handed-over');

  const pickup = (await harness.request('GET', `/v1/pickups/${pickupId}`)).body.data;
  assert.equal(pickup.state, 'picked_up', 'the engine recorded the hand-over');
  assert.equal(await onHand(harness, 'SKU-BEANIE-01', store), beaniesBefore - 2, 'the two beanies left the shelf');
});

test('a manager adds a person, renames her, moves her store and makes her a manager, stops her signing in and lets her back, and sets her a new password', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  const signIn = (password: string) => harness.request('POST', '/v1/sessions', { key: '', body: { email: 'sam@demo-outfitters.example', password } });
  const sam = async () => ((await harness.request('GET', '/v1/staff')).body.data as { email: string; name: string; role: string; home_location_id: string | null; disabled_at: string | null }[]).find((person) => person.email === 'sam@demo-outfitters.example');
  const page = await openAs(t, baseUrl, 'manager');

  await page.getByRole('link', { name: 'Staff', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Staff' }).waitFor();
  const staff = page.getByTestId('staff');
  assert.match(await staff.textContent() ?? '', /manager@demo-outfitters\.example.*associate@demo-outfitters\.example|associate@demo-outfitters\.example.*manager@demo-outfitters\.example/, 'both demo people are listed');

  // Added at the store, she can sign in at once.
  await page.getByLabel('Email').fill('sam@demo-outfitters.example');
  await page.getByLabel('Name', { exact: true }).fill('Sam Ortiz');
  await page.getByLabel('Home store').selectOption({ label: harness.demo.store.name });
  await page.getByLabel('Password (at least 10 characters)').fill('sam-first-pass-1');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByText('Sam Ortiz can sign in as sam@demo-outfitters.example.').waitFor();
  await page.getByTestId('staff-sam@demo-outfitters.example').waitFor();
  assert.equal((await sam())?.home_location_id, harness.demo.store.id);
  assert.equal((await signIn('sam-first-pass-1')).status, 201, 'she signs in with the password given');

  // Renamed, no longer tied to a store, and made a manager: her open session may manage staff at once.
  const samSession = String((await signIn('sam-first-pass-1')).headers['set-cookie']).split(';')[0]!;
  const samListsStaff = async () => (await harness.request('GET', '/v1/staff', { key: '', headers: { cookie: samSession } })).status;
  assert.equal(await samListsStaff(), 403, 'an associate cannot manage staff');
  await page.getByRole('button', { name: 'Edit Sam Ortiz' }).click();
  const edit = page.getByRole('form', { name: 'Edit Sam Ortiz' });
  await edit.getByLabel('Name').fill('Sam Ortiz-Reyes');
  await edit.getByLabel('Home store').selectOption({ label: 'No home store' });
  await edit.getByLabel('Role').selectOption({ label: 'Manager: everything' });
  await edit.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Sam Ortiz-Reyes is saved.').waitFor();
  assert.deepEqual([(await sam())?.name, (await sam())?.home_location_id, (await sam())?.role], ['Sam Ortiz-Reyes', null, 'manager']);
  await page.getByTestId('staff-sam@demo-outfitters.example').getByRole('cell', { name: 'Manager', exact: true }).waitFor();
  assert.equal(await samListsStaff(), 200, 'her open session has a manager\'s scope now');

  // She left: disabled, she cannot sign in; she came back: enabled, she can.
  const row = page.getByTestId('staff-sam@demo-outfitters.example');
  await page.getByRole('button', { name: 'Disable Sam Ortiz-Reyes' }).click();
  // Asked once more: her open sessions end at once.
  const confirm = page.getByRole('group', { name: 'Disable Sam Ortiz-Reyes?' });
  assert.equal((await signIn('sam-first-pass-1')).status, 201, 'nothing happens before the confirmation');
  await confirm.getByRole('button', { name: 'Disable Sam Ortiz-Reyes' }).click();
  await page.getByText('Sam Ortiz-Reyes can no longer sign in').waitFor();
  // The message comes with the answer; the list shows the change once it is read again.
  await row.getByTestId('staff-status').getByText(/^Disabled /).waitFor();
  assert.equal((await signIn('sam-first-pass-1')).status, 401, 'a disabled person cannot sign in');
  await saveScreenshot(page, '6a-staff-disabled');
  await page.getByRole('button', { name: 'Enable Sam Ortiz-Reyes' }).click();
  await page.getByText('Sam Ortiz-Reyes can sign in again.').waitFor();
  await row.getByTestId('staff-status').getByText('Active', { exact: true }).waitFor();
  assert.equal((await sam())?.disabled_at, null);
  assert.equal((await signIn('sam-first-pass-1')).status, 201, 'enabled, she signs in again');

  // She forgot her password: a new one works, the old one no longer does.
  await page.getByRole('button', { name: 'Set password for Sam Ortiz-Reyes' }).click();
  await page.getByLabel('New password for Sam Ortiz-Reyes (at least 10 characters)').fill('sam-second-pass-2');
  await page.getByRole('form', { name: 'New password for Sam Ortiz-Reyes' }).getByRole('button', { name: 'Set password' }).click();
  await page.getByText('Sam Ortiz-Reyes has a new password').waitFor();
  await saveScreenshot(page, '6b-staff-password-set');
  assert.equal((await signIn('sam-first-pass-1')).status, 401, 'the old password is refused');
  assert.equal((await signIn('sam-second-pass-2')).status, 201, 'the new password signs her in');

  // A manager cannot disable herself here, nor change her own role: no Disable on her row, the role fixed.
  const own = page.getByTestId('staff-manager@demo-outfitters.example');
  assert.equal(await own.getByRole('button', { name: /^Disable/ }).count(), 0);
  await own.getByRole('button', { name: /^Edit/ }).click();
  const ownRole = page.getByRole('form', { name: /^Edit / }).getByLabel('Role');
  assert.equal(await ownRole.isDisabled(), true, 'her own role cannot be changed by her');
});

test('a manager finds Shopify, then Square, showing another stock figure on the Reconciliation screen and repairs each, then switches store pickup off for one store on the Rollout screen', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  await harness.engine.worker.drain();
  // Someone typed a count into the Shopify admin: the wallet at the store shows 99 there.
  const walletItem = 'gid://shopify/InventoryItem/271878346596884017';
  const storeLocation = 'gid://shopify/Location/24826419';
  harness.fake.setQuantity(walletItem, storeLocation, 99);
  const ours = (await harness.request('GET', '/v1/inventory?sku=SKU-WALLET-01')).body.data.find((row: { location_id: string }) => row.location_id === harness.demo.store.id).available as number;
  assert.notEqual(ours, 99);
  const page = await openAs(t, baseUrl, 'manager');

  await page.getByRole('link', { name: 'Reconciliation' }).click();
  await page.getByRole('heading', { level: 1, name: 'Reconciliation' }).waitFor();
  await page.getByLabel('Customers and their points').uncheck();
  await page.getByLabel('Recent orders').uncheck();
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.getByText('1 difference found.').waitFor();
  const stock = page.getByRole('region', { name: 'Stock at each location' });
  assert.match(await stock.textContent() ?? '', new RegExp(`${harness.demo.store.name}SKU-WALLET-01${ours}99Shopify shows more`), 'the store by name, both figures and the reason in words');
  await saveScreenshot(page, '7a-reconciliation-drift');
  await page.getByRole('button', { name: 'Repair 1 difference' }).click();
  await page.getByText('1 difference found; repair requested for each.').waitFor();
  await harness.engine.worker.drain();
  assert.equal(harness.fake.quantity(walletItem, storeLocation), ours, 'Shopify shows Continuum\'s figure again');
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.getByText('Shopify and Continuum agree.').waitFor();

  // Square's Dashboard shows another count of wallets at the store: compared and repaired the same way.
  harness.fakeSquare.setCount('SQ-WALLET', 'S8GWD5R9QB376', 99);
  await page.getByRole('radio', { name: 'Square' }).check();
  assert.equal(await page.getByLabel('Customers and their points').count(), 0, 'Square is compared for its stock only');
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.getByText('1 difference found.').waitFor();
  assert.match(await page.getByRole('region', { name: 'Stock at each location' }).textContent() ?? '', new RegExp(`${harness.demo.store.name}SKU-WALLET-01${ours}99Square shows more`));
  await page.getByRole('button', { name: 'Repair 1 difference' }).click();
  await page.getByText('1 difference found; repair requested for each.').waitFor();
  await harness.engine.worker.drain();
  assert.equal(harness.fakeSquare.count('SQ-WALLET', 'S8GWD5R9QB376'), ours, 'Square shows Continuum\'s figure again');
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.getByText('Square and Continuum agree.').waitFor();

  await page.getByRole('link', { name: 'Rollout' }).click();
  await page.getByRole('heading', { level: 1, name: 'Rollout' }).waitFor();
  const pickupSwitch = page.getByRole('switch', { name: `Store pickup at ${harness.demo.store.name}` });
  assert.equal(await pickupSwitch.isChecked(), true);
  await pickupSwitch.click();
  await page.getByText(`Store pickup is off at ${harness.demo.store.name}.`).waitFor();
  await saveScreenshot(page, '7b-rollout-pickup-off');
  const store = ((await harness.request('GET', '/v1/locations')).body.data as { id: string; workflows: Record<string, boolean> }[]).find((location) => location.id === harness.demo.store.id);
  assert.equal(store?.workflows.pickup, false, 'the engine has pickup off at the store');
  assert.equal(store?.workflows.loyalty_in_store, true, 'and nothing else changed');
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Rollout' }).waitFor();
  assert.equal(await page.getByRole('switch', { name: `Store pickup at ${harness.demo.store.name}` }).isChecked(), false, 'still off after a reload');
});

test('a manager sees a dead stock push on the Sync health screen, with its error and the channel\'s counts, and sends it again from there', { skip }, async (t) => {
  const clock = createTestClock();
  t.after(installClock(clock));
  const { harness, baseUrl } = await startConsoleEngine(t);
  await countUntilThePushDies(harness, clock, 6);
  const messages = async (status: string) => ((await harness.request('GET', `/v1/outbox?destination=shopify&status=${status}`)).body.data as { id: string; kind: string }[]);
  const dead = await messages('dead');
  // Queued more than a day ago, given up on within the last hour: the chart counts it when it died.
  const health = (await harness.request('GET', '/v1/sync/health?hours=24')).body.data.channels.find((channel: { channel: string }) => channel.channel === 'shopify');
  assert.equal(health.hours.reduce((total: number, hour: { outbound_dead: number }) => total + hour.outbound_dead, 0), dead.length, 'the last 24 hours show the death');
  const page = await openAs(t, baseUrl, 'manager');

  await page.getByRole('link', { name: 'Sync health' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sync health' }).waitFor();
  const shopify = page.getByRole('region', { name: 'Shopify' });
  assert.match(await shopify.textContent() ?? '', new RegExp(`Dead letters${dead.length}`), 'the channel counts its dead letters');
  const failed = page.getByRole('region', { name: 'Failed syncs' });
  assert.match(await failed.textContent() ?? '', /inventory\.push.*shopify.*503/, 'the dead push with the error Shopify gave');
  await saveScreenshot(page, '8a-sync-health-dead');
  await failed.getByRole('button', { name: 'Retry inventory.push to shopify' }).first().click();
  await page.getByText(/^inventory\.push to shopify: /).waitFor();

  await driveOutbox(harness, clock, { untilMs: clock.nowMs() + 3_600_000, stopWhen: async () => (await messages('dead')).length < dead.length && (await messages('pending')).length === 0 });
  assert.equal(harness.fake.quantity('gid://shopify/InventoryItem/271878346596884017', 'gid://shopify/Location/24826419'), 6, 'Shopify shows the count');
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Sync health' }).waitFor();
  if (dead.length === 1) await page.getByText('No message is dead').waitFor();
  assert.match(await page.getByRole('region', { name: 'Shopify' }).textContent() ?? '', new RegExp(`Dead letters${dead.length - 1}`));
});

test('a manager reads the month\'s sales by channel and by store on the Reports screen, the same figures the API gives, and downloads them as CSV', { skip }, async (t) => {
  const { harness, baseUrl } = await startConsoleEngine(t);
  await deliverJanesWebOrder(harness, 2);
  const sale = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: { sale_id: 'REPORT-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-WALLET-01', quantity: 2 }] } });
  assert.equal(sale.status, 201, JSON.stringify(sale.body));
  const day = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
  const byChannel = (await harness.request('GET', `/v1/reports/sales?group=channel&from=${day(29)}&to=${day(0)}`)).body.data as { channel: string; orders: number; net_sales_minor: number; total_sales_minor: number }[];
  assert.equal(byChannel.length, 2, 'the web order and the store sale');
  const dollars = (minor: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(minor / 100);
  const page = await openAs(t, baseUrl, 'manager');

  await page.getByRole('link', { name: 'Reports' }).click();
  await page.getByRole('heading', { level: 1, name: 'Reports' }).waitFor();
  const sales = page.getByRole('region', { name: 'Sales' });
  const table = sales.getByRole('table', { name: 'Sales by channel with taxes and payment methods' });
  await table.waitFor();
  for (const row of byChannel) {
    const line = table.getByRole('row', { name: new RegExp(`^${row.channel}`, 'i') });
    const escaped = (minor: number) => dollars(minor).replace(/[$.]/g, '\\$&');
    assert.match(await line.textContent() ?? '', new RegExp(`${row.orders}.*${escaped(row.net_sales_minor)}.*${escaped(row.total_sales_minor)}`), `${row.channel}: orders, net and total sales as the API says`);
  }
  await sales.getByLabel('By', { exact: true }).selectOption('location');
  await sales.getByRole('table', { name: 'Sales by location with taxes and payment methods' }).getByRole('row', { name: new RegExp(harness.demo.store.name) }).waitFor();
  await saveScreenshot(page, '9-reports-by-location');

  const [download] = await Promise.all([page.waitForEvent('download'), sales.getByRole('link', { name: 'Download sales as CSV' }).click()]);
  const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  const [header, ...lines] = csv.trim().split('\n');
  assert.match(header ?? '', /location/, 'the CSV is the table on screen, by location');
  assert.ok(lines.some((line) => line.includes(harness.demo.store.id) || line.includes(harness.demo.store.name)), `the store's row is in the CSV: ${csv}`);
  const customers = (await harness.request('GET', `/v1/reports/customers?from=${day(29)}&to=${day(0)}`)).body.data as { customers_with_orders: number };
  assert.match(await page.getByRole('region', { name: 'Customers across channels' }).textContent() ?? '', new RegExp(`Customers who bought${customers.customers_with_orders}`));
});
