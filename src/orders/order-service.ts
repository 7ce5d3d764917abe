import type { Insertable, Selectable } from 'kysely';
import { reuseQuery, type OrderLinesTable, type OrdersTable, type ParameterPlaceholders, type Queryable, type Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type OrderChannel = 'online' | 'store';
export type OrderSource = 'shopify' | 'square' | 'pos' | 'api';

export interface NewOrderLine {
  sourceRef: string;
  variantId: string | null;
  sku: string | null;
  title: string;
  quantity: number;
  unitPriceMinor: number;
  discountMinor: number;
  taxMinor: number;
  pointsEarned: number;
  fulfilmentLocationId: string | null;
  /** Sold as final sale: the return policy refuses it unless a manager overrides. */
  finalSale?: boolean;
}

export interface OrderLine extends NewOrderLine {
  id: string;
  lineNumber: number;
  returnedQuantity: number;
}

/** What every order has, from any channel, whether about to be written or read back. */
interface OrderHeader {
  channel: OrderChannel;
  source: OrderSource;
  sourceRef: string;
  orderNumber: string | null;
  customerId: string | null;
  locationId: string | null;
  registerRef: string | null;
  status: string;
  currency: string;
  subtotalMinor: number;
  discountMinor: number;
  shippingMinor: number;
  taxMinor: number;
  totalMinor: number;
  placedAt: string;
}

export interface NewOrder extends OrderHeader {
  sourceUpdatedAt: string | null;
  exchangeOfOrderId?: string | null;
  lines: NewOrderLine[];
  discounts: { kind: 'promotion' | 'reward' | 'channel'; code: string | null; promotionId: string | null; rewardId: string | null; amountMinor: number }[];
  payments: { method: string; amountMinor: number; sourceRef: string | null }[];
}

export interface Order extends OrderHeader {
  id: string;
  refundedMinor: number;
  /** The order an exchange took back, when this order is the exchange's new goods. */
  exchangeOfOrderId: string | null;
  lines: OrderLine[];
  discounts: { kind: string; code: string | null; amountMinor: number }[];
  payments: { method: string; amountMinor: number }[];
}

function assertOrderAddsUp(order: NewOrder): void {
  const lineGross = order.lines.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
  assert(lineGross === order.subtotalMinor, `order ${order.sourceRef}: lines add up to the subtotal`);
  assert(order.subtotalMinor - order.discountMinor + order.shippingMinor + order.taxMinor === order.totalMinor, `order ${order.sourceRef}: subtotal − discounts + shipping + tax = total`);
}

// The statements every order runs, built and compiled once: Kysely's building and compiling cost
// ~70 µs of CPU per statement (found by bench/orders-end-to-end.ts, issue #9).
type OrderRow = Omit<Insertable<OrdersTable>, 'created_at' | 'updated_at' | 'refunded_minor' | 'fulfilment_status' | 'cancelled_at'> & { now: string };
const insertOrderRow = reuseQuery((db, param: ParameterPlaceholders<Required<OrderRow>>) => db
  .insertInto('orders')
  .values({
    id: param('id'), merchant_id: param('merchant_id'), channel: param('channel'), source: param('source'), source_ref: param('source_ref'), order_number: param('order_number'),
    customer_id: param('customer_id'), location_id: param('location_id'), register_ref: param('register_ref'), status: param('status'), currency: param('currency'),
    subtotal_minor: param('subtotal_minor'), discount_minor: param('discount_minor'), shipping_minor: param('shipping_minor'), tax_minor: param('tax_minor'),
    total_minor: param('total_minor'), refunded_minor: 0, placed_at: param('placed_at'), source_updated_at: param('source_updated_at'), created_at: param('now'), updated_at: param('now'),
    fulfilment_status: null, cancelled_at: null, exchange_of_order_id: param('exchange_of_order_id'),
  })
  .onConflict((conflict) => conflict.columns(['merchant_id', 'source', 'source_ref']).doNothing())
  .returning('id'));

type LineRow = Insertable<OrderLinesTable>;
const lineColumns = ['id', 'merchant_id', 'order_id', 'line_number', 'source_ref', 'variant_id', 'sku', 'title', 'quantity', 'unit_price_minor', 'discount_minor', 'tax_minor', 'points_earned', 'fulfilment_location_id', 'returned_quantity', 'final_sale'] as const;
/** Orders of up to this many lines insert them with a statement built once per count; longer ones build theirs. */
const reusedLineCountMax = 4;
// One multi-row INSERT per line count: the parameters are the rows' values in column order.
const insertLineRows = Array.from({ length: reusedLineCountMax }, (_, index) => {
  const count = index + 1;
  const statement = reuseQuery((db, param: ParameterPlaceholders<{ values: unknown[] }>) => {
    const values = param.list('values', count * lineColumns.length) as unknown[];
    const rows = Array.from({ length: count }, (_, row) => Object.fromEntries(lineColumns.map((column, at) => [column, values[row * lineColumns.length + at]])) as LineRow);
    return db.insertInto('order_lines').values(rows);
  });
  return { execute: (db: Queryable, { rows }: { rows: LineRow[] }) => statement.execute(db, { values: rows.flatMap((row) => lineColumns.map((column) => row[column])) }) };
});

const insertPaymentRow = reuseQuery((db, param: ParameterPlaceholders<{ id: string; merchant_id: string; order_id: string; method: string; amount_minor: number; currency: string; source_ref: string | null }>) => db
  .insertInto('payments')
  .values({ id: param('id'), merchant_id: param('merchant_id'), order_id: param('order_id'), method: param('method'), amount_minor: param('amount_minor'), currency: param('currency'), source_ref: param('source_ref') }));

const orderBySource = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; source: OrderSource; sourceRef: string }>) => db
  .selectFrom('orders').selectAll().where('merchant_id', '=', param('merchantId')).where('source', '=', param('source')).where('source_ref', '=', param('sourceRef')));

