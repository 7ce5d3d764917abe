import { assert } from '../shared/app-error.ts';
import { allocateMinor, applyBasisPoints, minorToDecimal } from '../shared/money.ts';
import { selectorMatches, type HoursCondition, type ItemSelector, type Promotion, type PromotionAction, type SalesChannel } from './promotion-rules.ts';

// The promotion engine (issue #6): which promotions apply to a cart, in which order, and what each
// takes off each line. Pure: everything it needs (the cart, the customer's tier and memberships,
// the uses counted so far) is given, so a register, a checkout and the cart-pricing API get the
// same answer for the same cart. The rules are in docs/promotions.md:
//
// 1. Every candidate (each automatic promotion, and each one whose code was given) is checked
//    against its conditions; the first that fails is the reason it does not apply.
// 2. The eligible ones are ranked: priority (higher first), then age (the older first, by id).
//    Walking the ranking, one is taken unless it conflicts with those taken before it: an
//    exclusive promotion applies alone, and two non-stackable ones never combine.
// 3. The taken ones are priced in phases, each on what the earlier ones left of every line, never
//    below zero: member prices, then the other line discounts, then order discounts (spread over
//    the lines by largest remainder), then shipping. A promotion that finds nothing left to take
//    off is reported as not applied.

export interface PricingLine {
  sku: string;
  productId: string | null;
  quantity: number;
  unitPriceMinor: number;
}

export interface PricingCustomer {
  id: string;
  tier: string | null;
  /** Names of the memberships active at the time of the cart. */
  memberships: readonly string[];
  /** Whether she has an order placed before, in any channel (the first-order condition). */
  hasEarlierOrder: boolean;
}

export interface PricingContext {
  channel: SalesChannel;
  locationId: string | null;
  /** ISO-8601 UTC: dates and hours are checked at this instant. */
  at: string;
  currency: string;
  customer: PricingCustomer | null;
  shippingMinor: number;
}

/** A promotion to consider: every automatic one, and each one whose code was given (`code` as given). */
export interface PromotionCandidate {
  promotion: Promotion;
  code: string | null;
}

/** Uses counted so far across channels: in all, and by the cart's customer. */
export interface PromotionUsage {
  total: number;
  byCustomer: number;
}

export type NotAppliedReason =
  | 'unknown_code' | 'inactive' | 'not_started' | 'ended' | 'not_in_channel' | 'not_at_location' | 'outside_hours'
  | 'customer_required' | 'tier_required' | 'membership_required' | 'tier_or_membership_required' | 'first_order_only'
  | 'min_subtotal' | 'products_required' | 'no_matching_items' | 'no_shipping' | 'usage_limit_total' | 'usage_limit_per_customer'
  | 'exclusive_conflict' | 'not_stackable' | 'nothing_left';

export interface AppliedPromotion {
  promotion: Promotion;
  code: string | null;
  amountMinor: number;
  /** What it took off each cart line, in cart order; sums with `shippingMinor` to `amountMinor`. */
  lineAmountsMinor: number[];
  shippingMinor: number;
}

export interface NotAppliedPromotion {
  promotion: Promotion | null;
  code: string | null;
  reason: NotAppliedReason;
  message: string;
}

export interface PromotionPricingInput {
  lines: readonly PricingLine[];
  context: PricingContext;
  candidates: readonly PromotionCandidate[];
  /** Codes given that name no promotion (listed as not applied, `unknown_code`). */
  unknownCodes: readonly string[];
  usage: ReadonlyMap<string, PromotionUsage>;
}

export interface PromotionPricing {
  grossMinor: number[];
  /** All promotions together, per line; never more than the line's gross. */
  lineDiscountMinor: number[];
  shippingDiscountMinor: number;
  applied: AppliedPromotion[];
  /**
   * In a fixed order: unknown codes as given, then those whose conditions fail, then those refused
   * by exclusivity or stacking, then those that found nothing left (each group by rank).
   */
  notApplied: NotAppliedPromotion[];
}

/** Applications of one buy-X-get-Y in a cart are at most this many (with the quantities' own limits). */
export const buyGetApplicationsMax = 100_000;

/**
 * Prices the promotions of a cart. Deterministic: the same input in any candidate order gives the
 * same answer. Example: SUMMER10 (10 % off the order) on one 50.00 line → 5.00 off that line.
 */
