import { PostgresAdapter, sql } from 'kysely';
import type { Tx } from './database.ts';

/**
 * Makes transactions that work on the same keys take turns. On PostgreSQL: one transaction-scoped
 * advisory lock per key, held until COMMIT or ROLLBACK, taken in sorted order (in one statement)
 * so that two transactions never wait on each other in a circle. On SQLite: nothing to do, its
 * write transactions already run one at a time.
 * Example: await lockKeysForTransaction(tx, ['customer-identifier|mer_1|email|jane@example.com'])
 */
export async function lockKeysForTransaction(tx: Tx, keys: readonly string[]): Promise<void> {
  if (keys.length === 0 || !(tx.getExecutor().adapter instanceof PostgresAdapter)) return;
  const sorted = [...new Set(keys)].sort();
  await sql`select ${sql.join(sorted.map((key) => sql`pg_advisory_xact_lock(hashtextextended(${key}, 0))`))}`.execute(tx);
}
