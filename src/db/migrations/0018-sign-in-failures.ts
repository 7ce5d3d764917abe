import { type Kysely } from 'kysely';

// Failed console sign-ins counted in the database rather than in each engine process's memory:
// with several engine processes behind a load balancer each counted its own, so an attacker got
// that many times the tries, and a restart forgot them (issue #9, the fault suite's security
// part). One row per email and client address, keyed by the SHA-256 of the pair so neither the
// addresses nor the emails typed are kept; a row lives for the window only. The table belongs to
// no merchant: sign-in does not know the merchant before the password is checked.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema
    .createTable('sign_in_failures')
    .addColumn('key_hash', 'text', (column) => column.primaryKey())
    .addColumn('first_failed_at', 'text', (column) => column.notNull())
    .addColumn('failures', 'integer', (column) => column.notNull())
    .execute();
  // Expired rows are deleted by age.
  await db.schema.createIndex('sign_in_failures_by_age').on('sign_in_failures').column('first_failed_at').execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.dropTable('sign_in_failures').execute();
}
