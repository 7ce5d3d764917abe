export { canSkipLockedRows, openDatabase, type Db, type Tx, type Queryable, type DialectName, type DatabaseHandle } from './database.ts';
export { migrateToLatest } from './migrate.ts';
export { classifyStorageError, createStorageHealth, toStorageUnavailable, type StorageHealth, type StorageUnavailableReason } from './storage-errors.ts';
export type * from './schema.ts';
