import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import pino from 'pino';
import { demoStaff } from '../src/demo/demo-merchant.ts';
import { createEngine, type Engine } from '../src/engine.ts';
import { createMerchant, issueApiKey } from '../src/merchants/index.ts';
import { createTestClock, installClock } from '../src/shared/clock.ts';
import { createStaffUser, hashStaffPassword, signInFailuresMax } from '../src/staff/index.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, testPosKey, type TestEngine } from './support/engine-harness.ts';

// The console's people (issue #8): staff sign in with email and password and get an HttpOnly
// session cookie; the cookie authenticates API calls with the scope of their role (an associate
// pos, a manager admin); a signed-in request that changes something must come from the console's
// own origin (CSRF); failed sign-ins are limited; sessions end on sign-out, after 12 hours, or
// when the person is disabled.

const [manager, associate] = demoStaff;
// The host Fastify's inject sends (`localhost:80`), as a browser on the same site names it.
const sameOrigin = 'http://localhost';

interface Answer {
  status: number;
  body: any;
  headers: Record<string, unknown>;
}

function assertError(response: Answer, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
}

function signIn(harness: TestEngine, email: string, password: string, extra: Record<string, string> = {}): Promise<Answer> {
  return harness.request('POST', '/v1/sessions', { key: '', body: { email, password, ...extra } });
}

/** The `name=value` of the session cookie a sign-in set. */
function cookieOf(response: Answer): string {
  const header = String(response.headers['set-cookie'] ?? '');
  const match = /^(continuum_session=[A-Za-z0-9_-]+);/.exec(header);
  assert.ok(match?.[1], `a session cookie was set: ${header}`);
  return match[1];
}

async function signedIn(harness: TestEngine, person: { email: string; password: string }): Promise<string> {
  const response = await signIn(harness, person.email, person.password);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return cookieOf(response);
}

/** A request as the console sends it: the cookie, no API key, and the console's header on writes. */
function asStaff(harness: TestEngine, cookie: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  return harness.request(method, url, { key: '', ...(options.body !== undefined ? { body: options.body } : {}), headers: { cookie, ...(options.headers ?? { origin: sameOrigin }) } });
}