export function pricePromotions(input: PromotionPricingInput): PromotionPricing {
  const grossMinor = input.lines.map((line) => line.unitPriceMinor * line.quantity);
  assert(grossMinor.every((amount) => Number.isSafeInteger(amount) && amount >= 0), 'cart lines have non-negative integer amounts');
  assert(Number.isSafeInteger(input.context.shippingMinor) && input.context.shippingMinor >= 0, 'shipping is a non-negative integer');
  const cart: CartView = { lines: input.lines, grossMinor, subtotalMinor: grossMinor.reduce((sum, amount) => sum + amount, 0), context: input.context };
  const notApplied: NotAppliedPromotion[] = input.unknownCodes.map((code) => ({ promotion: null, code, reason: 'unknown_code', message: `No promotion has the code ${code}` }));
  const eligible: PromotionCandidate[] = [];
  // Ranked once, so every list below comes out in the same order whatever order the input had.
  for (const candidate of uniqueCandidates(input.candidates).sort(byRank)) {
    const refusal = whyNotEligible(candidate.promotion, cart, input.usage.get(candidate.promotion.id) ?? { total: 0, byCustomer: 0 });
    if (refusal) notApplied.push({ ...candidate, ...refusal });
    else eligible.push(candidate);
  }
  const { taken, refused } = selectCompatible(eligible);
  notApplied.push(...refused);
  const remaining = [...grossMinor];
  let shippingLeft = input.context.shippingMinor;
  const applied: AppliedPromotion[] = [];
  for (const candidate of [...taken].sort((a, b) => phaseOf(a.promotion.action) - phaseOf(b.promotion.action) || byRank(a, b))) {
    const amounts = priceAction(candidate.promotion.action, cart, remaining, shippingLeft);
    const amountMinor = amounts.lines.reduce((sum, amount) => sum + amount, 0) + amounts.shipping;
    if (amountMinor === 0) {
      notApplied.push({ ...candidate, reason: 'nothing_left', message: `Nothing is left for ${label(candidate)} to take off` });
      continue;
    }
    amounts.lines.forEach((amount, index) => {
      assert(amount >= 0 && amount <= remaining[index]!, 'a promotion takes at most what is left of a line');
      remaining[index]! -= amount;
    });
    assert(amounts.shipping >= 0 && amounts.shipping <= shippingLeft, 'a promotion takes at most what is left of shipping');
    shippingLeft -= amounts.shipping;
    applied.push({ ...candidate, amountMinor, lineAmountsMinor: amounts.lines, shippingMinor: amounts.shipping });
  }
  return {
    grossMinor,
    lineDiscountMinor: grossMinor.map((gross, index) => gross - remaining[index]!),
    shippingDiscountMinor: input.context.shippingMinor - shippingLeft,
    applied,
    notApplied,
  };
}

interface CartView {
  lines: readonly PricingLine[];
  grossMinor: readonly number[];
  subtotalMinor: number;
  context: PricingContext;
}

type Refusal = { reason: NotAppliedReason; message: string };

/** One candidate per promotion: a code given for an automatic promotion does not make it apply twice. */
function uniqueCandidates(candidates: readonly PromotionCandidate[]): PromotionCandidate[] {
  const byId = new Map<string, PromotionCandidate>();
  for (const candidate of candidates) {
    const held = byId.get(candidate.promotion.id);
    if (!held || (held.code === null && candidate.code !== null)) byId.set(candidate.promotion.id, candidate);
  }
  return [...byId.values()];
}

function byRank(a: PromotionCandidate, b: PromotionCandidate): number {
  return b.promotion.priority - a.promotion.priority || (a.promotion.id < b.promotion.id ? -1 : a.promotion.id > b.promotion.id ? 1 : 0);
}

function label(candidate: { promotion: Promotion; code: string | null }): string {
  return candidate.promotion.code ?? candidate.promotion.name;
}

function money(amountMinor: number, currency: string): string {
  return minorToDecimal(amountMinor, currency);
}

/** The first condition that does not hold, in a fixed order; undefined when the promotion is eligible. */
function whyNotEligible(promotion: Promotion, cart: CartView, usage: PromotionUsage): Refusal | undefined {
  return whyNotNow(promotion, cart.context) ?? whyNotThisCustomer(promotion, cart.context) ?? whyNotThisCart(promotion, cart) ?? whyNotWithinLimits(promotion, cart.context, usage);
}

