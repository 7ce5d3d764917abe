// The shapes the console reads from the engine's API, as the routes in src/http/routes answer them.
// Only the fields the console uses are named.

export interface Money {
  amount_minor: number;
  currency: string;
}

export type StaffRole = 'associate' | 'manager';

/** A person who signs in to the console, as GET /v1/staff lists her (never her password). */
export interface StaffMember {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
  home_location_id: string | null;
  home_location_name: string | null;
  created_at: string;
  disabled_at: string | null;
}

export interface Session {
  staff: { id: string; email: string; name: string; role: StaffRole; home_location_id: string | null; home_location_name: string | null };
  merchant: { id: string; name: string; currency: string };
}

export interface OrderSummary {
  id: string;
  customer_id?: string | null;
  channel: string;
  source: string;
  order_number: string | null;
  location_id: string | null;
  placed_at: string;
  total: Money;
  refunded: Money;
}

export interface CustomerSummary {
  id: string;
  name: string;
  emails: string[];
  phones: string[];
  loyalty_code: string | null;
  loyalty: { available: number; pending: number; tier: string | null };
  orders: OrderSummary[];
}

export interface CustomerProfile extends CustomerSummary {
  state: string;
  merged_into: string | null;
  first_name: string | null;
  last_name: string | null;
  identifiers: { kind: string; value: string; original: string; flag: string | null; verified: boolean }[];
  addresses: { id: string; line1: string | null; line2: string | null; city: string | null; region: string | null; postal_code: string | null; country_code: string | null; is_default: boolean }[];
  consents: { topic: string; state: string; source: string; updated_at: string }[];
  note: string | null;
  preferences: Record<string, unknown>;
  created_at: string;
}

export interface LoyaltyLot {
  id: string;
  points: number;
  remaining: number;
  earned_at: string;
  expires_at: string | null;
  pending: boolean;
  available_at: string | null;
}

export interface Membership {
  id: string;
  name: string;
  kind: string;
  starts_at: string;
  ends_at: string | null;
  active: boolean;
}

export interface LoyaltyView {
  customer_id: string;
  available: number;
  pending: number;
  tier: {
    name: string;
    since: string | null;
    metric: string;
    period: string;
    qualifying_amount: number;
    next_tier: { name: string; threshold: number; remaining: number } | null;
  } | null;
  lifetime_earned: number;
  memberships: Membership[];
  lots: LoyaltyLot[];
  history: { id: string; kind: string; points: number; order_id: string | null; memo: string | null; created_at: string }[];
}

export interface Reward {
  id: string;
  code: string;
  name: string;
  kind: string;
  pointsCost: number;
  amountOffMinor: number | null;
  percentOffBps: number | null;
  freeSku: string | null;
  active: boolean;
}

export interface RewardCode {
  id: string;
  code: string;
  state: string;
  order_id: string | null;
  created_at: string;
  reward: { id: string; code: string; name: string; kind: string; points_cost: number };
}

export interface Location {
  id: string;
  name: string;
  kind: 'store' | 'warehouse';
  workflows?: Partial<Record<WorkflowName, boolean>>;
}

export const workflowNames = ['loyalty_in_store', 'pickup', 'cross_channel_returns', 'stock_push'] as const;
export type WorkflowName = (typeof workflowNames)[number];

export interface OrderLine {
  id: string;
  sku: string | null;
  title: string;
  quantity: number;
  returned_quantity: number;
  unit_price: Money;
  discount: Money;
  tax: Money;
  points_earned: number;
  fulfilment_location_id: string | null;
}

export interface Order extends OrderSummary {
  register_id: string | null;
  status: string;
  subtotal: Money;
  discount: Money;
  shipping: Money;
  tax: Money;
  lines: OrderLine[];
  discounts: { kind: string; code: string | null; amount: Money }[];
  payments: { method: string; amount: Money }[];
  returns?: { id: string; created_at: string; total: Money; store_credit: Money; channel_refund_state: string }[];
}

export interface ReturnPlanLine {
  order_line_id: string;
  sku: string | null;
  title: string;
  quantity: number;
  gross: Money;
  discount: Money;
  tax: Money;
  restocking_fee: Money;
  refund: Money;
  points_reversed: number;
  disposition: 'restock' | 'damaged';
  location_id: string | null;
  location_name: string | null;
}

export interface ReturnPlan {
  order_id: string;
  order_channel: string;
  order_discounts: { kind: string; code: string | null; amount: Money }[];
  lines: ReturnPlanLine[];
  merchandise: Money;
  discount: Money;
  tax: Money;
  shipping: Money;
  restocking_fee: Money;
  total: Money;
  refund_to: { store_credit: Money; original_payment: Money; refunded_by: 'shopify' | 'square' | 'register' | null };
  points: { reversed: number; restored: number };
}

export interface ReturnRecord {
  id: string;
  order_id: string;
  location_id: string | null;
  refund_method: string;
  total: Money;
  store_credit: Money;
  channel_refund: { state: string; reference: string | null };
  lines: { order_line_id: string; quantity: number; refund: Money; went_to: string; location_id: string | null; points_reversed: number }[];
}

export interface Pickup {
  id: string;
  order_id: string;
  location_id: string;
  state: 'placed' | 'ready' | 'picked_up' | 'cancelled' | 'expired';
  expires_at: string | null;
  created_at: string;
  ready_at: string | null;
  picked_up_at: string | null;
  order_number: string | null;
  customer_id: string | null;
  total_minor: number;
  currency: string;
}

export type ExceptionState = 'open' | 'assigned' | 'in_progress' | 'resolved' | 'dismissed';

export interface ExceptionSummary {
  id: string;
  kind: string;
  subject: string;
  state: ExceptionState;
  owner: string | null;
  details: Record<string, unknown>;
  resolution: string | null;
  created_at: string;
  updated_at: string;
  resolved_at: string | null;
}

export interface ExceptionDetail extends ExceptionSummary {
  actions: string[];
  history: { at: string; actor: string; action: string; details: Record<string, unknown> }[];
  profiles?: CustomerProfile[];
}

export interface CustomerMerge {
  id: string;
  survivor_id: string;
  merged_id: string;
  state: string;
  reason: string | null;
  actor: string;
  created_at: string;
  unmerged_at: string | null;
}

export interface OutboxMessage {
  id: string;
  destination: string;
  kind: string;
  status: string;
  attempts: number;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  replays: number;
}

export interface SyncHealth {
  channels: {
    channel: string;
    hours: { hour: string; inbound_received: number; inbound_processed: number; inbound_failed: number; outbound_delivered: number; outbound_retried: number; outbound_dead: number }[];
    lag_seconds_now: number;
    pending: number;
    dead: number;
    circuit: string | { state: string; [key: string]: unknown } | null;
  }[];
}

export interface SyncStatus {
  /** Processed, ignored and delivered are counted from here (the last 24 hours); what waits or died, all of it. */
  settled_since: string;
  inbox: Record<string, number>;
  outbox: Record<string, number>;
  circuits: { circuit_key: string; state: string; open_until: string | null; failures?: number; trips?: number }[];
}
