import { announceCustomerChange } from '../../commands/index.ts';
import { findCustomerIdsByIdentifier } from '../../customers/index.ts';
import type { Db } from '../../db/index.ts';
import { getLoyaltyBalance } from '../../loyalty/index.ts';
import { getMerchant } from '../../merchants/index.ts';
import { paginate, readCustomersPage } from './admin-queries.ts';
import type { ShopifyAdminClient } from './client.ts';
import { applyShopifyCustomer } from './inbound.ts';
import { translateShopifyCustomerNode } from './translate.ts';

export type CustomerDriftReason =
  /** Shopify shows other points than the ledger holds. */
  | 'points_differ'
  /** Shopify shows another tier than hers. */
  | 'tier_differ'
  /** Shopify holds no mirrored points or tier for her. */
  | 'not_mirrored'
  /** A Shopify customer no profile here is linked to (her `customers/create` was missed). */
  | 'not_linked'
  /** A profile here names a Shopify customer that Shopify no longer has (its `customers/delete` was missed). */
  | 'missing_in_shopify';

export interface CustomerDrift {
  customer_id: string | null;
  shopify_customer_id: string;
  reason: CustomerDriftReason;
  continuum: { points: number; tier: string } | null;
  shopify: { points: string | null; tier: string | null } | null;
}

export interface CustomerReconciliation {
  checked: number;
  /** False when the page limit stopped the scan: `missing_in_shopify` is then not looked for. */
  complete: boolean;
  drifts: CustomerDrift[];
  repaired: number;
}

/** Shopify customer pages read by one run (100 customers each). */
export const CUSTOMER_RECONCILE_PAGES_MAX = 100;
const driftsListedMax = 1_000;
const linkedIdsReadMax = 100_000;

/**
 * Compares every Shopify customer with the profile linked to her: the mirrored points and tier
 * metafields against the ledger, and the link itself. Repair pushes our truth (a `customer.mirror`
 * through the outbox) and links the Shopify customers nobody holds, exactly as `customers/update`
 * would. Reads happen outside any transaction; each repair is its own.
 */
export async function reconcileShopifyCustomers(db: Db, merchantId: string, client: ShopifyAdminClient, options: { repair: boolean; pagesMax?: number }): Promise<CustomerReconciliation> {
  const merchant = await getMerchant(db, merchantId);
  const report: CustomerReconciliation = { checked: 0, complete: false, drifts: [], repaired: 0 };
  const seen = new Set<string>();
  const pagesMax = options.pagesMax ?? CUSTOMER_RECONCILE_PAGES_MAX;
  let pages = 0;
  let lastPageHadMore = true;
  for await (const page of paginate((after) => readCustomersPage(client, after), { after: null, pagesMax })) {
    pages += 1;
    lastPageHadMore = page.hasNextPage;
    for (const node of page.nodes) {
      const { claim, shopifyId, updatedAt } = translateShopifyCustomerNode(node);
      seen.add(shopifyId);
      report.checked += 1;
      const [customerId] = await findCustomerIdsByIdentifier(db, merchantId, 'shopify_id', shopifyId);
      if (!customerId) {
        addDrift(report, { customer_id: null, shopify_customer_id: shopifyId, reason: 'not_linked', continuum: null, shopify: null });
        if (options.repair && (await linkAndMirror(db, merchantId, { claim, shopifyId, version: updatedAt }))) report.repaired += 1;
        continue;
      }
      const balance = await getLoyaltyBalance(db, merchantId, customerId, merchant.settings.loyalty.baseTier);
      const shown = { points: node.points?.value ?? null, tier: node.tier?.value ?? null };
      const reason: CustomerDriftReason | null = shown.points === null && shown.tier === null ? 'not_mirrored' : shown.points !== String(balance.available) ? 'points_differ' : shown.tier !== balance.tier ? 'tier_differ' : null;
      if (!reason) continue;
      addDrift(report, { customer_id: customerId, shopify_customer_id: shopifyId, reason, continuum: { points: balance.available, tier: balance.tier }, shopify: shown });
      if (options.repair) {
        await db.transaction().execute((tx) => announceCustomerChange(tx, merchantId, customerId));
        report.repaired += 1;
      }
    }
  }
  report.complete = pages < pagesMax || !lastPageHadMore;
  if (report.complete) await reportMissingInShopify(db, merchantId, seen, report);
  return report;
}

/** Links a Shopify customer as `customers/update` would, then mirrors her points and tier to Shopify. */
async function linkAndMirror(db: Db, merchantId: string, input: Parameters<typeof applyShopifyCustomer>[2]): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const merchant = await getMerchant(tx, merchantId);
    const outcome = await applyShopifyCustomer(tx, merchant, input, `shopify:reconcile:customer:${input.shopifyId}`);
    if (outcome.outcome !== 'processed') return false;
    const [customerId] = await findCustomerIdsByIdentifier(tx, merchantId, 'shopify_id', input.shopifyId);
    if (customerId) await announceCustomerChange(tx, merchantId, customerId);
    return true;
  });
}

function addDrift(report: CustomerReconciliation, drift: CustomerDrift): void {
  if (report.drifts.length < driftsListedMax) report.drifts.push(drift);
}

async function reportMissingInShopify(db: Db, merchantId: string, seen: Set<string>, report: CustomerReconciliation): Promise<void> {
  const linked = await db.selectFrom('customer_identifiers').select(['customer_id', 'value_normalized']).where('merchant_id', '=', merchantId).where('kind', '=', 'shopify_id').orderBy('value_normalized').limit(linkedIdsReadMax).execute();
  for (const row of linked) {
    if (!seen.has(row.value_normalized)) addDrift(report, { customer_id: row.customer_id, shopify_customer_id: row.value_normalized, reason: 'missing_in_shopify', continuum: null, shopify: null });
  }
}
