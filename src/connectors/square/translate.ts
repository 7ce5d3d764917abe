import type { ChannelStockChange, ChannelStockChangesCommand, RecordOrderCommand, RecordRefundCommand } from '../../commands/index.ts';
import type { AddressInput, CustomerClaim } from '../../customers/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { toIso } from '../../shared/clock.ts';
import { parseRefundMarker } from '../refund-marker.ts';
import {
  squareCustomerDeletedSchema, squareCustomerSchema, squareEnvelopeSchema, squareInventoryCountSchema, squareOrderSummarySchema, squarePaymentSchema, squareRefundSchema,
  type SquareCustomer, type SquareInventoryChange, type SquareInventoryCount, type SquareMoney, type SquareOrder, type SquareRefund,
} from './types.ts';

/** protocols.md C4: an `inventory.count.updated` notification carries at most 100 counts. */
export const INVENTORY_COUNTS_PER_EVENT_MAX = 100;

/** What one stored notification asks of Continuum, decided from the notification alone. */
export type SquareEventPlan =
  /** `paymentId`: the payment the notification reports, null for an order notification. */
  | { action: 'record_order'; orderId: string; paymentId: string | null }
  | { action: 'record_refund'; refund: SquareRefund }
  /** A refund Square reports REJECTED or FAILED: if it is one Continuum pushed, a person must refund by hand. */
  | { action: 'refund_failed'; refund: SquareRefund }
  | { action: 'record_stock'; counts: SquareInventoryCount[] }
  | { action: 'resolve_customer'; customer: SquareCustomer }
  /** `mergedInto`: the customer a Square merge made of the deleted one, null for a plain deletion. */
  | { action: 'unlink_customer'; squareCustomerId: string; mergedInto: string | null }
  | { action: 'ignore'; note: string };

type SafeParser<T> = { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } };

function parsePayload<T>(schema: SafeParser<T>, payload: unknown, what: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    throw new AppError('connectors.square.invalid_payload', `The ${what} does not have the expected shape: ${issues[0]?.path} ${issues[0]?.message}`, { issues });
  }
  return result.data;
}

/**
 * Square quantities are decimal strings ("1", "90.00000", "-2" for an oversold count). Continuum
 * counts whole units, so a fraction (an item sold by weight) fails loudly rather than being rounded.
 */
export function parseSquareQuantity(text: string, field: string): number {
  const match = /^(-?\d+)(?:\.(0*))?$/.exec(text.trim());
  const quantity = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(quantity)) {
    throw new AppError('connectors.square.fractional_quantity', `${field} is "${text}"; Continuum counts whole units only`, { field, quantity: text });
  }
  return quantity;
}

/**
 * Decides what a notification asks for (protocols.md C4, C5). Register sales come as
 * `payment.created`/`payment.updated`; POS orders send no order webhooks, so `order.*` covers orders
 * made through the Orders API. Statuses other than COMPLETED are ignored: a payment or refund is
 * recorded once, when Square reports it done.
 */
