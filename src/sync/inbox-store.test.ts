import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { storeInboxEvents, type InboundEvent, type StoredInboxEvent } from './inbox.ts';

// `storeInboxEvents` compiles its multi-row insert once per dialect and row count and then binds
// only new values (issue #9, webhook ingest). A value bound to the wrong row or column would store
// one event's body under another's delivery id: these tests read every column back.

function event(index: number, overrides: Partial<InboundEvent> = {}): InboundEvent {
  return {
    merchantId: `mer_store_${index % 2}`, source: index % 3 === 0 ? 'square' : 'shopify', topic: `topic/${index}`, deliveryId: `delivery-${index}`,
    eventKey: index % 2 === 0 ? `topic/${index}:event-${index}` : null, headers: { 'x-index': String(index), 'x-quote': 'a "quoted" value' },
    payload: `{"id":${index},"text":"body of ${index}"}`, triggeredAt: index % 2 === 0 ? `2026-01-0${1 + (index % 9)}T00:00:00.000Z` : null,
    resourceKey: index % 4 === 3 ? null : `shopify:order:${index}`, ...overrides,
  };
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] batches of the same size stored one after another (the compiled insert reused) keep every value in its own row and column, in queue order`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const { db } = database.handle;
    const batches = [[0, 1, 2], [3, 4, 5], [6], [7, 8, 9]].map((indexes) => indexes.map((index) => event(index)));

    const results: StoredInboxEvent[] = [];
    for (const batch of batches) results.push(...(await storeInboxEvents(db, batch)));

    assert.ok(results.every((result) => result.stored), 'ten distinct events are ten new rows');
    const rows = await db.selectFrom('inbox_events').selectAll().orderBy('queue_position').execute();
    assert.equal(rows.length, 10);
    rows.forEach((row, index) => {
      const expected = event(index);
      assert.equal(row.id, results[index]!.id);
      assert.deepEqual(
        [row.merchant_id, row.source, row.topic, row.delivery_id, row.event_key, JSON.parse(row.headers_json), row.payload, row.triggered_at, row.resource_key, row.status, Number(row.attempts), row.error, row.processed_at],
        [expected.merchantId, expected.source, expected.topic, expected.deliveryId, expected.eventKey, expected.headers, expected.payload, expected.triggeredAt, expected.resourceKey, 'received', 0, null, null],
        `row ${index}`,
      );
      assert.equal(Number(row.queue_position), index + 1, 'each event the next position, in the order given');
      assert.equal(row.available_at, row.received_at);
    });
  });

  test(`[${dialect}] a reused compiled insert still dedupes: a batch repeating earlier deliveries stores only its new events and says which`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const { db } = database.handle;
    await storeInboxEvents(db, [event(0), event(1), event(2)]);

    const again = await storeInboxEvents(db, [event(1), event(3), event(0, { deliveryId: 'delivery-0-again' })]);

    assert.deepEqual(again.map((result) => result.stored), [false, true, false], 'a repeated delivery id, a new event, a repeated event key');
    const count = await db.selectFrom('inbox_events').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
    assert.equal(Number(count.count), 4);
  });
}
