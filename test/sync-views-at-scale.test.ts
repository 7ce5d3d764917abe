import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledQuery, type KyselyPlugin, type RootOperationNode } from 'kysely';
import type { Queryable } from '../src/db/index.ts';
import { countInboxByStatus, countOutboxByStatus, listOutboxEvents, pruneSettledSyncRows, readSyncHealth, syncHealthHoursMax } from '../src/sync/index.ts';
import { startTestEngine } from './support/engine-harness.ts';

// The console's sync pages read the inbox and the outbox, which keep every event received and
// message sent. Reading them whole took 8 s for the hour-by-hour view and 2 s for the counts at a
// million rows each on SQLite, with the engine's one event loop held: no webhook was answered
// meanwhile (issue #9). Each read must go through an index to the rows of its window or to what is
// open now. SQLite plans from the figures in sqlite_stat1 that the migrations write (not from the
// rows), so the plans of a small test database are the plans of a large one.

/** Every query a read runs, compiled as the database runs it. */
async function queriesOf(db: Queryable, read: (db: Queryable) => Promise<unknown>): Promise<CompiledQuery[]> {
  const nodes: { node: RootOperationNode; queryId: Parameters<KyselyPlugin['transformQuery']>[0]['queryId'] }[] = [];
  const recorder: KyselyPlugin = {
    transformQuery: (args) => {
      nodes.push(args);
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  await read(db.withPlugin(recorder));
  return nodes.map(({ node, queryId }) => db.getExecutor().compileQuery(node, queryId));
}

test('[sqlite] the sync views and the retention job read the rows of their window or what is open now through an index, never every event of the merchant', async (t) => {
  const harness = await startTestEngine('sqlite');
  t.after(() => harness.dispose());
  const db = harness.engine.database.db;
  const merchantId = harness.demo.merchant.id;
  const now = Date.now();
  const day = { fromIso: new Date(now - 86_400_000).toISOString(), toIso: new Date(now).toISOString() };

  const queries = [
    ...(await queriesOf(db, (recording) => readSyncHealth(recording, merchantId, syncHealthHoursMax))),
    ...(await queriesOf(db, (recording) => countInboxByStatus(recording, merchantId, day))),
    ...(await queriesOf(db, (recording) => countOutboxByStatus(recording, merchantId, day))),
    ...(await queriesOf(db, (recording) => listOutboxEvents(recording, merchantId, { status: 'dead' }))),
    // The retention job picks its batches the same way (src/sync/retention.ts).
    ...(await queriesOf(db, (recording) => pruneSettledSyncRows(recording, 30))),
  ];

  const onEvents = queries.filter((query) => /from "((inbox|outbox)_events|idempotency_keys)"/.test(query.sql));
  assert.ok(onEvents.length >= 13, `the views read the inbox and outbox, the retention job the keys too (${onEvents.length} queries)`);
  for (const query of onEvents) {
    const plan = (await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]))).rows.map((row) => row.detail);
    const reads = plan.filter((step) => /(inbox|outbox)_events|idempotency_keys/.test(step));
    assert.ok(reads.length > 0, `${query.sql}\n${plan.join('\n')}`);
    for (const step of reads) {
      assert.doesNotMatch(step, /^SCAN/, `a whole-table scan:\n${query.sql}\n${plan.join('\n')}`);
      // An index entered by merchant_id alone reads every row the merchant has.
      assert.doesNotMatch(step, /\(merchant_id=\?\)$/, `every row of the merchant:\n${query.sql}\n${plan.join('\n')}`);
    }
  }
});
