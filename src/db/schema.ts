import type { ColumnType } from 'kysely';

// Row types of every table, as Kysely sees them. Integers arrive as JS numbers on both dialects
// (see `database.ts` for PostgreSQL's BIGINT parsing); timestamps are ISO-8601 UTC strings.

/** A column added later with a default: inserts may leave it out. */
type Defaulted<T> = ColumnType<T, T | undefined, T>;
/** A nullable column added later: inserts may leave it out. */
type Optional<T> = ColumnType<T | null, T | null | undefined, T | null>;

export interface MerchantsTable { id: string; merchant_id: string; name: string; currency: string; default_country: string; settings_json: string; created_at: string }
export interface ApiKeysTable { id: string; merchant_id: string; name: string; key_hash: string; key_prefix: string; scope: string; created_at: string; expires_at: string | null; revoked_at: string | null }
export interface LocationsTable {
  id: string; merchant_id: string; name: string; kind: string; shopify_location_id: string | null; square_location_id: string | null; fulfils_online: number; tax_rate_bps: number; created_at: string;
  /** Migration 0015: the workflows rolled out at the location (1 on, 0 off; all on by default). */
  workflow_loyalty_in_store: Defaulted<number>; workflow_pickup: Defaulted<number>; workflow_cross_channel_returns: Defaulted<number>; workflow_stock_push: Defaulted<number>;
}
export interface ChannelAccountsTable { id: string; merchant_id: string; channel: string; account_ref: string; webhook_secret: string; admin_api_url: string | null; access_token: string | null; notification_url: string | null; created_at: string; state: string; disconnected_at: string | null }
export interface CustomersTable {
  birthday: ColumnType<string | null, string | null | undefined, string | null>;
  id: string; merchant_id: string; first_name: string | null; last_name: string | null; name_search: string; loyalty_code: string | null; source_updated_at: string | null; created_at: string; updated_at: string;
  state: ColumnType<string, string | undefined, string>; merged_into: string | null; note: string | null; preferences_json: ColumnType<string, string | undefined, string>;
}
export interface CustomerIdentifiersTable { id: string; merchant_id: string; customer_id: string; kind: string; value_original: string; value_normalized: string; is_valid: number; created_at: string; flag: string | null; verified: number }
export interface CustomerAddressesTable { merchant_id: string; id: string; customer_id: string; fingerprint: string; line1: string | null; line2: string | null; city: string | null; region: string | null; postal_code: string | null; country_code: string | null; phone: string | null; is_default: number; source: string; created_at: string }
export interface CustomerConsentsTable { merchant_id: string; customer_id: string; topic: string; state: string; source: string; updated_at: string }
export interface CustomerMergesTable { merchant_id: string; id: string; survivor_id: string; merged_id: string; state: string; moved_json: string; reason: string; actor: string; created_at: string; unmerged_at: string | null }
export interface PrivacyRequestsTable { merchant_id: string; id: string; kind: string; customer_id: string | null; channel_ref: string | null; export_json: string | null; created_at: string }
export interface ProductsTable { id: string; merchant_id: string; title: string; created_at: string; source_updated_at: ColumnType<string | null, string | null | undefined, string | null>; archived_at: Optional<string> }
export interface VariantsTable { id: string; merchant_id: string; product_id: string; sku: string; title: string; price_minor: number; currency: string; created_at: string; final_sale: Defaulted<number> }
export interface ExternalRefsTable { merchant_id: string; entity: string; entity_id: string; channel: string; external_id: string }
export interface StockLevelsTable { merchant_id: string; location_id: string; variant_id: string; on_hand: number; reserved: number; safety: number; updated_at: string }
export interface StockMovementsTable { id: string; merchant_id: string; location_id: string; variant_id: string; kind: string; on_hand_delta: number; reserved_delta: number; source_key: string; reason: string | null; actor: string; order_id: string | null; created_at: string; occurred_at: Optional<string> }
export interface OrdersTable {
  id: string; merchant_id: string; channel: string; source: string; source_ref: string; order_number: string | null;
  customer_id: string | null; location_id: string | null; register_ref: string | null; status: string; currency: string;
  subtotal_minor: number; discount_minor: number; shipping_minor: number; tax_minor: number; total_minor: number; refunded_minor: number;
  placed_at: string; source_updated_at: string | null; created_at: string; updated_at: string;
  fulfilment_status: string | null; cancelled_at: string | null; exchange_of_order_id: Optional<string>;
}
export interface OrderLinesTable {
  id: string; merchant_id: string; order_id: string; line_number: number; source_ref: string; variant_id: string | null; sku: string | null;
  title: string; quantity: number; unit_price_minor: number; discount_minor: number; tax_minor: number; points_earned: number;
  fulfilment_location_id: string | null; returned_quantity: number; final_sale: Defaulted<number>;
}
export interface OrderDiscountsTable { id: string; merchant_id: string; order_id: string; kind: string; code: string | null; promotion_id: string | null; reward_id: string | null; amount_minor: number }
export interface PaymentsTable { id: string; merchant_id: string; order_id: string; method: string; amount_minor: number; currency: string; source_ref: string | null }
export interface ReturnsTable {
  id: string; merchant_id: string; order_id: string; source: string; source_ref: string; amount_minor: number; currency: string; note: string | null; created_at: string;
  location_id: Optional<string>; refund_method: Optional<string>; reason: Optional<string>; actor: Optional<string>; exchange_order_id: Optional<string>;
  channel_refund_ref: Optional<string>; push_state: Optional<string>;
  merchandise_minor: Defaulted<number>; discount_minor: Defaulted<number>; tax_minor: Defaulted<number>; shipping_minor: Defaulted<number>; fee_minor: Defaulted<number>; store_credit_minor: Defaulted<number>;
  /** Migration 0024: the shipping's tax, part of shipping_minor. */
  shipping_tax_minor: Defaulted<number>;
  /** Migration 0021: what an exchange's new goods took of the refund (not paid back). */
  exchange_applied_minor: Defaulted<number>;
}
export interface ReturnLinesTable { id: string; merchant_id: string; return_id: string; order_line_id: string; quantity: number; amount_minor: number; tax_minor: number; restock: string; restock_location_id: string | null; points_reversed: number; gross_minor: Defaulted<number>; discount_minor: Defaulted<number>; fee_minor: Defaulted<number> }
export interface PromotionsTable {
  id: string; merchant_id: string; code: string | null; name: string; kind: string; value: number; channels: string; active: number; starts_at: string | null; ends_at: string | null; created_at: string;
  updated_at: string; automatic: number; priority: number; exclusive: number; stackable: number; total_usage_max: number | null; per_customer_usage_max: number | null;
  conditions_json: string; action_json: string; shopify_discount_id: string | null;
}
export interface PromotionVersionsTable { merchant_id: string; version: string; updated_at: string }
export interface PromotionRedemptionsTable { id: string; merchant_id: string; promotion_id: string; order_id: string; customer_id: string | null; channel: string; amount_minor: number; created_at: string }
export interface RewardsTable { id: string; merchant_id: string; code: string; name: string; points_cost: number; amount_off_minor: number; active: number; created_at: string; kind: string; percent_off_bps: number | null; free_sku: string | null; per_customer_max: number | null; total_max: number | null }
export interface RewardCodesTable { merchant_id: string; id: string; customer_id: string; reward_id: string; code: string; state: string; order_id: string | null; created_at: string; closed_at: string | null }
/** Migration 0020: a reward an offline register handed over without a sale. */
export interface RewardHandoversTable { merchant_id: string; id: string; customer_id: string; reward_id: string; location_id: string | null; register_id: string; op_id: string; handed_over_at: string; created_at: string }
export interface MembershipsTable { merchant_id: string; id: string; customer_id: string; name: string; kind: string; starts_at: string; ends_at: string | null; perks_json: string; created_at: string }
export interface ReferralCodesTable { merchant_id: string; customer_id: string; code: string; created_at: string }
export interface ReferralsTable { merchant_id: string; id: string; referrer_id: string; friend_id: string; state: string; order_id: string | null; reason: string | null; created_at: string; qualifies_at: string | null; closed_at: string | null }
export interface LoyaltyAccountsTable { merchant_id: string; customer_id: string; available: number; pending: number; lifetime_earned: number; tier: string; updated_at: string; tier_since: ColumnType<string | null, string | null | undefined, string | null>; last_activity_at: ColumnType<string | null, string | null | undefined, string | null> }
export interface LoyaltyTransactionsTable { id: string; merchant_id: string; customer_id: string; kind: string; idempotency_key: string; points: number; order_id: string | null; memo: string | null; created_at: string; asset: Defaulted<string> }
export interface LoyaltyEntriesTable { id: string; merchant_id: string; transaction_id: string; account: string; customer_id: string | null; amount: number; created_at: string; asset: Defaulted<string> }
export interface StoreCreditAccountsTable { merchant_id: string; customer_id: string; currency: string; balance_minor: number; updated_at: string }
export interface LoyaltyLotsTable { id: string; merchant_id: string; customer_id: string; transaction_id: string; points: number; remaining: number; earned_at: string; expires_at: string | null; pending: number; available_at: string | null; expiry_notified_at: ColumnType<string | null, string | null | undefined, string | null> }
export interface LoyaltyLotSpendsTable { merchant_id: string; transaction_id: string; lot_id: string; points: number }
export interface InboxEventsTable {
  id: string; merchant_id: string; source: string; topic: string; delivery_id: string; event_key: string | null; headers_json: string;
  payload: string; status: string; attempts: number; error: string | null; triggered_at: string | null; available_at: string; received_at: string; processed_at: string | null;
  /** Migration 0011: what the event is about (`shopify:order:ID`), null when unordered; its place among the waiting events. */
  resource_key: Optional<string>; queue_position: Defaulted<number>;
}
export interface OutboxEventsTable {
  id: string; merchant_id: string; destination: string; kind: string; coalesce_key: string | null; payload: string; status: string;
  attempts: number; next_attempt_at: string; last_error: string | null; created_at: string; delivered_at: string | null;
  /** Migration 0010: the circuit breaker the message travels on, its lease holder, replays by a person, later changes it absorbed. */
  circuit_key: Defaulted<string>; claimed_by: Optional<string>; replays: Defaulted<number>; superseded: Defaulted<number>;
}
export interface ChannelStockMirrorTable { merchant_id: string; channel: string; location_id: string; variant_id: string; last_pushed_available: number | null; updated_at: string; last_seen_at: string | null }
export interface ReservationsTable { merchant_id: string; id: string; location_id: string; variant_id: string; quantity: number; kind: string; state: string; order_id: string | null; pickup_id: string | null; expires_at: string | null; created_at: string; updated_at: string }
export interface PickupsTable { merchant_id: string; id: string; order_id: string; location_id: string; state: string; expires_at: string | null; created_at: string; updated_at: string; ready_at: string | null; picked_up_at: string | null; closed_at: string | null }
export interface StockBuffersTable { merchant_id: string; channel: string; location_id: string; units: number; updated_at: string }
export interface ExceptionsTable { id: string; merchant_id: string; kind: string; dedupe_key: string; subject: string; state: string; details_json: string; resolution: string | null; created_at: string; resolved_at: string | null; owner: Optional<string>; updated_at: Defaulted<string> }
/** Migration 0010: one circuit breaker per merchant and outbound circuit (a destination, or one webhook subscriber). */
export interface ChannelCircuitsTable { merchant_id: string; circuit_key: string; destination: string; state: string; consecutive_failures: number; trips: number; open_until: string | null; opened_at: string | null; last_error: string | null; updated_at: string }
export interface AuditLogTable { id: string; merchant_id: string; actor: string; action: string; subject: string; details_json: string; created_at: string }
export interface IdempotencyKeysTable { merchant_id: string; key: string; request_hash: string; state: string; response_status: number | null; response_body: string | null; created_at: string }

