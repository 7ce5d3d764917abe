import { AppError } from '../shared/app-error.ts';

// A promotion's rule (issue #6), the same for every channel: conditions that must all hold, one
// action, and how it combines with others. Pure types and checks; docs/promotions.md explains them.

export type SalesChannel = 'online' | 'store';

/** What a promotion does; its `type` is also the stored `kind`. */
export type PromotionKind = 'percent_off_order' | 'amount_off_order' | 'percent_off_lines' | 'amount_off_lines' | 'buy_x_get_y' | 'free_item' | 'free_shipping' | 'member_price';

export const promotionKinds: readonly PromotionKind[] = ['percent_off_order', 'amount_off_order', 'percent_off_lines', 'amount_off_lines', 'buy_x_get_y', 'free_item', 'free_shipping', 'member_price'];

/** Which cart lines something names, by SKU or by product id; both empty means every line. */
export interface ItemSelector {
  skus: string[];
  productIds: string[];
}

export type PromotionAction =
  | { type: 'percent_off_order'; percentBps: number }
  | { type: 'amount_off_order'; amountMinor: number }
  | { type: 'percent_off_lines'; percentBps: number; items: ItemSelector }
  | { type: 'amount_off_lines'; amountMinor: number; items: ItemSelector }
  /** Buy `buy.quantity` units of the buy set, get `get.quantity` units of the get set at `get.percentBps` off. */
  | { type: 'buy_x_get_y'; buy: ItemSelector & { quantity: number }; get: ItemSelector & { quantity: number; percentBps: number }; usesPerOrderMax: number | null }
  /** Up to `quantity` units of the SKU free when the cart holds it. */
  | { type: 'free_item'; sku: string; quantity: number }
  | { type: 'free_shipping' }
  /** A fixed unit price for each listed SKU (unlocked by a tier or membership condition). */
  | { type: 'member_price'; prices: { sku: string; unitPriceMinor: number }[] };

/** A weekly window in a time zone: ISO weekdays (1 = Monday … 7 = Sunday), from `start` (included) to `end` (excluded), "HH:MM". */
export interface HoursCondition {
  days: number[];
  start: string;
  end: string;
  timeZone: string;
}

/** Every condition that is set must hold; an empty list or null sets nothing. */
export interface PromotionConditions {
  locationIds: string[];
  /** The customer's tier is one of these. With `memberships` too, either one unlocks it. */
  customerTiers: string[];
  /** The customer holds an active membership of one of these names. */
  memberships: string[];
  /** The customer has no order placed before this one, in any channel. */
  firstOrder: boolean;
  /** The cart's merchandise before any discount is at least this. */
  minSubtotalMinor: number | null;
  /** The cart holds at least one line of these. */
  items: ItemSelector | null;
  hours: HoursCondition | null;
}

export interface Promotion {
  id: string;
  /** Typed at a register or checkout; null for an automatic promotion that needs none. */
  code: string | null;
  name: string;
  kind: PromotionKind;
  /** Basis points for a percent off (1000 = 10 %), minor units for an amount off, 0 for the other kinds. */
  value: number;
  channels: SalesChannel[];
  active: boolean;
  startsAt: string | null;
  endsAt: string | null;
  /** Applies without a code whenever its conditions hold. */
  automatic: boolean;
  /** Higher first; ties by age (the older first). */
  priority: number;
  /** Applies alone: never with any other promotion. */
  exclusive: boolean;
  /** False: never with another non-stackable promotion. */
  stackable: boolean;
  totalUsageMax: number | null;
  perCustomerUsageMax: number | null;
  conditions: PromotionConditions;
  action: PromotionAction;
  shopifyDiscountId: string | null;
  createdAt: string;
  updatedAt: string;
}

// Limits on every list and number a rule holds.
export const selectorEntriesMax = 100;
export const memberPricesMax = 100;
export const conditionListMax = 50;
export const promotionPriorityMax = 1_000_000;
export const promotionQuantityMax = 10_000;
export const promotionAmountMinorMax = 100_000_000;
export const promotionUsageMax = 10_000_000;

export const noConditions: PromotionConditions = { locationIds: [], customerTiers: [], memberships: [], firstOrder: false, minSubtotalMinor: null, items: null, hours: null };

/** The single number the stored `value` column keeps for an action (what the first promotions had). */
export function actionValue(action: PromotionAction): number {
  switch (action.type) {
    case 'percent_off_order':
    case 'percent_off_lines':
      return action.percentBps;
    case 'amount_off_order':
    case 'amount_off_lines':
      return action.amountMinor;
    default:
      return 0;
  }
}

/** True when the selector names nothing, which means every line. */
export function selectsEverything(selector: ItemSelector): boolean {
  return selector.skus.length === 0 && selector.productIds.length === 0;
}

export function selectorMatches(selector: ItemSelector, line: { sku: string; productId: string | null }): boolean {
  if (selectsEverything(selector)) return true;
  return selector.skus.includes(line.sku) || (line.productId !== null && selector.productIds.includes(line.productId));
}

/** Every SKU a rule names, in its action and its conditions (to check they exist). */
export function skusNamedBy(rule: { action: PromotionAction; conditions: PromotionConditions }): string[] {
  const { action, conditions } = rule;
  const skus: string[] = [...(conditions.items?.skus ?? [])];
  if (action.type === 'percent_off_lines' || action.type === 'amount_off_lines') skus.push(...action.items.skus);
  if (action.type === 'buy_x_get_y') skus.push(...action.buy.skus, ...action.get.skus);
  if (action.type === 'free_item') skus.push(action.sku);
  if (action.type === 'member_price') skus.push(...action.prices.map((price) => price.sku));
  return [...new Set(skus)];
}