export function planSquareEvent(payload: unknown): SquareEventPlan {
  const envelope = parsePayload(squareEnvelopeSchema, payload, 'notification');
  const object = envelope.data.object ?? {};
  switch (envelope.type) {
    case 'payment.created':
    case 'payment.updated': {
      const payment = parsePayload(squarePaymentSchema, object['payment'], `${envelope.type} payment`);
      if (payment.status !== 'COMPLETED') return { action: 'ignore', note: `payment ${payment.id} is ${payment.status}; a sale is recorded once its payment is COMPLETED` };
      if (!payment.order_id) return { action: 'ignore', note: `payment ${payment.id} names no order, so it has no lines to record` };
      return { action: 'record_order', orderId: payment.order_id, paymentId: payment.id };
    }
    case 'order.created':
    case 'order.updated': {
      const summary = parsePayload(squareOrderSummarySchema, object[envelope.type === 'order.created' ? 'order_created' : 'order_updated'], `${envelope.type} summary`);
      if (summary.state !== 'COMPLETED') return { action: 'ignore', note: `order ${summary.order_id} is ${summary.state ?? 'of unknown state'}; it is recorded when completed or paid` };
      return { action: 'record_order', orderId: summary.order_id, paymentId: null };
    }
    case 'refund.created':
    case 'refund.updated': {
      const refund = parsePayload(squareRefundSchema, object['refund'], `${envelope.type} refund`);
      // PaymentRefund.status: PENDING, then COMPLETED, REJECTED or FAILED (protocols.md C: refunds).
      if (refund.status === 'REJECTED' || refund.status === 'FAILED') return { action: 'refund_failed', refund };
      if (refund.status !== 'COMPLETED') return { action: 'ignore', note: `refund ${refund.id} is ${refund.status}; it is recorded once COMPLETED` };
      if (!refund.order_id) return { action: 'ignore', note: `refund ${refund.id} names no order` };
      return { action: 'record_refund', refund };
    }
    case 'inventory.count.updated':
      return { action: 'record_stock', counts: readInventoryCounts(object) };
    case 'customer.created':
    case 'customer.updated':
      return { action: 'resolve_customer', customer: parsePayload(squareCustomerSchema, object['customer'], `${envelope.type} customer`) };
    case 'customer.deleted': {
      // A Square merge sends customer.created for the new customer and customer.deleted for each
      // merged one (protocols.md C5). Either way the profile stays ours, with its history and points;
      // only the deleted Square id is unlinked from it.
      const deleted = parsePayload(squareCustomerDeletedSchema, object, 'customer.deleted object');
      return { action: 'unlink_customer', squareCustomerId: deleted.customer.id, mergedInto: deleted.event_context?.merge?.to_customer_id ?? null };
    }
    default:
      return { action: 'ignore', note: `type ${envelope.type} is kept but not applied` };
  }
}

/** `data.type` is not fixed (protocols.md C4), so the counts are read from the object's `inventory_counts`. */
function readInventoryCounts(object: Record<string, unknown>): SquareInventoryCount[] {
  const counts = parsePayload(squareInventoryCountSchema.array(), object['inventory_counts'], 'inventory.count.updated counts');
  if (counts.length > INVENTORY_COUNTS_PER_EVENT_MAX) {
    throw new AppError('connectors.square.invalid_payload', `An inventory notification carries at most ${INVENTORY_COUNTS_PER_EVENT_MAX} counts; this one has ${counts.length}`, { count: counts.length });
  }
  return counts;
}

/** The amount of a Square Money in the order's currency; a mix of currencies is an invalid order. */
function amountIn(money: SquareMoney | null | undefined, currency: string, field: string): number {
  if (!money) return 0;
  if (money.currency !== currency) throw new AppError('connectors.square.invalid_payload', `${field} is in ${money.currency}, the order in ${currency}`, { field, currency: money.currency });
  return money.amount;
}

function lineTitle(line: SquareOrder['line_items'][number]): string {
  if (line.name && line.variation_name) return `${line.name} - ${line.variation_name}`;
  return line.name ?? line.variation_name ?? 'Custom amount';
}

/**
 * A Square Order read by RetrieveOrder → RecordOrder. Square computes, per line, gross sales = base
 * price × quantity and total = gross − discounts + additive taxes, and sums the lines into the order
 * (https://developer.squareup.com/docs/orders-api/how-it-works). Anything that does not add up that
 * way (modifiers, inclusive taxes, a missing line) fails loudly instead of recording wrong money.
 */
