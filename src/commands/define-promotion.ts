import { findVariantBySku } from '../catalog/index.ts';
import type { Queryable, Tx } from '../db/index.ts';
import { getLocation, listChannelAccounts } from '../merchants/index.ts';
import { createPromotion, getPromotion, skusNamedBy, updatePromotion, type Promotion, type PromotionChanges, type PromotionInput } from '../promotions/index.ts';
import { AppError } from '../shared/app-error.ts';
import { enqueueOutbox } from '../sync/index.ts';

// Defining and changing promotions (issue #6): the rule is checked against the catalogue and the
// locations, and every change to a promotion valid online is pushed to Shopify through the outbox
// (`promotion.push`, coalesced per promotion: delivery reads the promotion as it is then, and
// creates, updates or deactivates its discount; see connectors/shopify/promotion-discounts.ts).

/** Every SKU and location a rule names exists (422 `promotions.unknown_sku` / `promotions.unknown_location`). */
async function assertRuleReferences(db: Queryable, merchantId: string, rule: Pick<Promotion, 'action' | 'conditions'>): Promise<void> {
  for (const sku of skusNamedBy(rule)) {
    if (!(await findVariantBySku(db, merchantId, sku))) throw new AppError('promotions.unknown_sku', `No variant with SKU ${sku}`, { field: 'action', sku });
  }
  for (const locationId of rule.conditions.locationIds) {
    await getLocation(db, merchantId, locationId).catch(() => {
      throw new AppError('promotions.unknown_location', `No location ${locationId}`, { field: 'conditions.location_ids', location_id: locationId });
    });
  }
}

/** Tells Shopify about a promotion valid online, when a Shopify store is connected. */
async function pushToShopify(tx: Tx, merchantId: string, promotion: Promotion): Promise<void> {
  if (!promotion.channels.includes('online') && promotion.shopifyDiscountId === null) return;
  if ((await listChannelAccounts(tx, merchantId, 'shopify')).length === 0) return;
  await enqueueOutbox(tx, merchantId, { destination: 'shopify', kind: 'promotion.push', coalesceKey: `promotion:${promotion.id}`, payload: { promotion_id: promotion.id } });
}

/**
 * Defines a promotion once for every channel and, when it is valid online, pushes it to Shopify.
 * Example: `await definePromotion(tx, merchantId, { code: 'BOGO', name: 'Buy 2 get 1', action: { type: 'buy_x_get_y', … } })`.
 */
export async function definePromotion(tx: Tx, merchantId: string, input: PromotionInput): Promise<Promotion> {
  const promotion = await createPromotion(tx, merchantId, input);
  await assertRuleReferences(tx, merchantId, promotion);
  await pushToShopify(tx, merchantId, promotion);
  return promotion;
}

/** Changes a promotion (by id or code); Shopify hears the change, or the deactivation. */
export async function changePromotion(tx: Tx, merchantId: string, idOrCode: string, changes: PromotionChanges): Promise<Promotion> {
  const current = await getPromotion(tx, merchantId, idOrCode);
  const promotion = await updatePromotion(tx, merchantId, current.id, changes);
  await assertRuleReferences(tx, merchantId, promotion);
  await pushToShopify(tx, merchantId, promotion);
  return promotion;
}

/** Deactivates a promotion everywhere: it stops applying in every channel, and Shopify stops accepting it. */
export async function deactivatePromotion(tx: Tx, merchantId: string, idOrCode: string): Promise<Promotion> {
  return changePromotion(tx, merchantId, idOrCode, { active: false });
}
