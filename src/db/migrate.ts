import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Db, DialectName } from './database.ts';
import * as foundation from './migrations/0001-foundation.ts';
import * as identity from './migrations/0002-identity.ts';
import * as privacy from './migrations/0003-privacy.ts';
import * as stock from './migrations/0005-stock.ts';
import * as loyalty from './migrations/0006-loyalty.ts';
import * as merchantWebhooks from './migrations/0007-merchant-webhooks.ts';
import * as promotionRules from './migrations/0008-promotion-rules.ts';
import * as returnsAndStoreCredit from './migrations/0009-returns-and-store-credit.ts';
import * as syncOutbox from './migrations/0010-sync-outbox.ts';
import * as inboxOrdering from './migrations/0011-inbox-ordering.ts';
import * as shopifySync from './migrations/0012-shopify-sync.ts';
import * as squareAndOffline from './migrations/0013-square-and-offline.ts';
import * as channelStockTime from './migrations/0014-channel-stock-time.ts';
import * as staffAndRollout from './migrations/0015-staff-and-rollout.ts';
import * as plannerStatistics from './migrations/0016-planner-statistics.ts';
import * as oneStockMovementIndex from './migrations/0017-one-stock-movement-index.ts';
import * as signInFailures from './migrations/0018-sign-in-failures.ts';
import * as syncTimeIndexes from './migrations/0019-sync-time-indexes.ts';
import * as rewardHandovers from './migrations/0020-reward-handovers.ts';
import * as exchangeApplied from './migrations/0021-exchange-applied.ts';
import * as offlineExchanges from './migrations/0022-offline-exchanges.ts';
import * as channelRefundParts from './migrations/0023-channel-refund-parts.ts';
import * as shippingTaxRefunded from './migrations/0024-shipping-tax-refunded.ts';
import * as returnLineRefund from './migrations/0025-return-line-refund.ts';
import * as inboxPayloadLz4 from './migrations/0026-inbox-payload-lz4.ts';
import { describeSchemaToSqlitePlanner } from './planner-statistics.ts';

// Migrations are listed here rather than read from the folder, so they work the same under tsx,
// in tests and from any working directory.
const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-identity': identity,
  '0003-privacy': privacy,
  '0005-stock': stock,
  '0006-loyalty': loyalty,
  '0007-merchant-webhooks': merchantWebhooks,
  '0008-promotion-rules': promotionRules,
  '0009-returns-and-store-credit': returnsAndStoreCredit,
  '0010-sync-outbox': syncOutbox,
  '0011-inbox-ordering': inboxOrdering,
  '0012-shopify-sync': shopifySync,
  '0013-square-and-offline': squareAndOffline,
  '0014-channel-stock-time': channelStockTime,
  '0015-staff-and-rollout': staffAndRollout,
  '0016-planner-statistics': plannerStatistics,
  '0017-one-stock-movement-index': oneStockMovementIndex,
  '0018-sign-in-failures': signInFailures,
  '0019-sync-time-indexes': syncTimeIndexes,
  '0020-reward-handovers': rewardHandovers,
  '0021-exchange-applied': exchangeApplied,
  '0022-offline-exchanges': offlineExchanges,
  '0023-channel-refund-parts': channelRefundParts,
  '0024-shipping-tax-refunded': shippingTaxRefunded,
  '0025-return-line-refund': returnLineRefund,
  '0026-inbox-payload-lz4': inboxPayloadLz4,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/**
 * Brings the schema to the latest migration; returns the names applied by this call.
 * On PostgreSQL the migration tables are kept in the connection's current schema explicitly:
 * without it Kysely looks for them in every schema but reads them from the current one, which
 * fails once a second schema of the same database holds its own.
 */
export async function migrateToLatest(db: Db, dialect: DialectName): Promise<string[]> {
  if (await isUpToDate(db)) return [];
  const migrationTableSchema = dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  // Migrations are independent of each other (each adds its own tables and columns), and several
  // were written side by side: a database that ran a later-numbered one first still takes the rest.
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  const applied = (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName);
  // Indexes a later migration added get their expected shape too (src/db/planner-statistics.ts).
  if (dialect === 'sqlite' && applied.length > 0) await describeSchemaToSqlitePlanner(db);
  return applied;
}

/**
 * True when every migration is already recorded. Checked first because it is one read of our own
 * table, where the migrator would introspect every schema of the database (slow with many, and
 * fragile while another process drops one), on every start of every engine process.
 */
async function isUpToDate(db: Db): Promise<boolean> {
  try {
    const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    const names = new Set(applied.rows.map((row) => row.name));
    return Object.keys(migrations).every((name) => names.has(name));
  } catch {
    return false;
  }
}