export function translateSquareOrder(order: SquareOrder, customer: SquareCustomer | null, paymentId: string | null = null): RecordOrderCommand {
  const currency = order.total_money.currency;
  if (order.line_items.length === 0) throw new AppError('connectors.square.invalid_payload', `Order ${order.id} has no line items`, { order_id: order.id });
  if (order.taxes.some((tax) => tax.type === 'INCLUSIVE')) {
    throw new AppError('connectors.square.unsupported_order', `Order ${order.id} has inclusive taxes, which Continuum's order totals do not represent yet`, { order_id: order.id });
  }
  const lines = order.line_items.map((line) => {
    const quantity = parseSquareQuantity(line.quantity, `order ${order.id} line ${line.uid} quantity`);
    const unitPriceMinor = amountIn(line.base_price_money, currency, 'base_price_money');
    if (quantity <= 0 || amountIn(line.gross_sales_money, currency, 'gross_sales_money') !== unitPriceMinor * quantity) {
      throw new AppError('connectors.square.inconsistent_totals', `Order ${order.id} line ${line.uid}: gross sales is not base price × quantity (modifiers are not supported yet)`, { order_id: order.id, line_uid: line.uid });
    }
    return {
      sourceRef: line.uid, channelVariantId: line.catalog_object_id ?? null, sku: null, title: lineTitle(line), quantity, unitPriceMinor,
      discountMinor: amountIn(line.total_discount_money, currency, 'total_discount_money'), taxMinor: amountIn(line.total_tax_money, currency, 'total_tax_money'), giftCard: line.item_type === 'GIFT_CARD',
    };
  });
  const subtotalMinor = lines.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
  const discountMinor = lines.reduce((sum, line) => sum + line.discountMinor, 0);
  const taxMinor = lines.reduce((sum, line) => sum + line.taxMinor, 0);
  const goodsMinor = subtotalMinor - discountMinor + taxMinor;
  // Tips and service charges are not goods: the unified order records goods, the tenders record
  // what was paid. Square's reference leaves open whether `total_money` includes the tip, so both
  // readings are accepted; any other difference is an order Continuum would misrecord.
  const tipMinor = amountIn(order.total_tip_money, currency, 'total_tip_money');
  const serviceChargeMinor = amountIn(order.total_service_charge_money, currency, 'total_service_charge_money');
  const totalMinor = amountIn(order.total_money, currency, 'total_money');
  const totalsAddUp = totalMinor === goodsMinor + serviceChargeMinor + tipMinor || totalMinor === goodsMinor + serviceChargeMinor;
  if (discountMinor !== amountIn(order.total_discount_money, currency, 'total_discount_money') || taxMinor !== amountIn(order.total_tax_money, currency, 'total_tax_money') || !totalsAddUp) {
    throw new AppError('connectors.square.inconsistent_totals', `Order ${order.id}: lines, discounts and tax do not add up to the total`, { subtotal_minor: subtotalMinor, discount_minor: discountMinor, tax_minor: taxMinor, tip_minor: tipMinor, service_charge_minor: serviceChargeMinor, total_minor: totalMinor });
  }
  return {
    source: 'square',
    sourceRef: order.id,
    // Square orders come from the register (Point of Sale) here; Square Online is not connected.
    channel: 'store',
    orderNumber: order.reference_id ?? null,
    placedAt: toIso(order.created_at),
    sourceUpdatedAt: order.updated_at ? toIso(order.updated_at) : null,
    currency,
    status: order.state.toLowerCase(),
    customer: orderCustomerClaim(order, customer),
    channelLocationId: order.location_id,
    lines,
    subtotalMinor,
    discountMinor,
    shippingMinor: 0,
    taxMinor,
    totalMinor: goodsMinor,
    // Square discounts are catalog discounts with display names, not codes a shopper typed.
    discountCodes: [],
    automaticDiscounts: [],
    payments: order.tenders.map((tender) => ({ method: tender.type.toLowerCase(), amountMinor: amountIn(tender.amount_money, currency, 'tender amount_money'), ...tenderPaymentRef(order, tender, paymentId) })),
  };
}

/**
 * The Square payment a tender was paid by, which a refund pushed to Square names (RefundPayment
 * `payment_id`): the tender's own `payment_id`, else, for an order paid by one tender, the payment
 * whose notification recorded it. Nothing when neither says (a split tender without ids): the
 * payment stays without a reference, and a refund to it cannot be pushed.
 */