/** Migration 0012: the channel's own locations, tombstones of records deleted in a channel, and backfill cursors. */
export interface ChannelLocationsTable { merchant_id: string; channel: string; external_id: string; name: string; active: number; address_json: string; source_updated_at: string | null; deleted_at: string | null; updated_at: string }
export interface ChannelDeletionsTable { merchant_id: string; channel: string; entity: string; external_id: string; deleted_at: string }
export interface ChannelSyncCursorsTable { merchant_id: string; channel: string; resource: string; cursor: string | null; state: string; pages: number; items: number; counts_json: string; started_at: string; updated_at: string; completed_at: string | null }

/** Migration 0015: the people who sign in to the console, and their sessions (only the token's SHA-256 is kept). */
export interface StaffUsersTable { merchant_id: string; id: string; email: string; name: string; role: string; home_location_id: string | null; password_hash: string; created_at: string; disabled_at: string | null }
export interface StaffSessionsTable { merchant_id: string; token_hash: string; staff_id: string; created_at: string; expires_at: string; revoked_at: string | null }
/** Failed console sign-ins per email and client address (SHA-256 of the pair), for the sign-in limit; no merchant's data. */
export interface SignInFailuresTable { key_hash: string; first_failed_at: string; failures: number }

export interface WebhookSubscriptionsTable { merchant_id: string; id: string; url: string; secret: string; event_types: string; state: string; created_at: string }