function whyNotNow(promotion: Promotion, context: PricingContext): Refusal | undefined {
  const { conditions } = promotion;
  if (!promotion.active) return { reason: 'inactive', message: `${promotion.name} has been deactivated` };
  if (promotion.startsAt !== null && context.at < promotion.startsAt) return { reason: 'not_started', message: `${promotion.name} starts at ${promotion.startsAt}` };
  if (promotion.endsAt !== null && context.at >= promotion.endsAt) return { reason: 'ended', message: `${promotion.name} ended at ${promotion.endsAt}` };
  if (!promotion.channels.includes(context.channel)) return { reason: 'not_in_channel', message: `${promotion.name} is not valid ${context.channel === 'store' ? 'in store' : 'online'}` };
  if (conditions.locationIds.length > 0 && (context.locationId === null || !conditions.locationIds.includes(context.locationId))) {
    return { reason: 'not_at_location', message: `${promotion.name} is valid only at ${conditions.locationIds.join(', ')}` };
  }
  if (conditions.hours && !isWithinHours(conditions.hours, context.at)) {
    const { days, start, end, timeZone } = conditions.hours;
    return { reason: 'outside_hours', message: `${promotion.name} is valid on ISO weekdays ${days.join(', ')} from ${start} to ${end} (${timeZone})` };
  }
  return undefined;
}

function whyNotThisCustomer(promotion: Promotion, context: PricingContext): Refusal | undefined {
  const { conditions } = promotion;
  const needsCustomer = conditions.customerTiers.length > 0 || conditions.memberships.length > 0 || conditions.firstOrder || promotion.perCustomerUsageMax !== null;
  if (!needsCustomer) return undefined;
  const customer = context.customer;
  if (customer === null) return { reason: 'customer_required', message: `${promotion.name} depends on who the customer is: name her` };
  const tierOk = conditions.customerTiers.length > 0 && customer.tier !== null && conditions.customerTiers.includes(customer.tier);
  const membershipOk = conditions.memberships.length > 0 && customer.memberships.some((name) => conditions.memberships.includes(name));
  if (conditions.customerTiers.length > 0 && conditions.memberships.length > 0 && !tierOk && !membershipOk) {
    return { reason: 'tier_or_membership_required', message: `${promotion.name} is for tiers ${conditions.customerTiers.join(', ')} or members of ${conditions.memberships.join(', ')}` };
  }
  if (conditions.customerTiers.length > 0 && conditions.memberships.length === 0 && !tierOk) {
    return { reason: 'tier_required', message: `${promotion.name} is for tiers ${conditions.customerTiers.join(', ')}; the customer is ${customer.tier ?? 'in no tier'}` };
  }
  if (conditions.memberships.length > 0 && conditions.customerTiers.length === 0 && !membershipOk) {
    return { reason: 'membership_required', message: `${promotion.name} is for members of ${conditions.memberships.join(', ')}` };
  }
  if (conditions.firstOrder && customer.hasEarlierOrder) return { reason: 'first_order_only', message: `${promotion.name} is for a first order, and the customer has ordered before` };
  return undefined;
}

function whyNotThisCart(promotion: Promotion, cart: CartView): Refusal | undefined {
  const { conditions } = promotion;
  const currency = cart.context.currency;
  if (conditions.minSubtotalMinor !== null && cart.subtotalMinor < conditions.minSubtotalMinor) {
    return { reason: 'min_subtotal', message: `${promotion.name} needs ${money(conditions.minSubtotalMinor, currency)}, cart has ${money(cart.subtotalMinor, currency)}` };
  }
  const items = conditions.items;
  if (items && !cart.lines.some((line) => selectorMatches(items, line))) {
    return { reason: 'products_required', message: `${promotion.name} needs one of ${describeSelector(items)} in the cart` };
  }
  return whyNothingToDiscount(promotion, cart);
}

function nothingMatches(promotion: Promotion, what: string): Refusal {
  return { reason: 'no_matching_items', message: `${promotion.name} needs ${what} in the cart` };
}

function whyNothingToDiscount(promotion: Promotion, cart: CartView): Refusal | undefined {
  const action = promotion.action;
  switch (action.type) {
    case 'percent_off_lines':
    case 'amount_off_lines':
      return cart.lines.some((line) => selectorMatches(action.items, line)) ? undefined : nothingMatches(promotion, `one of ${describeSelector(action.items)}`);
    case 'buy_x_get_y':
      return buyGetUnits(action, cart.lines).applications > 0 ? undefined : nothingMatches(promotion, `${action.buy.quantity} of ${describeSelector(action.buy)} and ${action.get.quantity} of ${describeSelector(action.get)}`);
    case 'free_item':
      return cart.lines.some((line) => line.sku === action.sku) ? undefined : nothingMatches(promotion, action.sku);
    case 'member_price':
      return cart.lines.some((line) => action.prices.some((price) => price.sku === line.sku)) ? undefined : nothingMatches(promotion, `one of ${action.prices.map((price) => price.sku).join(', ')}`);
    case 'free_shipping':
      return cart.context.shippingMinor > 0 ? undefined : { reason: 'no_shipping', message: `${promotion.name} is free shipping, and the cart has no shipping to pay` };
    default:
      return undefined;
  }
}