function tenderPaymentRef(order: SquareOrder, tender: SquareOrder['tenders'][number], paymentId: string | null): { sourceRef: string } | Record<string, never> {
  const ref = tender.payment_id ?? (order.tenders.length === 1 ? paymentId : null);
  return ref ? { sourceRef: ref } : {};
}

/** The order's buyer: her Square customer id, and what RetrieveCustomer told about her when it could. */
function orderCustomerClaim(order: SquareOrder, customer: SquareCustomer | null): CustomerClaim | null {
  if (!order.customer_id) return null;
  if (customer && customer.id === order.customer_id) return translateSquareCustomer(customer);
  return { channelIds: [{ kind: 'square_id', value: order.customer_id }], source: 'square' };
}

function addressInput(address: NonNullable<SquareCustomer['address']>): AddressInput {
  return {
    line1: address.address_line_1 ?? null, line2: address.address_line_2 ?? null, city: address.locality ?? null, region: address.administrative_district_level_1 ?? null,
    postalCode: address.postal_code ?? null, countryCode: address.country ?? null, phone: null, isDefault: true,
  };
}

/**
 * A Square customer → the claim that resolves her profile. Square does not verify emails, so none is
 * marked verified. `preferences.email_unsubscribed: true` is her choice to stop marketing email;
 * false says only that she did not unsubscribe, not that she subscribed, so it records nothing.
 */
export function translateSquareCustomer(customer: SquareCustomer): CustomerClaim {
  return {
    channelIds: [{ kind: 'square_id', value: customer.id }],
    email: customer.email_address ?? null,
    emailVerified: false,
    phone: customer.phone_number ?? null,
    firstName: customer.given_name ?? null,
    lastName: customer.family_name ?? null,
    addresses: customer.address ? [addressInput(customer.address)] : [],
    consents: customer.preferences?.email_unsubscribed === true ? [{ topic: 'email_marketing', state: 'unsubscribed' }] : [],
    note: customer.note ?? null,
    source: 'square',
  };
}

/**
 * Continuum's pushes to Square (BatchChangeInventory) carry a `reference_id` starting with this, so
 * a change with it, read back from Square, is recognised as our own echo and not applied again.
 */
export const CONTINUUM_REFERENCE_PREFIX = 'continuum:';

/** The state of units on the shelf (https://developer.squareup.com/reference/square/objects/InventoryState). */
const ON_SHELF = 'IN_STOCK';
/**
 * Moves to or from these states are sales, or Square holding units for a sale; the sale arrives as
 * its order (payment → RetrieveOrder), which moves our stock. Applying them too would count it twice.
 */
const ORDER_STATES = new Set(['SOLD', 'SOLD_ONLINE', 'RESERVED_FOR_SALE']);
/** Units coming onto the shelf from these states were received (stock added, a vendor delivery). */
const RECEIVED_STATES = new Set(['NONE', 'RECEIVED_FROM_VENDOR', 'ORDERED_FROM_VENDOR']);
/**
 * Units a customer returned at the register, put back on the shelf. The refund records the return
 * without restocking it (translateSquareRefund), because only this change says the units went
 * back on the shelf; so it is applied here, once.
 */
const RETURNED_STATES = new Set(['RETURNED_BY_CUSTOMER', 'UNLINKED_RETURN']);

/** The place and time of a classified Square change. */
export type SquareStockChange = ChannelStockChange & { catalogObjectId: string; locationId: string; createdAt: string | null };

