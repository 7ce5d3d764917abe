import type { Queryable } from '../../db/index.ts';
import { assert } from '../../shared/app-error.ts';
import { nowIso } from '../../shared/clock.ts';
import type { OfflineOp, OfflineOpResult } from './types.ts';

// The operations offline registers uploaded, each with its first result (table pos_offline_ops,
// migration 0013). Only applied operations are kept: a failed one wrote nothing, so uploading it
// again (after the catalogue or the order it needed is fixed) tries it again.

export interface LoggedOfflineOp {
  fingerprint: string;
  result: OfflineOpResult;
}

export async function findLoggedOfflineOp(db: Queryable, merchantId: string, registerId: string, opId: string): Promise<LoggedOfflineOp | undefined> {
  const row = await db.selectFrom('pos_offline_ops').select(['fingerprint', 'result_json']).where('merchant_id', '=', merchantId).where('register_id', '=', registerId).where('op_id', '=', opId).executeTakeFirst();
  return row ? { fingerprint: row.fingerprint, result: JSON.parse(row.result_json) as OfflineOpResult } : undefined;
}

/** Keeps an applied operation with its result, in the transaction that applied it. */
export async function logOfflineOp(db: Queryable, merchantId: string, registerId: string, op: OfflineOp, fingerprint: string, result: OfflineOpResult): Promise<void> {
  assert(result.status === 'applied', 'only an applied operation is logged');
  await db.insertInto('pos_offline_ops').values({
    merchant_id: merchantId, register_id: registerId, op_id: op.op_id, kind: op.type, sequence: op.sequence, occurred_at: result.occurred_at, fingerprint,
    result_json: JSON.stringify(result), applied_at: nowIso(),
  }).execute();
}
