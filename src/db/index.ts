export { canSkipLockedRows, openDatabase, type Db, type Tx, type Queryable, type DialectName, type DatabaseHandle } from './database.ts';
export { migrateToLatest } from './migrate.ts';
export type * from './schema.ts';
