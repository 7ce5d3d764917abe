import { sql } from 'kysely';
import type { Queryable } from '../db/index.ts';
import type { QualifyingEvent, QualifyingWindow, TierMetric } from '../loyalty/index.ts';
import { assert } from '../shared/app-error.ts';

// What counts toward a tier (docs/loyalty-program.md):
// - spend: the merchandise she paid for on orders placed in the period, that is each order's
//   subtotal less its discounts less the merchandise returned from it, cancelled orders left out.
//   A return counts against the order it came from, so it lowers the period the order was placed in.
// - points: points earned on purchases posted in the period less points reversed in it (bonuses
//   and adjustments do not qualify).

// The merchandise a returned line takes back: its price less its discount, never its tax (a line's
// refund is tax included in a return taken in Continuum, and a return lowered her spend by it).
const returnedGoodsMinor = sql<number>`return_lines.gross_minor - return_lines.discount_minor`;

/** An order or ledger transaction read for the day-by-day history of her amount; beyond it she is given the benefit of the doubt. */
export const qualifyingEventsMax = 5_000;

function toSafeInteger(value: unknown): number {
  const number = Number(value ?? 0);
  assert(Number.isSafeInteger(number), `a qualifying amount ${String(value)} is a safe integer`);
  return number;
}

/** Her qualifying amount over the window: minor units of spend, or points. */
export async function readQualifyingAmount(db: Queryable, merchantId: string, customerId: string, metric: TierMetric, window: QualifyingWindow): Promise<number> {
  if (metric === 'points') {
    const rows = await db
      .selectFrom('loyalty_transactions')
      .select('kind')
      .select((eb) => eb.fn.sum<number>('points').as('points'))
      .where('merchant_id', '=', merchantId)
      .where('customer_id', '=', customerId)
      .where('kind', 'in', ['earn', 'reverse'])
      .where('created_at', '>=', window.from)
      .where('created_at', '<=', window.to)
      .groupBy('kind')
      .execute();
    const total = (kind: string) => toSafeInteger(rows.find((row) => row.kind === kind)?.points);
    return total('earn') - total('reverse');
  }
  const orders = await db
    .selectFrom('orders')
    .select((eb) => [eb.fn.sum<number>('subtotal_minor').as('subtotal'), eb.fn.sum<number>('discount_minor').as('discount')])
    .where('merchant_id', '=', merchantId)
    .where('customer_id', '=', customerId)
    .where('cancelled_at', 'is', null)
    .where('placed_at', '>=', window.from)
    .where('placed_at', '<=', window.to)
    .executeTakeFirst();
  const returned = await db
    .selectFrom('return_lines')
    .innerJoin('returns', 'returns.id', 'return_lines.return_id')
    .innerJoin('orders', 'orders.id', 'returns.order_id')
    .select((eb) => eb.fn.sum<number>(returnedGoodsMinor).as('amount'))
    .where('orders.merchant_id', '=', merchantId)
    .where('orders.customer_id', '=', customerId)
    .where('orders.cancelled_at', 'is', null)
    .where('orders.placed_at', '>=', window.from)
    .where('orders.placed_at', '<=', window.to)
    .executeTakeFirst();
  return Math.max(0, toSafeInteger(orders?.subtotal) - toSafeInteger(orders?.discount) - toSafeInteger(returned?.amount));
}

/**
 * The dated changes of her qualifying amount within the window (oldest first), for asking what her
 * amount was at earlier moments; `complete` is false when there were more than `qualifyingEventsMax`.
 */
export async function readQualifyingEvents(db: Queryable, merchantId: string, customerId: string, metric: TierMetric, window: QualifyingWindow): Promise<{ events: QualifyingEvent[]; complete: boolean }> {
  if (metric === 'points') {
    const rows = await db
      .selectFrom('loyalty_transactions')
      .select(['kind', 'points', 'created_at'])
      .where('merchant_id', '=', merchantId)
      .where('customer_id', '=', customerId)
      .where('kind', 'in', ['earn', 'reverse'])
      .where('created_at', '>=', window.from)
      .where('created_at', '<=', window.to)
      .orderBy('created_at')
      .limit(qualifyingEventsMax + 1)
      .execute();
    const events = rows.slice(0, qualifyingEventsMax).map((row) => ({ at: row.created_at, amount: row.kind === 'reverse' ? -row.points : row.points }));
    return { events, complete: rows.length <= qualifyingEventsMax };
  }
  const rows = await db
    .selectFrom('orders')
    .select(['orders.placed_at', 'orders.subtotal_minor', 'orders.discount_minor'])
    .select((eb) => eb
      .selectFrom('return_lines')
      .innerJoin('returns', 'returns.id', 'return_lines.return_id')
      .select((inner) => inner.fn.sum<number>(returnedGoodsMinor).as('amount'))
      .whereRef('returns.order_id', '=', 'orders.id')
      .where('returns.merchant_id', '=', merchantId)
      .as('returned_minor'))
    .where('orders.merchant_id', '=', merchantId)
    .where('orders.customer_id', '=', customerId)
    .where('orders.cancelled_at', 'is', null)
    .where('orders.placed_at', '>=', window.from)
    .where('orders.placed_at', '<=', window.to)
    .orderBy('orders.placed_at')
    .limit(qualifyingEventsMax + 1)
    .execute();
  const events = rows.slice(0, qualifyingEventsMax).map((row) => ({ at: row.placed_at, amount: row.subtotal_minor - row.discount_minor - toSafeInteger(row.returned_minor) }));
  return { events, complete: rows.length <= qualifyingEventsMax };
}
