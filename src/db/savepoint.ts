import { CompiledQuery } from 'kysely';
import type { Tx } from './database.ts';
import { classifyStorageError } from './storage-errors.ts';
import { forgetKeptReads } from './transaction-memo.ts';

export type SavepointOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

// The three statements of each savepoint name, compiled once: they run around every command that
// shares a transaction (src/db/group-commit.ts, the worker's batches), thousands a second.
const statementsByName = new Map<string, { open: CompiledQuery; release: CompiledQuery; rollback: CompiledQuery }>();

function statementsOf(name: string) {
  let statements = statementsByName.get(name);
  if (!statements) {
    if (!/^[a-z_]+$/.test(name)) throw new Error(`a savepoint name is lowercase letters and underscores (got "${name}")`);
    statements = { open: CompiledQuery.raw(`savepoint ${name}`), release: CompiledQuery.raw(`release savepoint ${name}`), rollback: CompiledQuery.raw(`rollback to savepoint ${name}`) };
    statementsByName.set(name, statements);
  }
  return statements;
}

/**
 * Runs one command of a shared transaction inside its own savepoint: what it wrote stays if it
 * succeeds and is rolled back alone if it fails, the transaction going on with the next. A storage
 * failure (a full disk, a lost connection) is thrown instead: the database may have ended the
 * whole transaction, so the caller fails the whole batch.
 */
export async function inSavepoint<T>(tx: Tx, name: string, command: (tx: Tx) => Promise<T>): Promise<SavepointOutcome<T>> {
  const statements = statementsOf(name);
  await tx.executeQuery(statements.open);
  try {
    const value = await command(tx);
    await tx.executeQuery(statements.release);
    return { ok: true, value };
  } catch (error) {
    if (classifyStorageError(error)) throw error;
    // What the command read after its own writes is gone with them.
    forgetKeptReads(tx);
    await tx.executeQuery(statements.rollback);
    await tx.executeQuery(statements.release);
    return { ok: false, error };
  }
}
