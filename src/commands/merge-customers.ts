import { foldProfileInto, unfoldProfile, type MovedProfileRecords } from '../customers/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import { getLoyaltyBalance, getStoreCredit, listLots, transferLoyalty, transferStoreCredit } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { reassignCustomerOrders } from '../orders/index.ts';
import { reassignPromotionRedemptions } from '../promotions/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { activeExceptionStates, emitMerchantEvent, writeAudit } from '../sync/index.ts';
import { announceCustomerChange } from './announce-changes.ts';

interface MergeRecord extends MovedProfileRecords {
  orderIds: string[];
  /** Online reward codes of the merged profile (optional in records made before they moved). */
  rewardCodeIds?: string[];
  /** Rewards offline registers handed over to the merged profile without a sale (optional in records made before they were kept). */
  rewardHandoverIds?: string[];
  loyalty: { points: number; lifetimeEarned: number; lotIds: string[] };
  /** Store credit of the merged profile (optional in records made before credit existed). */
  storeCreditMinor?: number;
}

export interface MergeResult {
  mergeId: string;
  survivorId: string;
  mergedId: string;
}

/** Closes the open "possible duplicate" cases of this pair with how they were settled. */
async function settleDuplicateCases(tx: Tx, merchantId: string, customerIds: [string, string], resolution: string): Promise<void> {
  const pair = [...customerIds].sort().join(':');
  await tx.updateTable('exceptions').set({ state: 'resolved', resolution, resolved_at: nowIso(), updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('dedupe_key', '=', `duplicate:${pair}`).where('state', 'in', activeExceptionStates).execute();
}

/**
 * Merges one profile into another in one transaction: identifiers, addresses, consent, orders,
 * promotion uses, reward codes and rewards handed over move to the survivor; the loyalty balance moves by ledger entries with its lots;
 * the merged profile stays, marked merged, so its loyalty code still finds the survivor. Records
 * everything needed to undo it, and tells the channels about the survivor.
 */
export async function mergeCustomers(tx: Tx, merchant: Merchant, input: { survivorId: string; mergedId: string; actor: string; reason: string }): Promise<MergeResult> {
  const mergeId = newId('mrg');
  const moved = await foldProfileInto(tx, merchant.id, input.mergedId, input.survivorId);
  const orderIds = await reassignCustomerOrders(tx, merchant.id, input.mergedId, input.survivorId);
  await reassignPromotionRedemptions(tx, merchant.id, input.mergedId, input.survivorId, orderIds);
  const rewardCodeIds = await moveOwnedRows(tx, 'reward_codes', merchant.id, input.mergedId, input.survivorId);
  const rewardHandoverIds = await moveOwnedRows(tx, 'reward_handovers', merchant.id, input.mergedId, input.survivorId);
  const baseTier = merchant.settings.loyalty.baseTier;
  const balance = await getLoyaltyBalance(tx, merchant.id, input.mergedId, baseTier);
  const lotIds = (await listLots(tx, merchant.id, input.mergedId)).map((lot) => lot.id);
  const loyalty = { points: balance.available, lifetimeEarned: balance.lifetimeEarned, lotIds };
  await transferLoyalty(tx, merchant.id, baseTier, { fromCustomerId: input.mergedId, toCustomerId: input.survivorId, kind: 'merge', idempotencyKey: `merge:${mergeId}`, ...loyalty });
  const storeCreditMinor = (await getStoreCredit(tx, merchant.id, input.mergedId, merchant.currency)).balanceMinor;
  await transferStoreCredit(tx, merchant.id, { fromCustomerId: input.mergedId, toCustomerId: input.survivorId, kind: 'merge', idempotencyKey: `merge:${mergeId}:credit`, currency: merchant.currency, amountMinor: storeCreditMinor });

  const record: MergeRecord = { ...moved, orderIds, rewardCodeIds, rewardHandoverIds, loyalty, storeCreditMinor };
  await tx.insertInto('customer_merges').values({ merchant_id: merchant.id, id: mergeId, survivor_id: input.survivorId, merged_id: input.mergedId, state: 'merged', moved_json: JSON.stringify(record), reason: input.reason, actor: input.actor, created_at: nowIso(), unmerged_at: null }).execute();
  await settleDuplicateCases(tx, merchant.id, [input.survivorId, input.mergedId], `merged (${mergeId})`);
  await writeAudit(tx, merchant.id, { actor: input.actor, action: 'customers.merge', subject: input.survivorId, details: { merge_id: mergeId, merged_id: input.mergedId, reason: input.reason, orders: orderIds.length, points: loyalty.points } });
  await emitMerchantEvent(tx, merchant.id, 'customer.merged', { merge_id: mergeId, survivor_id: input.survivorId, merged_id: input.mergedId, reason: input.reason });
  await announceCustomerChange(tx, merchant.id, input.survivorId);
  return { mergeId, survivorId: input.survivorId, mergedId: input.mergedId };
}

/** Undoes a merge exactly: both profiles get back their own identifiers, orders, lots and balance. */
export async function unmergeCustomers(tx: Tx, merchant: Merchant, input: { mergeId: string; actor: string }): Promise<MergeResult> {
  const merge = await tx.selectFrom('customer_merges').selectAll().where('merchant_id', '=', merchant.id).where('id', '=', input.mergeId).executeTakeFirst();
  if (!merge) throw new AppError('customers.merge_not_found', `No merge ${input.mergeId}`, { merge_id: input.mergeId });
  if (merge.state !== 'merged') throw new AppError('customers.merge_conflict', `Merge ${input.mergeId} was already undone`, { merge_id: input.mergeId });
  const later = await tx.selectFrom('customer_merges').select('id').where('merchant_id', '=', merchant.id).where('merged_id', '=', merge.survivor_id).where('state', '=', 'merged').executeTakeFirst();
  if (later) throw new AppError('customers.merge_conflict', `The survivor was itself merged later (${later.id}); undo that first`, { merge_id: later.id });
  const states = await tx.selectFrom('customers').select(['id', 'state']).where('merchant_id', '=', merchant.id).where('id', 'in', [merge.survivor_id, merge.merged_id]).execute();
  const stateOf = (id: string) => states.find((row) => row.id === id)?.state;
  if (stateOf(merge.survivor_id) !== 'active' || stateOf(merge.merged_id) !== 'merged') {
    throw new AppError('customers.merge_conflict', 'One of the two profiles is no longer as the merge left it (redacted or merged elsewhere)', { merge_id: merge.id, survivor_state: stateOf(merge.survivor_id), merged_state: stateOf(merge.merged_id) });
  }
  const record = JSON.parse(merge.moved_json) as MergeRecord;

  await unfoldProfile(tx, merchant.id, merge.merged_id, merge.survivor_id, record);
  await reassignCustomerOrders(tx, merchant.id, merge.survivor_id, merge.merged_id, record.orderIds);
  await reassignPromotionRedemptions(tx, merchant.id, merge.survivor_id, merge.merged_id, record.orderIds);
  await moveOwnedRows(tx, 'reward_codes', merchant.id, merge.survivor_id, merge.merged_id, record.rewardCodeIds ?? []);
  await moveOwnedRows(tx, 'reward_handovers', merchant.id, merge.survivor_id, merge.merged_id, record.rewardHandoverIds ?? []);
  await transferLoyalty(tx, merchant.id, merchant.settings.loyalty.baseTier, { fromCustomerId: merge.survivor_id, toCustomerId: merge.merged_id, kind: 'unmerge', idempotencyKey: `unmerge:${merge.id}`, ...record.loyalty });
  // The credit she brought comes back with her; whatever the survivor spent since stays spent, so at most what is left.
  const survivorCredit = (await getStoreCredit(tx, merchant.id, merge.survivor_id, merchant.currency)).balanceMinor;
  await transferStoreCredit(tx, merchant.id, { fromCustomerId: merge.survivor_id, toCustomerId: merge.merged_id, kind: 'unmerge', idempotencyKey: `unmerge:${merge.id}:credit`, currency: merchant.currency, amountMinor: Math.min(record.storeCreditMinor ?? 0, survivorCredit) });
  await tx.updateTable('customer_merges').set({ state: 'unmerged', unmerged_at: nowIso() }).where('merchant_id', '=', merchant.id).where('id', '=', merge.id).execute();
  await writeAudit(tx, merchant.id, { actor: input.actor, action: 'customers.unmerge', subject: merge.survivor_id, details: { merge_id: merge.id, merged_id: merge.merged_id } });
  await announceCustomerChange(tx, merchant.id, merge.survivor_id);
  await announceCustomerChange(tx, merchant.id, merge.merged_id);
  return { mergeId: merge.id, survivorId: merge.survivor_id, mergedId: merge.merged_id };
}

export async function listCustomerMerges(db: Queryable, merchantId: string, customerId: string) {
  return db.selectFrom('customer_merges').select(['id', 'survivor_id', 'merged_id', 'state', 'reason', 'actor', 'created_at', 'unmerged_at']).where('merchant_id', '=', merchantId).where((eb) => eb.or([eb('survivor_id', '=', customerId), eb('merged_id', '=', customerId)])).orderBy('created_at').execute();
}

/**
 * Rows a customer owns by id that follow her through a merge (and back on unmerge, `only` those the
 * merge moved): her online reward codes, so a code still works at the register, and the rewards
 * offline registers handed her, so reward limits still count them. Returns the ids moved.
 */
async function moveOwnedRows(tx: Tx, table: 'reward_codes' | 'reward_handovers', merchantId: string, fromCustomerId: string, toCustomerId: string, only?: string[]): Promise<string[]> {
  let query = tx.selectFrom(table).select('id').where('merchant_id', '=', merchantId).where('customer_id', '=', fromCustomerId);
  if (only) query = query.where('id', 'in', ['', ...only]);
  const ids = (await query.execute()).map((row) => row.id);
  if (ids.length > 0) await tx.updateTable(table).set({ customer_id: toCustomerId }).where('merchant_id', '=', merchantId).where('id', 'in', ids).execute();
  return ids;
}
