import { findVariantBySku } from '../catalog/index.ts';
import type { Tx } from '../db/index.ts';
import { applyStockMovement, getStockLevel, type StockLevel } from '../inventory/index.ts';
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

const countAttemptsMax = 3;

/**
 * Records a physical count: on hand becomes what was counted. The difference is a `count` movement,
 * applied only if on hand did not change meanwhile (a sale between reading and writing retries).
 */
export async function countStock(tx: Tx, merchant: Merchant, command: { locationId: string; sku: string; onHand: number; reason: string | null; reference: string | null; actor: string }): Promise<{ applied: boolean; level: StockLevel }> {
  const location = await getLocation(tx, merchant.id, command.locationId);
  const variant = await findVariantBySku(tx, merchant.id, command.sku);
  if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${command.sku}`, { field: 'sku', sku: command.sku });
  for (let attempt = 1; attempt <= countAttemptsMax; attempt += 1) {
    const level = await getStockLevel(tx, merchant.id, location.id, variant.id);
    const delta = command.onHand - level.onHand;
    if (delta === 0) return { applied: false, level };
    try {
      const result = await applyStockMovement(tx, merchant.id, {
        locationId: location.id, variantId: variant.id, kind: 'count', onHandDelta: delta, reason: command.reason ?? `Counted ${command.onHand}`, actor: command.actor, requireAvailable: false,
        expectedOnHand: level.onHand, sourceKey: `count:${command.reference ?? newId('ref')}:${location.id}:${variant.id}`,
      });
      if (result.applied) await announceStockChange(tx, merchant.id, location, variant.id);
      return { applied: result.applied, level: result.level };
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'inventory.concurrent_change') || attempt === countAttemptsMax) throw error;
    }
  }
  throw new AppError('inventory.concurrent_change', 'On hand kept changing; count again', { field: 'on_hand' });
}

/** Moves units between two locations: out of one (never below available zero) and into the other, together. */
export async function transferStock(tx: Tx, merchant: Merchant, command: { fromLocationId: string; toLocationId: string; sku: string; quantity: number; reference: string | null; actor: string }): Promise<{ from: StockLevel; to: StockLevel }> {
  if (command.fromLocationId === command.toLocationId) throw new AppError('inventory.invalid_transfer', 'A transfer needs two different locations', { field: 'to_location_id' });
  const from = await getLocation(tx, merchant.id, command.fromLocationId);
  const to = await getLocation(tx, merchant.id, command.toLocationId);
  const variant = await findVariantBySku(tx, merchant.id, command.sku);
  if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${command.sku}`, { field: 'sku', sku: command.sku });
  const key = `transfer:${command.reference ?? newId('ref')}:${variant.id}`;
  const out = await applyStockMovement(tx, merchant.id, { locationId: from.id, variantId: variant.id, kind: 'transfer_out', onHandDelta: -command.quantity, sourceKey: `${key}:out`, actor: command.actor, requireAvailable: true, reason: `Transfer to ${to.name}` });
  const into = await applyStockMovement(tx, merchant.id, { locationId: to.id, variantId: variant.id, kind: 'transfer_in', onHandDelta: command.quantity, sourceKey: `${key}:in`, actor: command.actor, requireAvailable: false, reason: `Transfer from ${from.name}` });
  if (out.applied) {
    await announceStockChange(tx, merchant.id, from, variant.id);
    await announceStockChange(tx, merchant.id, to, variant.id);
  }
  return { from: out.level, to: into.level };
}