function whyNotWithinLimits(promotion: Promotion, context: PricingContext, usage: PromotionUsage): Refusal | undefined {
  if (promotion.totalUsageMax !== null && usage.total >= promotion.totalUsageMax) {
    return { reason: 'usage_limit_total', message: `${promotion.name} may be used ${promotion.totalUsageMax} time(s) in all, across channels, and has been used ${usage.total}` };
  }
  if (promotion.perCustomerUsageMax !== null && context.customer !== null && usage.byCustomer >= promotion.perCustomerUsageMax) {
    return { reason: 'usage_limit_per_customer', message: `${promotion.name} may be used ${promotion.perCustomerUsageMax} time(s) per customer, across channels, and this customer has used it ${usage.byCustomer}` };
  }
  return undefined;
}

function describeSelector(selector: ItemSelector): string {
  return [...selector.skus, ...selector.productIds].join(', ') || 'any item';
}

const hoursFormats = new Map<string, Intl.DateTimeFormat>();
const weekdayNumbers: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const hoursFormatsMax = 1_000;

/** The last instant and zone converted: every promotion of one cart asks about the same instant. */
let lastLocalTime: { at: string; timeZone: string; local: { day: number; time: string } } | null = null;

/** The weekday and "HH:MM" of an instant in a time zone, by the runtime's time-zone data. */
function localWeekdayAndTime(at: string, timeZone: string): { day: number; time: string } {
  if (lastLocalTime && lastLocalTime.at === at && lastLocalTime.timeZone === timeZone) return lastLocalTime.local;
  let format = hoursFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    if (hoursFormats.size < hoursFormatsMax) hoursFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(at)).map((part) => [part.type, part.value]));
  const day = weekdayNumbers[parts['weekday'] ?? ''];
  assert(day !== undefined, `a weekday for ${at} in ${timeZone}`);
  const local = { day, time: `${parts['hour']}:${parts['minute']}` };
  lastLocalTime = { at, timeZone, local };
  return local;
}

export function isWithinHours(hours: HoursCondition, at: string): boolean {
  const local = localWeekdayAndTime(at, hours.timeZone);
  return hours.days.includes(local.day) && hours.start <= local.time && local.time < hours.end;
}

/** Walks the ranking: an exclusive promotion applies alone; two non-stackable ones never combine. */
function selectCompatible(ranked: PromotionCandidate[]): { taken: PromotionCandidate[]; refused: NotAppliedPromotion[] } {
  const taken: PromotionCandidate[] = [];
  const refused: NotAppliedPromotion[] = [];
  for (const candidate of ranked) {
    const exclusive = taken.find((held) => held.promotion.exclusive);
    if (exclusive) {
      refused.push({ ...candidate, reason: 'exclusive_conflict', message: `${label(exclusive)} applies alone, and ranks before ${label(candidate)}` });
    } else if (candidate.promotion.exclusive && taken.length > 0) {
      refused.push({ ...candidate, reason: 'exclusive_conflict', message: `${label(candidate)} applies only alone, and ${taken.map(label).join(', ')} rank(s) before it` });
    } else if (!candidate.promotion.stackable && taken.some((held) => !held.promotion.stackable)) {
      const other = taken.find((held) => !held.promotion.stackable)!;
      refused.push({ ...candidate, reason: 'not_stackable', message: `${label(candidate)} does not combine with ${label(other)}, which ranks before it` });
    } else {
      taken.push(candidate);
    }
  }
  return { taken, refused };
}

/** Member prices first, then other line discounts, then the order, then shipping. */
function phaseOf(action: PromotionAction): number {
  switch (action.type) {
    case 'member_price':
      return 0;
    case 'free_item':
    case 'buy_x_get_y':
    case 'percent_off_lines':
    case 'amount_off_lines':
      return 1;
    case 'percent_off_order':
    case 'amount_off_order':
      return 2;
    case 'free_shipping':
      return 3;
  }
}

/** What `units` of a line's `quantity` hold of what is left of it, by largest remainder. */
function shareOfUnits(remainingMinor: number, units: number, quantity: number): number {
  if (units >= quantity) return remainingMinor;
  return allocateMinor(remainingMinor, [units, quantity - units])[0]!;
}

/** Spreads an amount over weights (what is left of the target lines) by largest remainder. */
function spread(amountMinor: number, weights: number[]): number[] {
  return allocateMinor(amountMinor, weights);
}

/** What is left of each line the selector names (all lines for null); 0 for the others. */
function weightsOf(cart: CartView, remaining: readonly number[], items: ItemSelector | null): number[] {
  return cart.lines.map((line, index) => (items === null || selectorMatches(items, line) ? remaining[index]! : 0));
}

