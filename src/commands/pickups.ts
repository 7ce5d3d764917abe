import type { PickupsTable, Queryable, Tx } from '../db/index.ts';
import { endReservation, listPickupReservations } from '../inventory/index.ts';
import { getLocation, type Merchant } from '../merchants/index.ts';
import { getOrder } from '../orders/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { announceStockChange } from './announce-changes.ts';
import { cancelOrderEffects } from './cancel-order.ts';

export type PickupState = 'placed' | 'ready' | 'picked_up' | 'cancelled' | 'expired';

// Which states each step may start from: a pickup moves forward only.
const allowedFrom: Record<'ready' | 'picked_up' | 'cancelled' | 'expired', PickupState[]> = {
  ready: ['placed'],
  picked_up: ['placed', 'ready'],
  cancelled: ['placed', 'ready'],
  expired: ['ready'],
};

export async function createPickup(tx: Tx, merchantId: string, orderId: string, locationId: string): Promise<string> {
  const id = newId('pku');
  const now = nowIso();
  await tx.insertInto('pickups').values({ merchant_id: merchantId, id, order_id: orderId, location_id: locationId, state: 'placed', expires_at: null, created_at: now, updated_at: now, ready_at: null, picked_up_at: null, closed_at: null }).execute();
  return id;
}

async function findPickup(db: Queryable, merchantId: string, pickupId: string): Promise<PickupsTable> {
  const row = await db.selectFrom('pickups').selectAll().where('merchant_id', '=', merchantId).where('id', '=', pickupId).executeTakeFirst();
  if (!row) throw new AppError('pickups.not_found', `No pickup ${pickupId}`, { pickup_id: pickupId });
  return row;
}

/** Moves a pickup to its next state with one conditional update, so two associates cannot both act. */
async function transition(tx: Tx, merchantId: string, pickupId: string, to: keyof typeof allowedFrom, extra: Partial<PickupsTable>): Promise<PickupsTable> {
  const pickup = await findPickup(tx, merchantId, pickupId);
  const updated = await tx
    .updateTable('pickups')
    .set({ state: to, updated_at: nowIso(), ...extra })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', pickupId)
    .where('state', 'in', allowedFrom[to])
    .returningAll()
    .executeTakeFirst();
  if (!updated) throw new AppError('pickups.state_conflict', `Pickup ${pickupId} is ${pickup.state}; it cannot become ${to}`, { pickup_id: pickupId, state: pickup.state, requested: to });
  return updated;
}

async function endPickupReservations(tx: Tx, merchantId: string, pickup: PickupsTable, end: 'released' | 'expired' | 'fulfilled', actor: string): Promise<void> {
  const location = await getLocation(tx, merchantId, pickup.location_id);
  for (const reservation of await listPickupReservations(tx, merchantId, pickup.id)) {
    if (await endReservation(tx, merchantId, reservation.id, end, actor)) await announceStockChange(tx, merchantId, location, reservation.variantId);
  }
}

/** The order is prepared and waiting at the counter; the hold runs for the merchant's hold days. */
export async function markPickupReady(tx: Tx, merchant: Merchant, pickupId: string): Promise<PickupsTable> {
  const expiresAt = new Date(Date.now() + merchant.settings.pickup.holdDays * 86_400_000).toISOString();
  return transition(tx, merchant.id, pickupId, 'ready', { ready_at: nowIso(), expires_at: expiresAt });
}

/** Handed over: the reserved units leave the shelf. */
export async function markPickedUp(tx: Tx, merchant: Merchant, pickupId: string, actor: string): Promise<PickupsTable> {
  const pickup = await transition(tx, merchant.id, pickupId, 'picked_up', { picked_up_at: nowIso(), closed_at: nowIso() });
  await endPickupReservations(tx, merchant.id, pickup, 'fulfilled', actor);
  await tx.updateTable('orders').set({ fulfilment_status: 'fulfilled', status: 'completed', updated_at: nowIso() }).where('merchant_id', '=', merchant.id).where('id', '=', pickup.order_id).execute();
  return pickup;
}

/** Cancelled before collection: units go back to available and the order is cancelled. */
export async function cancelPickup(tx: Tx, merchant: Merchant, pickupId: string, actor: string): Promise<PickupsTable> {
  const pickup = await transition(tx, merchant.id, pickupId, 'cancelled', { closed_at: nowIso() });
  await endPickupReservations(tx, merchant.id, pickup, 'released', actor);
  await cancelOrderEffects(tx, merchant, await getOrder(tx, merchant.id, pickup.order_id), { restockSoldUnits: false, actor });
  return pickup;
}

/** Not collected in time: the hold ends and the units are released; the order stays for a person to refund. */
export async function expirePickup(tx: Tx, merchant: Merchant, pickupId: string): Promise<PickupsTable> {
  const pickup = await transition(tx, merchant.id, pickupId, 'expired', { closed_at: nowIso() });
  await endPickupReservations(tx, merchant.id, pickup, 'expired', 'system:pickup-expiry');
  await tx.updateTable('orders').set({ fulfilment_status: 'uncollected', updated_at: nowIso() }).where('merchant_id', '=', merchant.id).where('id', '=', pickup.order_id).execute();
  return pickup;
}

const pickupQueueMax = 500;

/** The store's pickup queue: what to prepare, what is ready, what was handed over. */
export async function listPickups(db: Queryable, merchantId: string, filter: { locationId?: string; state?: PickupState }) {
  let query = db
    .selectFrom('pickups')
    .innerJoin('orders', (join) => join.onRef('orders.id', '=', 'pickups.order_id').onRef('orders.merchant_id', '=', 'pickups.merchant_id'))
    .select(['pickups.id', 'pickups.order_id', 'pickups.location_id', 'pickups.state', 'pickups.expires_at', 'pickups.created_at', 'pickups.ready_at', 'pickups.picked_up_at', 'orders.order_number', 'orders.customer_id', 'orders.total_minor', 'orders.currency'])
    .where('pickups.merchant_id', '=', merchantId);
  if (filter.locationId) query = query.where('pickups.location_id', '=', filter.locationId);
  if (filter.state) query = query.where('pickups.state', '=', filter.state);
  return query.orderBy('pickups.created_at').limit(pickupQueueMax).execute();
}

export async function describePickup(db: Queryable, merchantId: string, pickupId: string) {
  const pickup = await findPickup(db, merchantId, pickupId);
  const reservations = await listPickupReservations(db, merchantId, pickupId);
  return { ...pickup, reservations: reservations.map((reservation) => ({ id: reservation.id, variant_id: reservation.variantId, quantity: reservation.quantity, state: reservation.state })) };
}

export async function findPickupIdByOrder(db: Queryable, merchantId: string, orderId: string): Promise<string | null> {
  const row = await db.selectFrom('pickups').select('id').where('merchant_id', '=', merchantId).where('order_id', '=', orderId).executeTakeFirst();
  return row?.id ?? null;
}

export const expiryBatchMax = 200;

/** Ready pickups past their hold, across merchants, in a bounded batch. */
export async function listExpiredPickups(db: Queryable, now = nowIso()): Promise<{ merchantId: string; id: string }[]> {
  const rows = await db.selectFrom('pickups').select(['merchant_id', 'id']).where('state', '=', 'ready').where('expires_at', '<=', now).orderBy('expires_at').limit(expiryBatchMax).execute();
  return rows.map((row) => ({ merchantId: row.merchant_id, id: row.id }));
}
