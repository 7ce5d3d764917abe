import type { Tx } from '../db/index.ts';
import { spendStoreCredit } from '../loyalty/index.ts';
import type { Order } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';

/** The payment method that spends the customer's store credit, in every channel that talks to Continuum. */
export const storeCreditMethod = 'store_credit';

/**
 * Spends store credit for the payments of an order that use it, in the order's transaction: a
 * balance that does not cover it refuses the sale (409) and nothing of it is written.
 */
export async function spendStoreCreditPayments(tx: Tx, merchantId: string, order: Order): Promise<number> {
  const spentMinor = order.payments.filter((payment) => payment.method === storeCreditMethod).reduce((sum, payment) => sum + payment.amountMinor, 0);
  if (spentMinor === 0) return 0;
  if (!order.customerId) throw new AppError('store_credit.customer_required', 'Paying with store credit needs a customer', { field: 'customer' });
  await spendStoreCredit(tx, merchantId, { customerId: order.customerId, amountMinor: spentMinor, currency: order.currency, idempotencyKey: `order:${order.id}:credit`, orderId: order.id, memo: `Paid order ${order.orderNumber ?? order.sourceRef}` });
  return spentMinor;
}
