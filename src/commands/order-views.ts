import { findCustomerIdByLoyaltyCode, findCustomerIdsByIdentifier, normalizeEmail, normalizePhone } from '../customers/index.ts';
import type { Queryable } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { listRecentOrders, type OrderSummary } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';

const ordersFoundMax = 50;

async function ordersByNumber(db: Queryable, merchantId: string, number: string): Promise<OrderSummary[]> {
  const bare = number.replace(/^#/, '');
  const rows = await db
    .selectFrom('orders')
    .select(['id', 'customer_id', 'channel', 'source', 'order_number', 'location_id', 'placed_at', 'total_minor', 'refunded_minor', 'currency'])
    .where('merchant_id', '=', merchantId)
    .where('order_number', 'in', [bare, `#${bare}`])
    .orderBy('placed_at', 'desc')
    .limit(ordersFoundMax)
    .execute();
  return rows.map((row) => ({ id: row.id, customerId: row.customer_id, channel: row.channel, source: row.source, orderNumber: row.order_number, locationId: row.location_id, placedAt: row.placed_at, totalMinor: row.total_minor, refundedMinor: row.refunded_minor, currency: row.currency }));
}

/**
 * Finds orders at the register by what the shopper gives: an order number (`#1042` or `1042`),
 * her email, her phone, her loyalty code, or her customer id.
 */
export async function findOrders(db: Queryable, merchant: Merchant, input: { q?: string; customerId?: string }): Promise<OrderSummary[]> {
  if (input.customerId) return (await listRecentOrders(db, merchant.id, [input.customerId], ordersFoundMax)).get(input.customerId) ?? [];
  const query = (input.q ?? '').trim();
  if (query.length < 2) throw new AppError('orders.invalid_query', 'Give q (an order number, email or phone) or customer_id', { field: 'q' });
  const byNumber = await ordersByNumber(db, merchant.id, query);
  if (byNumber.length > 0) return byNumber;
  const customerIds = new Set<string>();
  if (query.includes('@')) {
    for (const id of await findCustomerIdsByIdentifier(db, merchant.id, 'email', normalizeEmail(query, merchant.settings.identity.foldGmailAddresses).normalized)) customerIds.add(id);
  } else {
    const phone = normalizePhone(query, merchant.defaultCountry);
    if (phone.valid) for (const id of await findCustomerIdsByIdentifier(db, merchant.id, 'phone', phone.normalized)) customerIds.add(id);
    const byCode = await findCustomerIdByLoyaltyCode(db, merchant.id, query);
    if (byCode) customerIds.add(byCode);
  }
  const perCustomer = await listRecentOrders(db, merchant.id, [...customerIds], ordersFoundMax);
  return [...perCustomer.values()].flat().sort((a, b) => b.placedAt.localeCompare(a.placedAt)).slice(0, ordersFoundMax);
}
