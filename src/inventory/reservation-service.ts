import { reuseQuery, type ParameterPlaceholders, type Queryable, type ReservationsTable, type Tx } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { applyStockMovement } from './stock-service.ts';

export type ReservationKind = 'pickup' | 'hold';
export type ReservationEnd = 'released' | 'expired' | 'fulfilled';

export interface Reservation {
  id: string;
  locationId: string;
  variantId: string;
  quantity: number;
  kind: ReservationKind;
  state: string;
  orderId: string | null;
  pickupId: string | null;
  expiresAt: string | null;
}

function toReservation(row: ReservationsTable): Reservation {
  return { id: row.id, locationId: row.location_id, variantId: row.variant_id, quantity: row.quantity, kind: row.kind as ReservationKind, state: row.state, orderId: row.order_id, pickupId: row.pickup_id, expiresAt: row.expires_at };
}

// Every hold runs it: built and compiled once (about 60 µs of CPU saved per hold, issue #9).
const insertReservation = reuseQuery((db, param: ParameterPlaceholders<ReservationsTable>) => db.insertInto('reservations').values({
  merchant_id: param('merchant_id'), id: param('id'), location_id: param('location_id'), variant_id: param('variant_id'), quantity: param('quantity'), kind: param('kind'), state: param('state'),
  order_id: param('order_id'), pickup_id: param('pickup_id'), expires_at: param('expires_at'), created_at: param('created_at'), updated_at: param('updated_at'),
}));

/**
 * Reserves units at a location: one conditional update that fails with 409 rather than reserve
 * what is not available, so a pickup being placed and a sale at the counter can never both take
 * the last unit.
 */
export async function reserveStock(tx: Tx, merchantId: string, input: { locationId: string; variantId: string; quantity: number; kind: ReservationKind; orderId?: string | null; pickupId?: string | null; expiresAt?: string | null; actor: string }): Promise<Reservation> {
  const id = newId('rsv');
  await applyStockMovement(tx, merchantId, { locationId: input.locationId, variantId: input.variantId, kind: 'reserve', onHandDelta: 0, reservedDelta: input.quantity, sourceKey: `reservation:${id}:reserve`, actor: input.actor, orderId: input.orderId ?? null, requireAvailable: true, reason: input.kind === 'pickup' ? 'Held for a pickup order' : 'Held for a cart' });
  const now = nowIso();
  const row: ReservationsTable = { merchant_id: merchantId, id, location_id: input.locationId, variant_id: input.variantId, quantity: input.quantity, kind: input.kind, state: 'active', order_id: input.orderId ?? null, pickup_id: input.pickupId ?? null, expires_at: input.expiresAt ?? null, created_at: now, updated_at: now };
  await insertReservation.execute(tx, row);
  return toReservation(row);
}

/**
 * Ends an active reservation: released or expired units become available again; fulfilled units
 * leave the shelf (on hand and reserved both go down). Ending one twice changes nothing.
 */
export async function endReservation(tx: Tx, merchantId: string, reservationId: string, end: ReservationEnd, actor: string): Promise<boolean> {
  const ended = await tx.updateTable('reservations').set({ state: end, updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('id', '=', reservationId).where('state', '=', 'active').returningAll().executeTakeFirst();
  if (!ended) return false;
  const fulfilled = end === 'fulfilled';
  await applyStockMovement(tx, merchantId, {
    locationId: ended.location_id, variantId: ended.variant_id, kind: fulfilled ? 'fulfil' : 'release', onHandDelta: fulfilled ? -ended.quantity : 0, reservedDelta: -ended.quantity,
    sourceKey: `reservation:${ended.id}:${end}`, actor, orderId: ended.order_id, requireAvailable: false, reason: fulfilled ? 'Handed over' : end === 'expired' ? 'Hold expired' : 'Released',
  });
  return true;
}

export async function getReservation(db: Queryable, merchantId: string, reservationId: string): Promise<Reservation> {
  const row = await db.selectFrom('reservations').selectAll().where('merchant_id', '=', merchantId).where('id', '=', reservationId).executeTakeFirst();
  if (!row) throw new AppError('inventory.reservation_not_found', `No reservation ${reservationId}`, { reservation_id: reservationId });
  return toReservation(row);
}

export async function listPickupReservations(db: Queryable, merchantId: string, pickupId: string): Promise<Reservation[]> {
  return (await db.selectFrom('reservations').selectAll().where('merchant_id', '=', merchantId).where('pickup_id', '=', pickupId).orderBy('created_at').execute()).map(toReservation);
}

export const expiryBatchSizeMax = 200;

/** Active holds whose time ran out, across merchants, in a bounded batch. */
export async function listExpiredHolds(db: Queryable, now = nowIso()): Promise<{ merchantId: string; id: string }[]> {
  const rows = await db.selectFrom('reservations').select(['merchant_id', 'id']).where('state', '=', 'active').where('kind', '=', 'hold').where('expires_at', '<=', now).orderBy('expires_at').limit(expiryBatchSizeMax).execute();
  return rows.map((row) => ({ merchantId: row.merchant_id, id: row.id }));
}
