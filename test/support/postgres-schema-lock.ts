import type { DialectName } from '../../src/db/index.ts';
import { openTestDatabase, type TestDatabase } from './databases.ts';
import { startTestEngine, type TestEngine } from './engine-harness.ts';

// The harness itself now creates, migrates and drops PostgreSQL test schemas under an advisory
// lock (see databases.ts), so these are the plain helpers under their older names.

export async function withPostgresSchemaLock<T>(_dialect: DialectName, action: () => Promise<T>): Promise<T> {
  return action();
}

export const startLockedTestEngine = (dialect: DialectName): Promise<TestEngine> => startTestEngine(dialect);
export const openLockedTestDatabase = (dialect: DialectName): Promise<TestDatabase> => openTestDatabase(dialect);