/**
 * Writes a unified order once per (source, source reference). Returns `created: false` and the
 * existing order when the channel sends it again.
 */
export async function insertOrder(tx: Tx, merchantId: string, order: NewOrder): Promise<{ order: Order; created: boolean }> {
  assertOrderAddsUp(order);
  const now = nowIso();
  const orderId = newId('ord');
  const [inserted] = await insertOrderRow.execute(tx, {
    id: orderId, merchant_id: merchantId, channel: order.channel, source: order.source, source_ref: order.sourceRef, order_number: order.orderNumber,
    customer_id: order.customerId, location_id: order.locationId, register_ref: order.registerRef, status: order.status, currency: order.currency,
    subtotal_minor: order.subtotalMinor, discount_minor: order.discountMinor, shipping_minor: order.shippingMinor, tax_minor: order.taxMinor,
    total_minor: order.totalMinor, placed_at: order.placedAt, source_updated_at: order.sourceUpdatedAt, now, exchange_of_order_id: order.exchangeOfOrderId ?? null,
  });
  if (!inserted) {
    const existing = await findOrderBySource(tx, merchantId, order.source, order.sourceRef);
    assert(existing, 'a conflicting order exists');
    return { order: existing, created: false };
  }
  const lineRows = order.lines.map((line, index) => ({
    id: newId('line'), merchant_id: merchantId, order_id: orderId, line_number: index + 1, source_ref: line.sourceRef, variant_id: line.variantId, sku: line.sku,
    title: line.title, quantity: line.quantity, unit_price_minor: line.unitPriceMinor, discount_minor: line.discountMinor, tax_minor: line.taxMinor,
    points_earned: line.pointsEarned, fulfilment_location_id: line.fulfilmentLocationId, returned_quantity: 0, final_sale: line.finalSale ? 1 : 0,
  }));
  const insertLines = lineRows.length <= reusedLineCountMax ? insertLineRows[lineRows.length - 1] : undefined;
  if (insertLines) await insertLines.execute(tx, { rows: lineRows });
  else await tx.insertInto('order_lines').values(lineRows).execute();
  // Discounts and payments each in one statement, and the order returned as written rather than
  // read back (four reads): found by bench/orders-end-to-end.ts, where an order ran ~47 statements.
  if (order.discounts.length > 0) {
    await tx.insertInto('order_discounts').values(order.discounts.map((discount) => ({ id: newId('odis'), merchant_id: merchantId, order_id: orderId, kind: discount.kind, code: discount.code, promotion_id: discount.promotionId, reward_id: discount.rewardId, amount_minor: discount.amountMinor }))).execute();
  }
  const paymentRows = order.payments.map((payment) => ({ id: newId('pay'), merchant_id: merchantId, order_id: orderId, method: payment.method, amount_minor: payment.amountMinor, currency: order.currency, source_ref: payment.sourceRef }));
  if (paymentRows.length === 1) await insertPaymentRow.execute(tx, paymentRows[0]!);
  else if (paymentRows.length > 1) await tx.insertInto('payments').values(paymentRows).execute();
  const written: Order = {
    id: orderId, channel: order.channel, source: order.source, sourceRef: order.sourceRef, orderNumber: order.orderNumber, customerId: order.customerId, locationId: order.locationId,
    registerRef: order.registerRef, status: order.status, currency: order.currency, subtotalMinor: order.subtotalMinor, discountMinor: order.discountMinor, shippingMinor: order.shippingMinor,
    taxMinor: order.taxMinor, totalMinor: order.totalMinor, refundedMinor: 0, exchangeOfOrderId: order.exchangeOfOrderId ?? null, placedAt: order.placedAt,
    lines: lineRows.map(toOrderLine),
    discounts: order.discounts.map((discount) => ({ kind: discount.kind, code: discount.code, amountMinor: discount.amountMinor })),
    payments: order.payments.map((payment) => ({ method: payment.method, amountMinor: payment.amountMinor })),
  };
  return { order: written, created: true };
}

