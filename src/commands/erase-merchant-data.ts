import { forgetKeptReads, type Database, type Tx } from '../db/index.ts';
import { assert } from '../shared/app-error.ts';
import { flushOutboxAbsorbs } from '../sync/index.ts';

// Every table of the schema holding `merchant_id` (all but MerchantlessTable below). Typed against the
// schema, so a table added to `db/schema.ts` without being added here does not compile: a shop
// erasure can never silently leave a new table's rows behind. `merchants` goes last.
const merchantTables = {
  staff_sessions: true, staff_users: true,
  channel_sync_cursors: true, channel_deletions: true, channel_locations: true,
  channel_circuits: true,
  pos_offline_ops: true,
  idempotency_keys: true, webhook_subscriptions: true, audit_log: true, exceptions: true, channel_stock_mirror: true, reservations: true, pickups: true, stock_buffers: true, outbox_events: true, inbox_events: true,
  loyalty_lot_spends: true, loyalty_lots: true, loyalty_entries: true, loyalty_transactions: true, loyalty_accounts: true, store_credit_accounts: true, reward_codes: true, reward_handovers: true, memberships: true, referral_codes: true, referrals: true, rewards: true,
  promotion_redemptions: true, promotion_versions: true, promotions: true, return_lines: true, returns: true, payments: true, order_discounts: true, order_lines: true, orders: true,
  stock_movements: true, stock_levels: true, external_refs: true, variants: true, products: true,
  privacy_requests: true, customer_merges: true, customer_consents: true, customer_addresses: true, customer_identifiers: true, customers: true,
  channel_accounts: true, locations: true, api_keys: true, merchants: true,
} as const satisfies Record<Exclude<keyof Database, MerchantlessTable>, true>;

/**
 * Tables that hold no merchant's rows: `sign_in_failures` counts failed sign-ins by a hash of the
 * email and address typed, before any merchant is known, and forgets each after 15 minutes.
 */
type MerchantlessTable = 'sign_in_failures';
export const merchantlessTableNames: readonly MerchantlessTable[] = ['sign_in_failures'];

/** The tables a shop erasure empties of the merchant's rows, in the order it empties them. */
export const merchantTableNames = Object.keys(merchantTables) as (keyof Database)[];

/**
 * Erases a merchant completely, in the caller's transaction: every row of every table, the
 * merchant itself, its API keys (so its keys stop working) and its channel accounts (so the
 * channels' later webhooks are refused as from an unknown shop). Other merchants' rows are not
 * touched: every statement filters by `merchant_id`. Returns the rows deleted per table.
 */
export async function eraseMerchantData(tx: Tx, merchantId: string): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  forgetKeptReads(tx);
  await flushOutboxAbsorbs(tx);
  for (const table of merchantTableNames) {
    const result = await tx.deleteFrom(table).where('merchant_id', '=', merchantId).executeTakeFirst();
    deleted[table] = Number(result.numDeletedRows);
  }
  assert(deleted['merchants'] === 1, `merchant ${merchantId} existed and was erased`);
  return deleted;
}
