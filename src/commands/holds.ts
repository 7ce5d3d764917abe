import { findVariantBySku } from '../catalog/index.ts';
import type { Db, Tx } from '../db/index.ts';
import { endReservation, getReservation, listExpiredHolds, reserveStock, type Reservation } from '../inventory/index.ts';
import { getLocation, getMerchant, type Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { announceStockChange } from './announce-changes.ts';
import { expirePickup, listExpiredPickups } from './pickups.ts';

export const holdSecondsMax = 24 * 60 * 60;

/** Holds units for a cart for a limited time; they come back on their own when the time runs out. */
export async function placeHold(tx: Tx, merchant: Merchant, input: { locationId: string; sku: string; quantity: number; ttlSeconds: number; actor: string }): Promise<Reservation> {
  const variant = await findVariantBySku(tx, merchant.id, input.sku);
  if (!variant) throw new AppError('catalog.unknown_sku', `No variant with SKU ${input.sku}`, { field: 'sku', sku: input.sku });
  const location = await getLocation(tx, merchant.id, input.locationId);
  const expiresAt = new Date(Date.now() + Math.min(input.ttlSeconds, holdSecondsMax) * 1000).toISOString();
  const reservation = await reserveStock(tx, merchant.id, { locationId: location.id, variantId: variant.id, quantity: input.quantity, kind: 'hold', expiresAt, actor: input.actor });
  await announceStockChange(tx, merchant.id, location, variant.id);
  return reservation;
}

export async function releaseHold(tx: Tx, merchant: Merchant, reservationId: string, actor: string): Promise<Reservation> {
  const reservation = await getReservation(tx, merchant.id, reservationId);
  if (reservation.kind !== 'hold') throw new AppError('inventory.reservation_conflict', 'Only a cart hold can be released here; pickups are cancelled through their pickup', { reservation_id: reservationId });
  if (await endReservation(tx, merchant.id, reservationId, 'released', actor)) await announceStockChange(tx, merchant.id, await getLocation(tx, merchant.id, reservation.locationId), reservation.variantId);
  return getReservation(tx, merchant.id, reservationId);
}

/**
 * The scheduled job: ends cart holds whose time ran out and ready pickups nobody collected, in
 * bounded batches, one transaction each. Returns how many it ended.
 */
export async function expireDueReservations(db: Db): Promise<number> {
  let ended = 0;
  for (const hold of await listExpiredHolds(db)) {
    await db.transaction().execute(async (tx) => {
      const reservation = await getReservation(tx, hold.merchantId, hold.id);
      if (await endReservation(tx, hold.merchantId, hold.id, 'expired', 'system:hold-expiry')) {
        await announceStockChange(tx, hold.merchantId, await getLocation(tx, hold.merchantId, reservation.locationId), reservation.variantId);
        ended += 1;
      }
    });
  }
  for (const pickup of await listExpiredPickups(db)) {
    await db.transaction().execute(async (tx) => {
      await expirePickup(tx, await getMerchant(tx, pickup.merchantId), pickup.id);
      ended += 1;
    });
  }
  return ended;
}