function toOrderLine(row: Omit<Selectable<OrderLinesTable>, 'merchant_id' | 'order_id'>): OrderLine {
  return {
    id: row.id, lineNumber: row.line_number, sourceRef: row.source_ref, variantId: row.variant_id, sku: row.sku, title: row.title, quantity: row.quantity,
    unitPriceMinor: row.unit_price_minor, discountMinor: row.discount_minor, taxMinor: row.tax_minor, pointsEarned: row.points_earned,
    fulfilmentLocationId: row.fulfilment_location_id, returnedQuantity: row.returned_quantity, finalSale: row.final_sale === 1,
  };
}

async function toOrder(db: Queryable, row: Selectable<OrdersTable>): Promise<Order> {
  const lines = await db.selectFrom('order_lines').selectAll().where('merchant_id', '=', row.merchant_id).where('order_id', '=', row.id).orderBy('line_number').execute();
  const discounts = await db.selectFrom('order_discounts').select(['kind', 'code', 'amount_minor']).where('merchant_id', '=', row.merchant_id).where('order_id', '=', row.id).execute();
  const payments = await db.selectFrom('payments').select(['method', 'amount_minor']).where('merchant_id', '=', row.merchant_id).where('order_id', '=', row.id).execute();
  return {
    id: row.id, channel: row.channel as OrderChannel, source: row.source as OrderSource, sourceRef: row.source_ref, orderNumber: row.order_number,
    customerId: row.customer_id, locationId: row.location_id, registerRef: row.register_ref, status: row.status, currency: row.currency,
    subtotalMinor: row.subtotal_minor, discountMinor: row.discount_minor, shippingMinor: row.shipping_minor, taxMinor: row.tax_minor,
    totalMinor: row.total_minor, refundedMinor: row.refunded_minor, exchangeOfOrderId: row.exchange_of_order_id, placedAt: row.placed_at, lines: lines.map(toOrderLine),
    discounts: discounts.map((discount) => ({ kind: discount.kind, code: discount.code, amountMinor: discount.amount_minor })),
    payments: payments.map((payment) => ({ method: payment.method, amountMinor: payment.amount_minor })),
  };
}

export async function getOrder(db: Queryable, merchantId: string, orderId: string): Promise<Order> {
  const row = await db.selectFrom('orders').selectAll().where('merchant_id', '=', merchantId).where('id', '=', orderId).executeTakeFirst();
  if (!row) throw new AppError('orders.not_found', `No order ${orderId}`, { order_id: orderId });
  return toOrder(db, row);
}

export async function findOrderBySource(db: Queryable, merchantId: string, source: OrderSource, sourceRef: string): Promise<Order | undefined> {
  const [row] = await orderBySource.execute(db, { merchantId, source, sourceRef });
  return row ? toOrder(db, row) : undefined;
}

export interface OrderSummary {
  id: string;
  customerId: string | null;
  channel: string;
  source: string;
  orderNumber: string | null;
  locationId: string | null;
  placedAt: string;
  totalMinor: number;
  refundedMinor: number;
  currency: string;
}

/** Counts units of a line as returned, refusing to return more than were bought. */
export async function markLineReturned(tx: Tx, merchantId: string, lineId: string, quantity: number): Promise<void> {
  const result = await tx
    .updateTable('order_lines')
    .set((eb) => ({ returned_quantity: eb('returned_quantity', '+', quantity) }))
    .where('merchant_id', '=', merchantId)
    .where('id', '=', lineId)
    .where((eb) => eb(eb('returned_quantity', '+', quantity), '<=', eb.ref('quantity')))
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new AppError('returns.quantity_exceeds_purchase', 'More units returned than were bought on this line', { order_line_id: lineId, quantity });
}

export async function addRefundedAmount(tx: Tx, merchantId: string, orderId: string, amountMinor: number): Promise<void> {
  await tx.updateTable('orders').set((eb) => ({ refunded_minor: eb('refunded_minor', '+', amountMinor), updated_at: nowIso() })).where('merchant_id', '=', merchantId).where('id', '=', orderId).execute();
}

/** Moves orders from one customer to another (a merge); returns the ids moved so an unmerge can move them back. */
export async function reassignCustomerOrders(tx: Tx, merchantId: string, fromCustomerId: string, toCustomerId: string, orderIds?: string[]): Promise<string[]> {
  let query = tx.selectFrom('orders').select('id').where('merchant_id', '=', merchantId).where('customer_id', '=', fromCustomerId);
  if (orderIds) query = query.where('id', 'in', ['', ...orderIds]);
  const ids = (await query.execute()).map((row) => row.id);
  if (ids.length > 0) await tx.updateTable('orders').set({ customer_id: toCustomerId, updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('id', 'in', ids).execute();
  return ids;
}
