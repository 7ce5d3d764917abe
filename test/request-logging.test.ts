import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine } from './support/engine-harness.ts';

// The engine's access log at its default level (info): one line a request naming the route's
// pattern, the status and the time, and nothing a shopper typed. A register's search carries her
// email or phone in the query string, and logs are not reached by a privacy redaction, so the
// URL itself is never written. Stored webhooks go to debug: the inbox and /metrics have them.

interface LogLine {
  level: number;
  msg: string;
  method?: string;
  route?: string;
  status?: number;
  ms?: number;
}

const info = 30;

for (const dialect of DIALECTS) {
  test(`[${dialect}] one access line a request with the route's pattern, status and time; a shopper's email or phone searched for is never logged`, async (t) => {
    const written: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void written.push(line) });
    const harness = await startTestEngine(dialect, { logger });
    t.after(() => harness.dispose());
    const created = await harness.request('POST', '/v1/customers', { body: { email: 'Jane.Private@example.com', phone: '613 555 0177', first_name: 'Jane' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    written.length = 0;

    assert.equal((await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent('jane.private@example.com')}`)).status, 200);
    assert.equal((await harness.request('GET', `/v1/customers/lookup?q=${encodeURIComponent('(613) 555-0177')}`)).status, 200);
    assert.equal((await harness.request('GET', `/v1/customers/${created.body.data.id}`)).status, 200);
    assert.equal((await harness.request('GET', '/v1/customers/lookup?q=x', { key: 'ck_not_a_key' })).status, 401);
    assert.equal((await harness.deliverShopifyFixture('shopify/customers-create.json')).status, 200);

    const everything = written.join('\n');
    for (const typed of ['jane.private', 'Jane.Private', '555-0177', '5550177', '555 0177', created.body.data.id]) assert.ok(!everything.includes(typed), `the logs hold no "${typed}"`);
    const lines = written.map((line) => JSON.parse(line) as LogLine).filter((line) => line.msg === 'request');
    assert.deepEqual(lines.map((line) => [line.level, line.method, line.route, line.status]), [
      [info, 'GET', '/v1/customers/lookup', 200],
      [info, 'GET', '/v1/customers/lookup', 200],
      [info, 'GET', '/v1/customers/:id', 200],
      [info, 'GET', '/v1/customers/lookup', 401],
    ], 'one line each, the stored webhook not at info');
    assert.ok(lines.every((line) => typeof line.ms === 'number' && line.ms >= 0), 'each says how long it took');
  });
}