/**
 * How one Square InventoryChange moves our on hand at its location:
 * - a reference_id starting `continuum:` is our own push: skipped as an echo;
 * - PHYSICAL_COUNT of IN_STOCK: on hand was counted (other states are not the shelf);
 * - ADJUSTMENT between IN_STOCK and SOLD, SOLD_ONLINE or RESERVED_FOR_SALE: skipped, the order records it;
 * - any other ADJUSTMENT to or from IN_STOCK (WASTE for damage, theft or loss; NONE or
 *   RECEIVED_FROM_VENDOR for received stock; RETURNED_BY_CUSTOMER for a restocked return; IN_TRANSIT…):
 *   on hand goes up or down by its quantity;
 * - an adjustment between two other states does not touch the shelf.
 * Quantities are whole units (parseSquareQuantity); an adjustment moves a positive quantity.
 */
export function classifySquareInventoryChange(change: SquareInventoryChange): SquareStockChange {
  const record = change.physical_count ?? change.adjustment;
  if (!record || (change.type !== 'PHYSICAL_COUNT' && change.type !== 'ADJUSTMENT')) {
    throw new AppError('connectors.square.invalid_payload', `Inventory change of type ${change.type} is not a physical count or an adjustment`, { type: change.type });
  }
  const base = { changeId: record.id, occurredAt: toIso(record.occurred_at), catalogObjectId: record.catalog_object_id, locationId: record.location_id, createdAt: record.created_at ? toIso(record.created_at) : null };
  const quantity = parseSquareQuantity(record.quantity, `inventory change ${record.id} quantity`);
  if (record.reference_id?.startsWith(CONTINUUM_REFERENCE_PREFIX)) return { ...base, action: 'skip', why: 'echo' };
  if (change.physical_count) {
    if (change.physical_count.state !== ON_SHELF) return { ...base, action: 'skip', why: 'off_shelf' };
    return { ...base, action: 'count', onHand: quantity, reason: `Counted ${quantity} in Square` };
  }
  const adjustment = change.adjustment;
  assert(adjustment, 'an ADJUSTMENT change carries its adjustment (squareInventoryChangeSchema)');
  if (quantity <= 0) throw new AppError('connectors.square.invalid_payload', `Inventory adjustment ${adjustment.id} moves ${adjustment.quantity} units; an adjustment moves a positive quantity`, { change_id: adjustment.id });
  const leaving = adjustment.from_state === ON_SHELF;
  const other = leaving ? adjustment.to_state : adjustment.from_state;
  if (leaving === (adjustment.to_state === ON_SHELF)) return { ...base, action: 'skip', why: 'off_shelf' };
  if (ORDER_STATES.has(other)) return { ...base, action: 'skip', why: 'order' };
  const kind = leaving ? 'adjust' : RECEIVED_STATES.has(other) ? 'receive' : RETURNED_STATES.has(other) ? 'return' : 'adjust';
  return { ...base, action: 'move', kind, onHandDelta: leaving ? -quantity : quantity, reason: `Square ${adjustment.from_state} → ${adjustment.to_state}, ${quantity} unit${quantity === 1 ? '' : 's'}` };
}

/**
 * `inventory.count.updated` plus the changes read behind it → one command per item and location
 * with an IN_STOCK count (a state change sends two counts, protocols.md C4; only IN_STOCK is the
 * shelf). Each command holds that place's changes, oldest first, and the count Square reported.
 * Changes of places the notification does not name are left out: their own notification brings them.
 */
export function translateSquareStockChanges(counts: SquareInventoryCount[], changes: SquareInventoryChange[], eventRef: string): ChannelStockChangesCommand[] {
  const classified = changes.map(classifySquareInventoryChange);
  return readInStockCounts(counts).map((count) => ({
    channel: 'square' as const,
    channelItemId: count.catalog_object_id,
    channelLocationId: count.location_id,
    changes: classified
      .filter((change) => change.catalogObjectId === count.catalog_object_id && change.locationId === count.location_id)
      .sort(compareChanges)
      .map(({ catalogObjectId: _item, locationId: _location, createdAt: _created, ...change }) => change),
    reported: { available: parseSquareQuantity(count.quantity, `count of ${count.catalog_object_id} at ${count.location_id}`), reportedAt: toIso(count.calculated_at) },
    eventRef,
  }));
}

