import { updateChannelOrder } from '../../commands/index.ts';
import type { Db } from '../../db/index.ts';
import { getMerchant } from '../../merchants/index.ts';
import { findOrderBySource } from '../../orders/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { paginate, readOrdersPage } from './admin-queries.ts';
import type { ShopifyAdminClient } from './client.ts';
import { numericShopifyId, translateShopifyOrderNode } from './translate.ts';

export type OrderDriftReason =
  /** Shopify has the order and Continuum never recorded it: its webhook was missed. */
  | 'missing_webhook'
  /** Both have it, with different totals (an edit whose `orders/updated` was missed). */
  | 'total_differs'
  /** Both have it, with different statuses. */
  | 'status_differs';

export interface OrderDrift {
  shopify_order_id: string;
  order_number: string | null;
  reason: OrderDriftReason;
  order_id: string | null;
  continuum: { total_minor: number; status: string } | null;
  shopify: { total_minor: number | null; status: string | null };
  /** Why a missing order could not be recorded from the listing, when it could not. */
  error?: string;
}

export interface OrderReconciliation {
  days: number;
  checked: number;
  drifts: OrderDrift[];
  repaired: number;
}

/** How far back `reconcile --scope orders` looks by default, and at most. */
export const ORDER_RECONCILE_DAYS_DEFAULT = 7;
export const ORDER_RECONCILE_DAYS_MAX = 60;
/** Order pages read by one run (ORDERS_PAGE_SIZE orders each). */
export const ORDER_RECONCILE_PAGES_MAX = 2_500;
const driftsListedMax = 1_000;
const dayMs = 86_400_000;

/**
 * Compares the orders Shopify took in the last `days` days with the unified record. An order we
 * never recorded is a missed webhook: repair records it through the same command its webhook would
 * have used (`updateChannelOrder`, which records a first sight, cancelled or not). An order we hold
 * with another total or status is reported; Shopify owns orders, and its next `orders/updated`
 * brings the change.
 */
export async function reconcileShopifyOrders(db: Db, merchantId: string, client: ShopifyAdminClient, options: { repair: boolean; days?: number; now?: Date }): Promise<OrderReconciliation> {
  const days = options.days ?? ORDER_RECONCILE_DAYS_DEFAULT;
  assert(Number.isSafeInteger(days) && days >= 1 && days <= ORDER_RECONCILE_DAYS_MAX, `reconcileShopifyOrders: days is between 1 and ${ORDER_RECONCILE_DAYS_MAX}`);
  const merchant = await getMerchant(db, merchantId);
  const since = new Date((options.now ?? new Date()).getTime() - days * dayMs).toISOString();
  const report: OrderReconciliation = { days, checked: 0, drifts: [], repaired: 0 };
  const addDrift = (drift: OrderDrift) => void (report.drifts.length < driftsListedMax && report.drifts.push(drift));
  for await (const page of paginate((after) => readOrdersPage(client, since, after), { after: null, pagesMax: ORDER_RECONCILE_PAGES_MAX })) {
    for (const node of page.nodes) {
      report.checked += 1;
      const sourceRef = numericShopifyId(node.id);
      const held = await findOrderBySource(db, merchantId, 'shopify', sourceRef);
      let command: ReturnType<typeof translateShopifyOrderNode> | null = null;
      let error: string | undefined;
      try {
        command = translateShopifyOrderNode(node);
      } catch (caught) {
        if (!(caught instanceof AppError)) throw caught;
        error = `${caught.code}: ${caught.message}`;
      }
      const shown = { total_minor: command?.totalMinor ?? null, status: command?.status ?? null };
      if (!held) {
        addDrift({ shopify_order_id: sourceRef, order_number: node.name, reason: 'missing_webhook', order_id: null, continuum: null, shopify: shown, ...(error ? { error } : {}) });
        if (options.repair && command) {
          const recorded = command;
          await db.transaction().execute((tx) => updateChannelOrder(tx, merchant, recorded));
          report.repaired += 1;
        }
        continue;
      }
      const continuum = { total_minor: held.totalMinor, status: held.status };
      if (command && command.totalMinor !== held.totalMinor) addDrift({ shopify_order_id: sourceRef, order_number: node.name, reason: 'total_differs', order_id: held.id, continuum, shopify: shown });
      else if (command && command.status !== held.status) addDrift({ shopify_order_id: sourceRef, order_number: node.name, reason: 'status_differs', order_id: held.id, continuum, shopify: shown });
    }
  }
  return report;
}