function invalid(field: string, message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('promotions.invalid_rule', `${field}: ${message}`, { field, ...details });
}

function checkInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalid(field, `must be an integer from ${min} to ${max}`, { value });
}

function checkSelector(field: string, selector: ItemSelector, required: boolean): void {
  if (selector.skus.length + selector.productIds.length > selectorEntriesMax) throw invalid(field, `names at most ${selectorEntriesMax} SKUs and products`);
  if (required && selectsEverything(selector)) throw invalid(field, 'names at least one SKU or product');
}

const timePattern = /^([01]\d|2[0-3]):[0-5]\d$/;

/** Whether the runtime knows the IANA time zone (Intl throws a RangeError for an unknown one). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

function checkHours(hours: HoursCondition): void {
  if (hours.days.length === 0 || hours.days.some((day) => !Number.isInteger(day) || day < 1 || day > 7)) throw invalid('conditions.hours.days', 'lists ISO weekdays from 1 (Monday) to 7 (Sunday)');
  for (const field of ['start', 'end'] as const) if (!timePattern.test(hours[field])) throw invalid(`conditions.hours.${field}`, 'is a time "HH:MM" from 00:00 to 23:59');
  if (hours.start >= hours.end) throw invalid('conditions.hours.end', 'is after start (a window ends on the day it starts)');
  if (!isKnownTimeZone(hours.timeZone)) throw invalid('conditions.hours.time_zone', `"${hours.timeZone}" is not an IANA time zone`);
}

function checkAction(action: PromotionAction): void {
  switch (action.type) {
    case 'percent_off_order':
      return checkInteger('action.percent_bps', action.percentBps, 1, 10_000);
    case 'amount_off_order':
      return checkInteger('action.amount_minor', action.amountMinor, 1, promotionAmountMinorMax);
    case 'percent_off_lines':
      checkInteger('action.percent_bps', action.percentBps, 1, 10_000);
      return checkSelector('action', action.items, false);
    case 'amount_off_lines':
      checkInteger('action.amount_minor', action.amountMinor, 1, promotionAmountMinorMax);
      return checkSelector('action', action.items, false);
    case 'buy_x_get_y':
      checkInteger('action.buy.quantity', action.buy.quantity, 1, promotionQuantityMax);
      checkInteger('action.get.quantity', action.get.quantity, 1, promotionQuantityMax);
      checkInteger('action.get.percent_bps', action.get.percentBps, 1, 10_000);
      if (action.usesPerOrderMax !== null) checkInteger('action.uses_per_order_max', action.usesPerOrderMax, 1, promotionQuantityMax);
      checkSelector('action.buy', action.buy, true);
      return checkSelector('action.get', action.get, true);
    case 'free_item':
      if (action.sku.length === 0) throw invalid('action.sku', 'names the free SKU');
      return checkInteger('action.quantity', action.quantity, 1, promotionQuantityMax);
    case 'free_shipping':
      return;
    case 'member_price': {
      if (action.prices.length === 0 || action.prices.length > memberPricesMax) throw invalid('action.prices', `lists from 1 to ${memberPricesMax} SKU prices`);
      for (const [index, price] of action.prices.entries()) checkInteger(`action.prices.${index}.unit_price_minor`, price.unitPriceMinor, 0, promotionAmountMinorMax);
      const skus = action.prices.map((price) => price.sku);
      if (new Set(skus).size !== skus.length) throw invalid('action.prices', 'names each SKU once');
    }
  }
}

/**
 * Checks what the request schema cannot: ranges, lists, a time window, and that a member price is
 * unlocked by a tier or membership. Throws 422 `promotions.invalid_rule` naming the field.
 */
export function assertValidRule(rule: Pick<Promotion, 'code' | 'automatic' | 'priority' | 'channels' | 'startsAt' | 'endsAt' | 'totalUsageMax' | 'perCustomerUsageMax' | 'conditions' | 'action'>): void {
  if (rule.code === null && !rule.automatic) throw invalid('code', 'a promotion that is not automatic is applied by its code: give one');
  if (rule.channels.length === 0) throw invalid('channels', 'names at least one channel');
  if (rule.startsAt !== null && rule.endsAt !== null && rule.endsAt <= rule.startsAt) throw invalid('ends_at', 'is after starts_at');
  checkInteger('priority', rule.priority, -promotionPriorityMax, promotionPriorityMax);
  if (rule.totalUsageMax !== null) checkInteger('usage_limit_total', rule.totalUsageMax, 1, promotionUsageMax);
  if (rule.perCustomerUsageMax !== null) checkInteger('usage_limit_per_customer', rule.perCustomerUsageMax, 1, promotionUsageMax);
  checkAction(rule.action);
  const { conditions } = rule;
  for (const field of ['locationIds', 'customerTiers', 'memberships'] as const) {
    if (conditions[field].length > conditionListMax) throw invalid(`conditions.${field}`, `lists at most ${conditionListMax} entries`);
  }
  if (conditions.minSubtotalMinor !== null) checkInteger('conditions.min_subtotal_minor', conditions.minSubtotalMinor, 1, promotionAmountMinorMax);
  if (conditions.items) checkSelector('conditions', conditions.items, true);
  if (conditions.hours) checkHours(conditions.hours);
  if (rule.action.type === 'member_price' && conditions.customerTiers.length === 0 && conditions.memberships.length === 0) {
    throw invalid('conditions.customer_tiers', 'a member price is unlocked by a tier or a membership: name one');
  }
}
