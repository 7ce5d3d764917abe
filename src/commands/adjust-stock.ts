import { findVariantBySku } from '../catalog/index.ts';
import type { Tx } from '../db/index.ts';
import { applyStockMovement, type StockLevel } from '../inventory/index.ts';
import { getLocation, type Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { newId } from '../shared/ids.ts';
import { announceStockChange } from './announce-changes.ts';

export interface StockChangeCommand {
  kind: 'receive' | 'adjust';
  locationId: string;
  sku: string;
  delta: number;
  reason: string | null;
  /** The document behind the change (a receipt line); with it a repeat moves nothing. */
  reference: string | null;
  actor: string;
}

/**
 * Receives or adjusts stock at a location by hand and tells the channels. An adjustment that would
 * take available below zero is refused: a person can count instead.
 */
export async function changeStock(tx: Tx, merchant: Merchant, command: StockChangeCommand): Promise<{ applied: boolean; level: StockLevel }> {
  const location = await getLocation(tx, merchant.id, command.locationId);
  const variant = await findVariantBySku(tx, merchant.id, command.sku);
  if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${command.sku}`, { field: 'sku', sku: command.sku });
  const result = await applyStockMovement(tx, merchant.id, {
    locationId: location.id, variantId: variant.id, kind: command.kind, onHandDelta: command.delta, reason: command.reason, actor: command.actor, requireAvailable: true,
    sourceKey: `${command.kind}:${command.reference ?? newId('ref')}:${location.id}:${variant.id}`,
  });
  if (result.applied) await announceStockChange(tx, merchant.id, location, variant.id);
  return { applied: result.applied, level: result.level };
}
