import { findVariantBySku } from '../catalog/index.ts';
import type { Queryable } from '../db/index.ts';
import { createReward, type Reward, type RewardInput } from '../loyalty/index.ts';
import { AppError } from '../shared/app-error.ts';

/**
 * Adds a reward to the catalogue; a free product must name a SKU the catalogue has (422
 * `catalog.unknown_sku` naming `free_sku`), so a reward never promises what no sale can contain.
 */
export async function defineReward(db: Queryable, merchantId: string, input: RewardInput): Promise<Reward> {
  const sku = input.freeSku?.trim();
  if (input.kind === 'free_product' && sku && !(await findVariantBySku(db, merchantId, sku))) {
    throw new AppError('catalog.unknown_sku', `No variant with SKU ${sku}`, { field: 'free_sku', sku });
  }
  return createReward(db, merchantId, input);
}