/** The demo manager and associate signed in, with their ids, and an admin key of another merchant. */
async function managerAndAssociateSignedIn(harness: TestEngine) {
  const db = harness.engine.database.db;
  const managerSignIn = await signIn(harness, manager.email, manager.password);
  const associateSignIn = await signIn(harness, associate.email, associate.password);
  const other = await createMerchant(db, { name: 'Other Goods', currency: 'USD', defaultCountry: 'CA' });
  const otherAdmin = await issueApiKey(db, other.id, { name: 'other admin', scope: 'admin' });
  return {
    db, otherAdmin,
    managerCookie: cookieOf(managerSignIn), managerId: managerSignIn.body.staff.id as string,
    associateCookie: cookieOf(associateSignIn), associateId: associateSignIn.body.staff.id as string,
  };
}
for (const dialect of DIALECTS) {
  test(`[${dialect}] a manager signs in: who she is and an HttpOnly SameSite=Strict cookie of 12 hours; the session answers until she signs out`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;

    const response = await signIn(harness, '  Manager@Demo-Outfitters.example ', manager.password);

    assert.equal(response.status, 201, JSON.stringify(response.body));
    const expected = {
      staff: { id: response.body.staff.id, email: manager.email, name: manager.name, role: 'manager', home_location_id: demo.store.id, home_location_name: demo.store.name },
      merchant: { id: demo.merchant.id, name: 'Demo Outfitters', currency: 'USD' },
    };
    assert.deepEqual({ staff: response.body.staff, merchant: response.body.merchant }, expected, 'the email is matched in any case and spacing');
    assert.match(response.body.staff.id, /^stf_/);
    const setCookie = String(response.headers['set-cookie']);
    assert.match(setCookie, /^continuum_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/, 'not Secure: the request was plain HTTP');
    const cookie = cookieOf(response);
    const token = cookie.split('=')[1]!;
    const sessions = await harness.engine.database.db.selectFrom('staff_sessions').selectAll().execute();
    assert.deepEqual(sessions.map((session) => session.token_hash), [createHash('sha256').update(token).digest('hex')], 'only the token\'s SHA-256 is stored');
    assert.equal(Date.parse(sessions[0]!.expires_at) - Date.parse(sessions[0]!.created_at), 12 * 3_600_000);

    const current = await asStaff(harness, cookie, 'GET', '/v1/sessions/current', { headers: {} });
    assert.equal(current.status, 200);
    assert.deepEqual({ staff: current.body.staff, merchant: current.body.merchant }, expected);
    assert.equal((await asStaff(harness, cookie, 'GET', '/v1/customers/lookup?q=jane', { headers: {} })).status, 200, 'the cookie authenticates the API');

    const signOut = await asStaff(harness, cookie, 'DELETE', '/v1/sessions/current');
    assert.equal(signOut.status, 204);
    assert.equal(String(signOut.headers['set-cookie']), 'continuum_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    assertError(await asStaff(harness, cookie, 'GET', '/v1/sessions/current', { headers: {} }), 401, 'auth.unauthenticated');
    assertError(await asStaff(harness, cookie, 'GET', '/v1/customers/lookup?q=jane', { headers: {} }), 401, 'auth.unauthenticated');
    assertError(await asStaff(harness, cookie, 'DELETE', '/v1/sessions/current'), 401, 'auth.unauthenticated');
    const audit = await harness.engine.database.db.selectFrom('audit_log').select(['actor', 'action']).where('subject', '=', expected.staff.id).orderBy('created_at').orderBy('id').execute();
    assert.deepEqual(audit, [{ actor: `api:staff:${expected.staff.id}`, action: 'staff.sign_in' }, { actor: `api:staff:${expected.staff.id}`, action: 'staff.sign_out' }]);
  });

  test(`[${dialect}] a wrong password and an unknown email get the same 401 auth.invalid_credentials and no cookie; no session is answered without one`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());

    const wrongPassword = await signIn(harness, manager.email, 'not-the-password');
    const unknownEmail = await signIn(harness, 'nobody@demo-outfitters.example', manager.password);
    const someoneElsesPassword = await signIn(harness, associate.email, manager.password);

    for (const response of [wrongPassword, unknownEmail, someoneElsesPassword]) {
      assertError(response, 401, 'auth.invalid_credentials');
      assert.equal(response.headers['set-cookie'], undefined);
    }
    assert.deepEqual(wrongPassword.body, unknownEmail.body, 'the answer does not tell which was wrong');
    assert.equal((await harness.engine.database.db.selectFrom('staff_sessions').selectAll().execute()).length, 0);
    assertError(await harness.request('GET', '/v1/sessions/current', { key: '' }), 401, 'auth.unauthenticated');
    assertError(await harness.request('GET', '/v1/sessions/current', { key: '', headers: { cookie: 'continuum_session=made-up-token-of-the-right-shape' } }), 401, 'auth.unauthenticated');
    const missing = await harness.request('POST', '/v1/sessions', { key: '', body: { email: manager.email } });
    assertError(missing, 400, 'request.invalid');
    assert.match(missing.body.error.message, /body\.password/);
  });

  test(`[${dialect}] ${signInFailuresMax} failed sign-ins for one email from one address: the next is 429 even with the right password, other addresses are not held back, and the window ends`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const fromAddress = (remoteAddress: string, password: string) =>
      harness.engine.server.inject({ method: 'POST', url: '/v1/sessions', remoteAddress, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: associate.email, password }) });

    for (let attempt = 1; attempt <= signInFailuresMax; attempt += 1) assert.equal((await fromAddress('203.0.113.7', `wrong-guess-${attempt}`)).statusCode, 401);
    const limited = await fromAddress('203.0.113.7', associate.password);

    assert.equal(limited.statusCode, 429, limited.body);
    assert.equal(JSON.parse(limited.body).error.code, 'auth.too_many_attempts');
    assert.equal(JSON.parse(limited.body).error.details.field, 'email');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter} s is within the 15-minute window`);
    assert.equal((await fromAddress('198.51.100.4', associate.password)).statusCode, 201, 'another address signs in');
    clock.advance(15 * 60 * 1000);
    const afterWindow = await fromAddress('203.0.113.7', associate.password);
    assert.equal(afterWindow.statusCode, 201, afterWindow.body);
  });

  test(`[${dialect}] failed sign-ins are counted across engines sharing the database and survive a restart; only the pair's hash is kept`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const second = await createEngine({ databaseUrl: harness.databaseLocation.url, ...(harness.databaseLocation.postgresSchema ? { postgresSchema: harness.databaseLocation.postgresSchema } : {}), logger: pino({ level: 'silent' }), startWorker: false });
    let secondOpen = true;
    t.after(async () => { if (secondOpen) await second.close(); });
    const at = (engine: Engine, password: string) =>
      engine.server.inject({ method: 'POST', url: '/v1/sessions', remoteAddress: '203.0.113.9', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: associate.email, password }) });

    // Half the guesses at each engine, as a load balancer spreads them.
    for (let attempt = 1; attempt <= signInFailuresMax; attempt += 1) {
      assert.equal((await at(attempt % 2 === 0 ? harness.engine : second, `wrong-guess-${attempt}`)).statusCode, 401);
    }
    assert.equal((await at(harness.engine, associate.password)).statusCode, 429, 'held back at the first engine');
    assert.equal((await at(second, associate.password)).statusCode, 429, 'and at the second');

    // A restart of the second engine forgets nothing.
    await second.close();
    secondOpen = false;
    const restarted = await createEngine({ databaseUrl: harness.databaseLocation.url, ...(harness.databaseLocation.postgresSchema ? { postgresSchema: harness.databaseLocation.postgresSchema } : {}), logger: pino({ level: 'silent' }), startWorker: false });
    t.after(() => restarted.close());
    assert.equal((await at(restarted, associate.password)).statusCode, 429, 'held back after a restart');

    const rows = await harness.engine.database.db.selectFrom('sign_in_failures').selectAll().execute();
    assert.deepEqual(rows.map((row) => [row.key_hash, row.failures]), [[createHash('sha256').update(`${associate.email}|203.0.113.9`).digest('hex'), signInFailuresMax]], 'one row: the SHA-256 of the email and address, never either');
  });

  test(`[${dialect}] an associate's session has scope pos: register work and reads, but 403 on admin routes; a manager's has admin, and the audit names her`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;
    const associateCookie = await signedIn(harness, associate);
    const managerCookie = await signedIn(harness, manager);
    const newStaff = { email: 'sam@demo-outfitters.example', name: 'Sam', role: 'associate', home_location_id: demo.store.id, password: 'a-long-password' };

    const sale = await asStaff(harness, associateCookie, 'POST', '/v1/pos/sales', { body: { sale_id: 'A-1', location_id: demo.store.id, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] } });
    assert.equal(sale.status, 201, JSON.stringify(sale.body));
    assert.equal((await asStaff(harness, associateCookie, 'GET', `/v1/orders/${sale.body.data.order.id}`, { headers: {} })).status, 200);
    const forbidden = [
      await asStaff(harness, associateCookie, 'POST', '/v1/staff', { body: newStaff }),
      await asStaff(harness, associateCookie, 'GET', '/v1/staff', { headers: {} }),
      await asStaff(harness, associateCookie, 'PATCH', `/v1/locations/${demo.store.id}/workflows`, { body: { pickup: false } }),
      await asStaff(harness, associateCookie, 'POST', '/v1/inventory/adjust', { body: { location_id: demo.store.id, sku: 'SKU-BEANIE-01', quantity: 1, reason: 'found one' } }),
    ];
    for (const response of forbidden) {
      assertError(response, 403, 'auth.forbidden');
      assert.deepEqual({ required: response.body.error.details.required_scope, role: response.body.error.details.role }, { required: 'admin', role: 'associate' });
    }
    const override = await asStaff(harness, associateCookie, 'POST', '/v1/returns', { body: { order_id: sale.body.data.order.id, location_id: demo.store.id, override: true, lines: [{ order_line_id: sale.body.data.order.lines[0].id, quantity: 1 }] } });
    assertError(override, 403, 'returns.manager_required');

    const created = await asStaff(harness, managerCookie, 'POST', '/v1/staff', { body: newStaff });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const adjusted = await asStaff(harness, managerCookie, 'POST', '/v1/inventory/adjust', { body: { location_id: demo.store.id, sku: 'SKU-BEANIE-01', quantity: 1, reason: 'found one' } });
    assert.equal(adjusted.status, 200, JSON.stringify(adjusted.body));
    const managerId = (await asStaff(harness, managerCookie, 'GET', '/v1/sessions/current', { headers: {} })).body.staff.id;
    const movements = (await asStaff(harness, managerCookie, 'GET', `/v1/inventory/movements?sku=SKU-BEANIE-01&location_id=${demo.store.id}`, { headers: {} })).body.data;
    assert.equal(movements.at(-1).actor, `api:staff:${managerId}`, 'the stock movement names the manager');
    const audit = await harness.engine.database.db.selectFrom('audit_log').select(['actor', 'details_json']).where('action', '=', 'staff.create').executeTakeFirstOrThrow();
    assert.equal(audit.actor, `api:staff:${managerId}`);
    assert.ok(!audit.details_json.includes(newStaff.password), 'the password is not in the audit log');
  });

  test(`[${dialect}] a signed-in change without the console's origin is refused 403 auth.csrf_rejected and writes nothing; the same origin, or X-Requested-With, passes; reads need neither`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;
    const cookie = await signedIn(harness, associate);
    const sale = (saleId: string) => ({ sale_id: saleId, location_id: demo.store.id, lines: [{ sku: 'SKU-BEANIE-01', quantity: 1 }] });
    const orders = async () => (await harness.engine.database.db.selectFrom('orders').select('id').execute()).length;

    const refusals = [
      await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-1'), headers: {} }),
      await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-2'), headers: { origin: 'https://evil.example' } }),
      await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-3'), headers: { origin: 'http://localhost.evil.example' } }),
      await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-4'), headers: { origin: 'null', 'x-requested-with': 'continuum-console' } }),
      await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-5'), headers: { 'x-requested-with': 'XMLHttpRequest' } }),
      await asStaff(harness, cookie, 'DELETE', '/v1/sessions/current', { headers: { origin: 'https://evil.example' } }),
    ];

    for (const response of refusals) {
      assertError(response, 403, 'auth.csrf_rejected');
      assert.equal(response.body.error.details.header, 'Origin');
    }
    assert.equal(await orders(), 0, 'nothing was written');
    assert.equal((await asStaff(harness, cookie, 'GET', '/v1/sessions/current', { headers: {} })).status, 200, 'the refused sign-out left the session open');
    assert.equal((await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-6'), headers: { origin: sameOrigin } })).status, 201);
    assert.equal((await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-7'), headers: { origin: 'http://localhost:80' } })).status, 201, 'a default port written out is the same origin');
    assert.equal((await asStaff(harness, cookie, 'POST', '/v1/pos/sales', { body: sale('C-8'), headers: { 'x-requested-with': 'continuum-console' } })).status, 201);
    assert.equal((await asStaff(harness, cookie, 'GET', '/v1/inventory?sku=SKU-BEANIE-01', { headers: {} })).status, 200);
    assert.equal(await orders(), 3);
    const withKey = await harness.request('POST', '/v1/pos/sales', { key: testPosKey, body: sale('C-9'), headers: { cookie, origin: 'https://evil.example' } });
    assert.equal(withKey.status, 201, 'an API key is no cookie: it is not checked for origin');
  });

  test(`[${dialect}] adding staff: an admin key adds a person (never showing the hash), the email kept lowercase; a duplicate, a short password, an unknown store are refused naming the field`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { demo } = harness;
    const body = { email: 'Riley.Park@Demo-Outfitters.example', name: 'Riley Park', role: 'associate', home_location_id: demo.warehouse.id, password: 'riley-password-1' };
    const count = async () => (await harness.engine.database.db.selectFrom('staff_users').select('id').execute()).length;

    const created = await harness.request('POST', '/v1/staff', { body });

    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.data, { id: created.body.data.id, email: 'riley.park@demo-outfitters.example', name: 'Riley Park', role: 'associate', home_location_id: demo.warehouse.id, home_location_name: demo.warehouse.name, created_at: created.body.data.created_at, disabled_at: null });
    const stored = await harness.engine.database.db.selectFrom('staff_users').select('password_hash').where('id', '=', created.body.data.id).executeTakeFirstOrThrow();
    assert.match(stored.password_hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{86}$/);
    assert.ok(!JSON.stringify(created.body).includes('scrypt'));
    const listed = await harness.request('GET', '/v1/staff');
    assert.deepEqual(listed.body.data.map((person: { name: string }) => person.name), ['Alex Chen', 'Morgan Lee', 'Riley Park'], 'by name');
    assert.ok(!JSON.stringify(listed.body).includes('scrypt'));
    assert.equal((await signIn(harness, 'riley.park@demo-outfitters.example', 'riley-password-1')).status, 201);
    const before = await count();

    const duplicate = await harness.request('POST', '/v1/staff', { body: { ...body, email: 'RILEY.PARK@demo-outfitters.example' } });
    assertError(duplicate, 409, 'staff.duplicate_email');
    assert.equal(duplicate.body.error.details.field, 'email');
    const short = await harness.request('POST', '/v1/staff', { body: { ...body, email: 'short@demo-outfitters.example', password: 'nine-char' } });
    assertError(short, 400, 'request.invalid');
    assert.deepEqual(short.body.error.details.issues.map((issue: { field: string; rule: string }) => [issue.field, issue.rule]), [['body.password', 'too_small']]);
    const unknownStore = await harness.request('POST', '/v1/staff', { body: { ...body, email: 'lost@demo-outfitters.example', home_location_id: 'loc_missing' } });
    assertError(unknownStore, 422, 'staff.unknown_home_location');
    assert.equal(unknownStore.body.error.details.field, 'home_location_id');
    assertError(await harness.request('POST', '/v1/staff', { body: { ...body, email: 'role@demo-outfitters.example', role: 'owner' } }), 400, 'request.invalid');
    assertError(await harness.request('POST', '/v1/staff', { body: { ...body, email: 'not-an-email' } }), 400, 'request.invalid');
    assertError(await harness.request('POST', '/v1/staff', { key: testPosKey, body: { ...body, email: 'pos@demo-outfitters.example' } }), 403, 'auth.forbidden');
    assert.equal(await count(), before, 'nothing was written');
  });

  test(`[${dialect}] one email at two merchants: the password decides, and where it is right at both the merchant must be named`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const db = harness.engine.database.db;
    const other = await createMerchant(db, { name: 'Other Goods', currency: 'CAD', defaultCountry: 'CA' });
    await createStaffUser(db, other.id, { email: manager.email, name: 'Morgan at Other', role: 'associate', homeLocationId: null, passwordHash: await hashStaffPassword(manager.password) });

    const ambiguous = await signIn(harness, manager.email, manager.password);
    assertError(ambiguous, 409, 'auth.merchant_required');
    assert.equal(ambiguous.body.error.details.field, 'merchant_id');
    assert.deepEqual(new Set(ambiguous.body.error.details.merchants.map((merchant: { name: string }) => merchant.name)), new Set(['Demo Outfitters', 'Other Goods']));
    assert.equal(ambiguous.headers['set-cookie'], undefined);

    const atOther = await signIn(harness, manager.email, manager.password, { merchant_id: other.id });
    assert.equal(atOther.status, 201, JSON.stringify(atOther.body));
    assert.deepEqual(atOther.body.merchant, { id: other.id, name: 'Other Goods', currency: 'CAD' });
    assert.deepEqual([atOther.body.staff.role, atOther.body.staff.home_location_id, atOther.body.staff.home_location_name], ['associate', null, null]);
    const otherCookie = cookieOf(atOther);
    const demoLocations = await asStaff(harness, otherCookie, 'GET', '/v1/locations', { headers: {} });
    assert.deepEqual(demoLocations.body.data, [], 'the session sees only its own merchant');

    await db.updateTable('staff_users').set({ password_hash: await hashStaffPassword('another-password') }).where('merchant_id', '=', other.id).execute();
    const one = await signIn(harness, manager.email, manager.password);
    assert.equal(one.status, 201, 'right at one merchant only: no need to name it');
    assert.equal(one.body.merchant.name, 'Demo Outfitters');
  });

  test(`[${dialect}] a session ends 12 hours after sign-in, and at once when its person is disabled`, async (t) => {
    const clock = createTestClock();
    t.after(installClock(clock));
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const managerCookie = await signedIn(harness, manager);
    const associateCookie = await signedIn(harness, associate);

    clock.advance(11 * 3_600_000 + 59 * 60_000);
    assert.equal((await asStaff(harness, managerCookie, 'GET', '/v1/locations', { headers: {} })).status, 200, 'still open before 12 hours');
    await harness.engine.database.db.updateTable('staff_users').set({ disabled_at: new Date(clock.nowMs()).toISOString() }).where('email', '=', associate.email).execute();
    assertError(await asStaff(harness, associateCookie, 'GET', '/v1/locations', { headers: {} }), 401, 'auth.unauthenticated');
    assertError(await signIn(harness, associate.email, associate.password), 401, 'auth.invalid_credentials');
    clock.advance(60_000);
    assertError(await asStaff(harness, managerCookie, 'GET', '/v1/locations', { headers: {} }), 401, 'auth.unauthenticated');
    assertError(await asStaff(harness, managerCookie, 'GET', '/v1/sessions/current', { headers: {} }), 401, 'auth.unauthenticated');
  });

  test(`[${dialect}] a manager disables a person who left: her next request is 401, she cannot sign in, it is audited under the manager; herself 409, another merchant's staff 404, an associate 403`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { db, managerCookie, managerId, associateCookie, associateId, otherAdmin } = await managerAndAssociateSignedIn(harness);
    const secondAssociateCookie = await signedIn(harness, associate);
    const audits = async () => db.selectFrom('audit_log').select(['actor', 'action', 'subject', 'details_json']).where('action', '=', 'staff.disable').execute();

    assertError(await asStaff(harness, associateCookie, 'POST', `/v1/staff/${managerId}/disable`), 403, 'auth.forbidden');
    const herself = await asStaff(harness, managerCookie, 'POST', `/v1/staff/${managerId}/disable`);
    assertError(herself, 409, 'staff.disable_self_conflict');
    assertError(await harness.request('POST', `/v1/staff/${associateId}/disable`, { key: otherAdmin.key }), 404, 'staff.not_found');
    assertError(await asStaff(harness, managerCookie, 'POST', '/v1/staff/stf_never_existed/disable'), 404, 'staff.not_found');
    assert.deepEqual(await audits(), [], 'the refusals wrote nothing');
    assert.equal((await asStaff(harness, associateCookie, 'GET', '/v1/sessions/current', { headers: {} })).status, 200, 'the refusals disabled no one');

    const disabled = await asStaff(harness, managerCookie, 'POST', `/v1/staff/${associateId}/disable`);

    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(disabled.body.data.id, associateId);
    assert.ok(Date.parse(disabled.body.data.disabled_at) > 0, 'disabled_at is a time');
    for (const cookie of [associateCookie, secondAssociateCookie]) {
      assertError(await asStaff(harness, cookie, 'GET', '/v1/sessions/current', { headers: {} }), 401, 'auth.unauthenticated');
      assertError(await asStaff(harness, cookie, 'GET', '/v1/customers/lookup?q=jane', { headers: {} }), 401, 'auth.unauthenticated');
    }
    const sessions = await db.selectFrom('staff_sessions').select('revoked_at').where('staff_id', '=', associateId).execute();
    assert.ok(sessions.length === 2 && sessions.every((session) => session.revoked_at !== null), 'both of her sessions were ended');
    assertError(await signIn(harness, associate.email, associate.password), 401, 'auth.invalid_credentials');
    assert.equal((await asStaff(harness, managerCookie, 'GET', '/v1/sessions/current', { headers: {} })).status, 200, 'the manager is still signed in');
    const listed = (await asStaff(harness, managerCookie, 'GET', '/v1/staff', { headers: {} })).body.data.find((person: { id: string }) => person.id === associateId);
    assert.equal(listed.disabled_at, disabled.body.data.disabled_at);
    const again = await harness.request('POST', `/v1/staff/${associateId}/disable`);
    assert.equal(again.status, 200);
    assert.equal(again.body.data.disabled_at, disabled.body.data.disabled_at, 'disabling her again keeps the first time');
    const audit = await audits();
    assert.deepEqual(audit.map((entry) => [entry.actor, entry.subject]), [[`api:staff:${managerId}`, associateId]], 'audited once, under the manager');
    assert.deepEqual(JSON.parse(audit[0]!.details_json), { email: associate.email, sessions_ended: 2 });
  });

  test(`[${dialect}] a manager lets a person who came back sign in again, renames her and moves her store: each audited with what was and what is; an unknown store 422, an empty change 400, another merchant's staff 404, an associate 403`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { db, managerCookie, managerId, associateCookie, associateId, otherAdmin } = await managerAndAssociateSignedIn(harness);
    const { demo } = harness;
    const audits = async (action: string) => db.selectFrom('audit_log').select(['actor', 'subject', 'details_json']).where('action', '=', action).execute();

    assert.equal((await asStaff(harness, managerCookie, 'POST', `/v1/staff/${associateId}/disable`)).status, 200);
    assertError(await asStaff(harness, associateCookie, 'POST', `/v1/staff/${associateId}/enable`), 401, 'auth.unauthenticated');
    assertError(await harness.request('POST', `/v1/staff/${associateId}/enable`, { key: otherAdmin.key }), 404, 'staff.not_found');
    assertError(await signIn(harness, associate.email, associate.password), 401, 'auth.invalid_credentials');

    const enabled = await asStaff(harness, managerCookie, 'POST', `/v1/staff/${associateId}/enable`);
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    assert.equal(enabled.body.data.disabled_at, null);
    assertError(await asStaff(harness, associateCookie, 'GET', '/v1/sessions/current', { headers: {} }), 401, 'auth.unauthenticated');
    const back = await signedIn(harness, associate);
    assert.equal((await asStaff(harness, back, 'GET', '/v1/sessions/current', { headers: {} })).status, 200, 'she signs in anew');
    assert.equal((await asStaff(harness, managerCookie, 'POST', `/v1/staff/${associateId}/enable`)).status, 200, 'enabling her again changes nothing');
    assert.deepEqual((await audits('staff.enable')).map((entry) => [entry.actor, entry.subject]), [[`api:staff:${managerId}`, associateId]], 'audited once, under the manager');

    assertError(await asStaff(harness, back, 'PATCH', `/v1/staff/${associateId}`, { body: { name: 'Someone Else' } }), 403, 'auth.forbidden');
    assertError(await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: {} }), 400, 'request.invalid');
    const unknownRole = await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: { role: 'owner' } });
    assertError(unknownRole, 400, 'request.invalid');
    assert.match(JSON.stringify(unknownRole.body.error.details), /role/);
    assertError(await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: { email: 'someone@example.com' } }), 400, 'request.invalid');
    const unknownStore = await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: { name: 'Riley Park', home_location_id: 'loc_never_existed' } });
    assertError(unknownStore, 422, 'staff.unknown_home_location');
    assert.equal(unknownStore.body.error.details.field, 'home_location_id');
    assertError(await harness.request('PATCH', `/v1/staff/${associateId}`, { key: otherAdmin.key, body: { name: 'Riley Park' } }), 404, 'staff.not_found');
    assert.deepEqual(await audits('staff.update'), [], 'the refusals changed nothing');

    const before = (await asStaff(harness, managerCookie, 'GET', '/v1/staff', { headers: {} })).body.data.find((person: { id: string }) => person.id === associateId);
    const renamed = await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: { name: '  Riley Park  ', home_location_id: demo.warehouse.id } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.deepEqual([renamed.body.data.name, renamed.body.data.home_location_id, renamed.body.data.home_location_name, renamed.body.data.role, renamed.body.data.email], ['Riley Park', demo.warehouse.id, demo.warehouse.name, before.role, before.email]);
    const listed = (await asStaff(harness, managerCookie, 'GET', '/v1/staff', { headers: {} })).body.data.find((person: { id: string }) => person.id === associateId);
    assert.equal(listed.name, 'Riley Park');
    const updates = await audits('staff.update');
    assert.deepEqual(updates.map((entry) => [entry.actor, entry.subject]), [[`api:staff:${managerId}`, associateId]]);
    assert.deepEqual(JSON.parse(updates[0]!.details_json), { name: [before.name, 'Riley Park'], home_location_id: [before.home_location_id, demo.warehouse.id] });
    assert.equal((await asStaff(harness, back, 'GET', '/v1/sessions/current', { headers: {} })).status, 200, 'her session goes on');
  });

  test(`[${dialect}] a manager makes an associate a manager and back: her open session's scope follows at once, each change audited with what was and what is; her own role 409, another merchant's staff 404`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { db, managerCookie, managerId, associateCookie, associateId, otherAdmin } = await managerAndAssociateSignedIn(harness);
    const audits = async () => (await db.selectFrom('audit_log').select(['actor', 'subject', 'details_json']).where('action', '=', 'staff.update').execute())
      .map((entry) => ({ actor: entry.actor, subject: entry.subject, details: JSON.parse(entry.details_json) }))
      .sort((a, b) => JSON.stringify(a.details).localeCompare(JSON.stringify(b.details)));
    const listStaff = (cookie: string) => asStaff(harness, cookie, 'GET', '/v1/staff', { headers: {} });

    assertError(await listStaff(associateCookie), 403, 'auth.forbidden');
    const ownRole = await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${managerId}`, { body: { role: 'associate' } });
    assertError(ownRole, 409, 'staff.role_self_conflict');
    assertError(await harness.request('PATCH', `/v1/staff/${associateId}`, { key: otherAdmin.key, body: { role: 'manager' } }), 404, 'staff.not_found');
    assert.deepEqual(await audits(), [], 'the refusals changed nothing');

    const promoted = await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: { role: 'manager' } });
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.equal(promoted.body.data.role, 'manager');
    assert.equal((await listStaff(associateCookie)).status, 200, 'her open session now has the admin scope');
    assert.equal((await asStaff(harness, associateCookie, 'GET', '/v1/sessions/current', { headers: {} })).body.staff.role, 'manager');
    assert.equal((await asStaff(harness, managerCookie, 'PATCH', `/v1/staff/${associateId}`, { body: { role: 'manager' } })).status, 200, 'the same role again changes nothing');

    const demoted = await asStaff(harness, associateCookie, 'PATCH', `/v1/staff/${managerId}`, { body: { role: 'associate' } });
    assert.equal(demoted.status, 200, 'the new manager can change another manager\'s role');
    assertError(await listStaff(managerCookie), 403, 'auth.forbidden');
    assert.deepEqual(await audits(), [
      { actor: `api:staff:${managerId}`, subject: associateId, details: { role: ['associate', 'manager'] } },
      { actor: `api:staff:${associateId}`, subject: managerId, details: { role: ['manager', 'associate'] } },
    ]);
  });

  test(`[${dialect}] a manager sets a new password: the policy of creation applies, the person's other sessions end, the old password stops and the new one signs in; another merchant's staff 404`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { db, managerCookie, managerId, associateCookie, associateId, otherAdmin } = await managerAndAssociateSignedIn(harness);
    const managerOtherCookie = await signedIn(harness, manager);
    const hashOf = async (id: string) => (await db.selectFrom('staff_users').select('password_hash').where('id', '=', id).executeTakeFirstOrThrow()).password_hash;
    const associateHash = await hashOf(associateId);

    const short = await asStaff(harness, managerCookie, 'POST', `/v1/staff/${associateId}/password`, { body: { password: 'nine-char' } });
    assertError(short, 400, 'request.invalid');
    assert.deepEqual(short.body.error.details.issues.map((issue: { field: string; rule: string }) => [issue.field, issue.rule]), [['body.password', 'too_small']]);
    assertError(await harness.request('POST', `/v1/staff/${associateId}/password`, { key: otherAdmin.key, body: { password: 'a-new-long-password' } }), 404, 'staff.not_found');
    assertError(await harness.request('POST', `/v1/staff/${associateId}/password`, { key: testPosKey, body: { password: 'a-new-long-password' } }), 403, 'auth.forbidden');
    assert.equal(await hashOf(associateId), associateHash, 'the refusals changed nothing');
    assert.equal((await asStaff(harness, associateCookie, 'GET', '/v1/sessions/current', { headers: {} })).status, 200);

    const changed = await asStaff(harness, managerCookie, 'POST', `/v1/staff/${associateId}/password`, { body: { password: 'a-new-long-password' } });

    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.data.id, associateId);
    assert.ok(!JSON.stringify(changed.body).includes('scrypt'), 'the hash is never shown');
    assertError(await asStaff(harness, associateCookie, 'GET', '/v1/sessions/current', { headers: {} }), 401, 'auth.unauthenticated');
    assertError(await signIn(harness, associate.email, associate.password), 401, 'auth.invalid_credentials');
    assert.equal((await signIn(harness, associate.email, 'a-new-long-password')).status, 201);

    const own = await asStaff(harness, managerCookie, 'POST', `/v1/staff/${managerId}/password`, { body: { password: 'the-managers-new-password' } });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal((await asStaff(harness, managerCookie, 'GET', '/v1/sessions/current', { headers: {} })).status, 200, 'she stays signed in where she set it');
    assertError(await asStaff(harness, managerOtherCookie, 'GET', '/v1/sessions/current', { headers: {} }), 401, 'auth.unauthenticated');
    const audit = await db.selectFrom('audit_log').select(['actor', 'subject', 'details_json']).where('action', '=', 'staff.password_set').orderBy('created_at').orderBy('id').execute();
    assert.deepEqual(audit.map((entry) => [entry.actor, entry.subject, JSON.parse(entry.details_json)]), [
      [`api:staff:${managerId}`, associateId, { sessions_ended: 1 }],
      [`api:staff:${managerId}`, managerId, { sessions_ended: 1 }],
    ]);
    assert.ok(audit.every((entry) => !entry.details_json.includes('password-')), 'no password in the audit log');
  });
}
