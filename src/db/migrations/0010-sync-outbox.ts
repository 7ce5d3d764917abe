import { type Kysely, sql } from 'kysely';

// The outbound half of the sync engine (issue #7):
// - Each outbox message names the circuit it travels on (`circuit_key`: the destination, or one
//   subscriber of the merchant's webhooks), who claimed it last (`claimed_by`, the lease holder),
//   how often a person replayed it and how many later changes it absorbed while pending.
// - `channel_circuits` holds one circuit breaker per merchant and circuit, shared by every engine
//   process: after consecutive failures the circuit opens until `open_until`, and nothing is
//   attempted on it meanwhile; then one probe is let through (`half_open`).
// - Exceptions get an owner and a last change time, for their lifecycle open → assigned /
//   in_progress → resolved | dismissed (and reopen); the audit log is read by subject for their
//   history. SQLite cannot add a check to an existing table, so the states are checked in code.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('outbox_events').addColumn('circuit_key', 'text', (column) => column.notNull().defaultTo('')).execute();
  await sql`update outbox_events set circuit_key = destination`.execute(db);
  await db.schema.alterTable('outbox_events').addColumn('claimed_by', 'text').execute();
  await db.schema.alterTable('outbox_events').addColumn('replays', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('outbox_events').addColumn('superseded', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  // The lag gauge reads the longest-waiting due message per destination; replay lists a merchant's dead letters.
  await db.schema.createIndex('outbox_events_due_by_destination').on('outbox_events').columns(['status', 'destination', 'next_attempt_at']).execute();
  await db.schema.createIndex('outbox_events_by_merchant_status').on('outbox_events').columns(['merchant_id', 'status', 'destination', 'kind']).execute();

  await db.schema
    .createTable('channel_circuits')
    .addColumn('merchant_id', 'text', (column) => column.notNull())
    .addColumn('circuit_key', 'text', (column) => column.notNull())
    .addColumn('destination', 'text', (column) => column.notNull())
    .addColumn('state', 'text', (column) => column.notNull())
    .addColumn('consecutive_failures', 'integer', (column) => column.notNull())
    .addColumn('trips', 'integer', (column) => column.notNull())
    .addColumn('open_until', 'text')
    .addColumn('opened_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('updated_at', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('channel_circuits_pk', ['merchant_id', 'circuit_key'])
    .addCheckConstraint('channel_circuits_state_known', sql`state in ('closed', 'open', 'half_open')`)
    .addCheckConstraint('channel_circuits_open_until_when_open', sql`(state = 'closed') = (open_until is null)`)
    .addCheckConstraint('channel_circuits_counts_not_negative', sql`consecutive_failures >= 0 and trips >= 0`)
    .execute();

  await db.schema.alterTable('exceptions').addColumn('owner', 'text').execute();
  await db.schema.alterTable('exceptions').addColumn('updated_at', 'text', (column) => column.notNull().defaultTo('')).execute();
  await sql`update exceptions set updated_at = coalesce(resolved_at, created_at)`.execute(db);
  await db.schema.createIndex('exceptions_by_merchant_state').on('exceptions').columns(['merchant_id', 'state', 'created_at']).execute();
  await db.schema.createIndex('exceptions_by_state_kind').on('exceptions').columns(['state', 'kind']).execute();
  await db.schema.createIndex('audit_log_by_subject').on('audit_log').columns(['merchant_id', 'subject', 'created_at']).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropIndex('audit_log_by_subject').execute();
  await db.schema.dropIndex('exceptions_by_state_kind').execute();
  await db.schema.dropIndex('exceptions_by_merchant_state').execute();
  await db.schema.alterTable('exceptions').dropColumn('updated_at').execute();
  await db.schema.alterTable('exceptions').dropColumn('owner').execute();
  await db.schema.dropTable('channel_circuits').execute();
  await db.schema.dropIndex('outbox_events_by_merchant_status').execute();
  await db.schema.dropIndex('outbox_events_due_by_destination').execute();
  for (const column of ['superseded', 'replays', 'claimed_by', 'circuit_key']) await db.schema.alterTable('outbox_events').dropColumn(column).execute();
}
