export { canSkipLockedRows, openDatabase, type Db, type Tx, type Queryable, type DialectName, type DatabaseHandle } from './database.ts';
export { createGroupCommit, groupCommitDefaults, requestGroupCommit, type GroupCommit, type GroupCommitOptions } from './group-commit.ts';
export { migrateToLatest } from './migrate.ts';
export { classifyStorageError, createStorageHealth, toStorageUnavailable, type StorageHealth, type StorageUnavailableReason } from './storage-errors.ts';
export { inSavepoint, type SavepointOutcome } from './savepoint.ts';
export { lockKeysForTransaction } from './transaction-locks.ts';
export { forgetKeptReads, keepReadsForTransaction, keptRead } from './transaction-memo.ts';
export { reuseQuery, type ParameterPlaceholders, type ReusableQuery } from './compiled-query.ts';
export type * from './schema.ts';