function sumOf(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function priceAction(action: PromotionAction, cart: CartView, remaining: readonly number[], shippingLeft: number): { lines: number[]; shipping: number } {
  switch (action.type) {
    case 'percent_off_order':
    case 'percent_off_lines': {
      const weights = weightsOf(cart, remaining, action.type === 'percent_off_lines' ? action.items : null);
      return { lines: spread(applyBasisPoints(sumOf(weights), action.percentBps), weights), shipping: 0 };
    }
    case 'amount_off_order':
    case 'amount_off_lines': {
      const weights = weightsOf(cart, remaining, action.type === 'amount_off_lines' ? action.items : null);
      return { lines: spread(Math.min(action.amountMinor, sumOf(weights)), weights), shipping: 0 };
    }
    case 'member_price':
      return {
        lines: cart.lines.map((line, index) => {
          const price = action.prices.find((candidate) => candidate.sku === line.sku);
          return price ? Math.min(remaining[index]!, Math.max(0, (line.unitPriceMinor - price.unitPriceMinor) * line.quantity)) : 0;
        }),
        shipping: 0,
      };
    case 'free_item': {
      let unitsLeft = action.quantity;
      return {
        lines: cart.lines.map((line, index) => {
          if (line.sku !== action.sku || unitsLeft === 0) return 0;
          const units = Math.min(unitsLeft, line.quantity);
          unitsLeft -= units;
          return shareOfUnits(remaining[index]!, units, line.quantity);
        }),
        shipping: 0,
      };
    }
    case 'buy_x_get_y': {
      const { getUnits } = buyGetUnits(action, cart.lines);
      return { lines: getUnits.map((units, index) => (units === 0 ? 0 : applyBasisPoints(shareOfUnits(remaining[index]!, units, cart.lines[index]!.quantity), action.get.percentBps))), shipping: 0 };
    }
    case 'free_shipping':
      return { lines: cart.lines.map(() => 0), shipping: shippingLeft };
  }
}

/**
 * How many times a buy-X-get-Y applies and which units it discounts. Units are counted by line:
 * those only in the buy set (a), only in the get set (b), in both (c). It applies k times when k×buy
 * units and k×get units can be found without using a unit twice: max(0, k·N − a) + max(0, k·M − b)
 * ≤ c. The discounted units are the cheapest of the get set (ties to the earlier line), using no
 * more units of both sets than the buys leave.
 */
export function buyGetUnits(action: Extract<PromotionAction, { type: 'buy_x_get_y' }>, lines: readonly PricingLine[]): { applications: number; getUnits: number[] } {
  const inBuy = lines.map((line) => selectorMatches(action.buy, line));
  const inGet = lines.map((line) => selectorMatches(action.get, line));
  let onlyBuy = 0;
  let onlyGet = 0;
  let both = 0;
  lines.forEach((line, index) => {
    if (inBuy[index] && inGet[index]) both += line.quantity;
    else if (inBuy[index]) onlyBuy += line.quantity;
    else if (inGet[index]) onlyGet += line.quantity;
  });
  const buyQuantity = action.buy.quantity;
  const getQuantity = action.get.quantity;
  const feasible = (k: number) => Math.max(0, k * buyQuantity - onlyBuy) + Math.max(0, k * getQuantity - onlyGet) <= both;
  let low = 0;
  let high = Math.min(Math.floor((onlyBuy + onlyGet + both) / (buyQuantity + getQuantity)), action.usesPerOrderMax ?? buyGetApplicationsMax, buyGetApplicationsMax);
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (feasible(middle)) low = middle;
    else high = middle - 1;
  }
  const applications = low;
  let unitsWanted = applications * getQuantity;
  let sharedUnitsLeft = both - Math.max(0, applications * buyQuantity - onlyBuy);
  const getUnits = lines.map(() => 0);
  const cheapestFirst = lines.map((line, index) => ({ line, index })).filter(({ index }) => inGet[index]).sort((a, b) => a.line.unitPriceMinor - b.line.unitPriceMinor || a.index - b.index);
  for (const { line, index } of cheapestFirst) {
    if (unitsWanted === 0) break;
    const units = Math.min(line.quantity, unitsWanted, inBuy[index] ? sharedUnitsLeft : Number.MAX_SAFE_INTEGER);
    getUnits[index] = units;
    unitsWanted -= units;
    if (inBuy[index]) sharedUnitsLeft -= units;
  }
  assert(unitsWanted === 0, 'a feasible buy-X-get-Y finds all its get units');
  return { applications, getUnits };
}