/** The IN_STOCK count of each item and location a notification names, the newest when one is named twice. */
export function readInStockCounts(counts: SquareInventoryCount[]): SquareInventoryCount[] {
  const byPlace = new Map<string, SquareInventoryCount>();
  for (const count of counts) {
    if (count.state !== ON_SHELF) continue;
    const key = `${count.catalog_object_id}\u0000${count.location_id}`;
    const held = byPlace.get(key);
    if (!held || toIso(held.calculated_at) < toIso(count.calculated_at)) byPlace.set(key, count);
  }
  return [...byPlace.values()];
}

/** As they happened: `occurred_at`, then as Square received them, then by id so the order is total. */
function compareChanges(left: SquareStockChange, right: SquareStockChange): number {
  return left.occurredAt.localeCompare(right.occurredAt) || (left.createdAt ?? '').localeCompare(right.createdAt ?? '') || left.changeId.localeCompare(right.changeId);
}

/**
 * A COMPLETED refund → RecordRefund, or null when the sale it reverses cannot be known.
 *
 * A refund's `order_id` names the return order Square created for it; that order's `returns[]` name
 * the sale (`source_order_id`) and, for an itemized refund, each returned line
 * (`source_line_item_uid`). Sources: https://developer.squareup.com/docs/orders-api/order-returns-exchanges
 * and Square's answer in https://developer.squareup.com/forums/t/14485 ("call RetrieveOrder with the
 * refund order_id … the refunded order will have source_order_id"). `refundOrder` is that order, or
 * null when it could not be read; without `returns[]` the refund's `order_id` is taken as the sale.
 *
 * A custom-amount refund (or one whose return order could not be read) has no line detail: the
 * amount is refunded without lines, so no points are reversed and nothing is marked returned,
 * because which units came back is unknown.
 *
 * Nothing is restocked here: when the seller returns units to stock at the register, Square records
 * an adjustment RETURNED_BY_CUSTOMER → IN_STOCK and sends `inventory.count.updated`; that change,
 * read behind the count (classifySquareInventoryChange), restocks our shelf. Restocking here too
 * would count the units twice, and the refund alone cannot say whether the units went back on sale.
 */
export function translateSquareRefund(refund: SquareRefund, refundOrder: SquareOrder | null): RecordRefundCommand | null {
  const currency = refund.amount_money.currency;
  // A refund Continuum pushed names its return in the reason: it is linked to that return, not recorded again.
  const continuumReturnId = parseRefundMarker(refund.reason);
  const base = { source: 'square' as const, sourceRef: refund.id, amountMinor: refund.amount_money.amount, currency, note: refund.reason ?? null, ...(continuumReturnId ? { continuumReturnId } : {}) };
  const returns = refundOrder?.returns ?? [];
  if (returns.length === 0) {
    assert(refund.order_id, `refund ${refund.id}: only a refund that names an order is translated`);
    return { ...base, orderSourceRef: refund.order_id, lines: [] };
  }
  const saleIds = new Set(returns.map((entry) => entry.source_order_id ?? null));
  const [saleId] = saleIds;
  if (saleIds.size !== 1 || !saleId) return null;
  const lines = returns.flatMap((entry) => entry.return_line_items)
    .filter((line) => line.source_line_item_uid && line.item_type !== 'CUSTOM_AMOUNT')
    .map((line) => {
      const taxMinor = amountIn(line.total_tax_money, currency, 'total_tax_money');
      return {
        lineSourceRef: line.source_line_item_uid ?? '',
        quantity: parseSquareQuantity(line.quantity, `return line ${line.uid ?? line.source_line_item_uid} quantity`),
        amountMinor: amountIn(line.total_money, currency, 'total_money') - taxMinor,
        taxMinor,
        restock: false,
        channelLocationId: refundOrder?.location_id ?? null,
      };
    });
  return { ...base, orderSourceRef: saleId, lines };
}