/** An operation an offline register uploaded, with its first result (docs/pos-offline.md). */
export interface PosOfflineOpsTable { merchant_id: string; register_id: string; op_id: string; kind: string; sequence: number; occurred_at: string; fingerprint: string; result_json: string; applied_at: string }
export interface Database {
  merchants: MerchantsTable;
  api_keys: ApiKeysTable;
  locations: LocationsTable;
  channel_accounts: ChannelAccountsTable;
  customers: CustomersTable;
  customer_identifiers: CustomerIdentifiersTable;
  customer_addresses: CustomerAddressesTable;
  customer_consents: CustomerConsentsTable;
  customer_merges: CustomerMergesTable;
  privacy_requests: PrivacyRequestsTable;
  products: ProductsTable;
  variants: VariantsTable;
  external_refs: ExternalRefsTable;
  stock_levels: StockLevelsTable;
  stock_movements: StockMovementsTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  order_discounts: OrderDiscountsTable;
  payments: PaymentsTable;
  returns: ReturnsTable;
  return_lines: ReturnLinesTable;
  promotions: PromotionsTable;
  promotion_redemptions: PromotionRedemptionsTable;
  promotion_versions: PromotionVersionsTable;
  rewards: RewardsTable;
  reward_codes: RewardCodesTable;
  reward_handovers: RewardHandoversTable;
  memberships: MembershipsTable;
  referral_codes: ReferralCodesTable;
  referrals: ReferralsTable;
  loyalty_accounts: LoyaltyAccountsTable;
  loyalty_transactions: LoyaltyTransactionsTable;
  loyalty_entries: LoyaltyEntriesTable;
  loyalty_lots: LoyaltyLotsTable;
  loyalty_lot_spends: LoyaltyLotSpendsTable;
  store_credit_accounts: StoreCreditAccountsTable;
  inbox_events: InboxEventsTable;
  outbox_events: OutboxEventsTable;
  channel_stock_mirror: ChannelStockMirrorTable;
  reservations: ReservationsTable;
  pickups: PickupsTable;
  stock_buffers: StockBuffersTable;
  exceptions: ExceptionsTable;
  audit_log: AuditLogTable;
  idempotency_keys: IdempotencyKeysTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  pos_offline_ops: PosOfflineOpsTable;
  channel_circuits: ChannelCircuitsTable;
  channel_locations: ChannelLocationsTable;
  channel_deletions: ChannelDeletionsTable;
  channel_sync_cursors: ChannelSyncCursorsTable;
  staff_users: StaffUsersTable;
  staff_sessions: StaffSessionsTable;
  sign_in_failures: SignInFailuresTable;
}
