import { createHash } from 'node:crypto';
import { findExternalId } from '../../catalog/index.ts';
import type { Db } from '../../db/index.ts';
import { channelAvailable, findLastStockChangeAt, getChannelBuffer, getChannelStockMirror, getStockLevel, recordPushedAvailable } from '../../inventory/index.ts';
import { getLocation, getMerchant, type Merchant } from '../../merchants/index.ts';
import { nowIso } from '../../shared/clock.ts';
import { listOutboxEvents, type OutboxEvent } from '../../sync/index.ts';
import { INVENTORY_CHANGES_MAX, type InventoryChangeInput, type SquareClient } from './client.ts';
import { CONTINUUM_REFERENCE_PREFIX } from './translate.ts';

// Continuum owns the stock (DESIGN.md, "Sources of truth"): Square is told what is available at
// each of its locations, as a PHYSICAL_COUNT of IN_STOCK through BatchChangeInventory
// (https://developer.squareup.com/reference/square/inventory/batch-change-inventory, protocols.md C7).
// Each change carries a `reference_id` starting `continuum:` ("an optional ID provided by the
// application to tie the InventoryPhysicalCount to an external system",
// https://developer.squareup.com/reference/square/objects/InventoryPhysicalCount): when Square
// reports the count back (`inventory.count.updated`, which BatchChangeInventory also fires,
// https://developer.squareup.com/docs/inventory-api/webhooks), the change read behind it is
// recognised as our own echo and moves nothing (classifySquareInventoryChange).

/** One place a push tells Square about: our location and variant, Square's ids for them, and the figure. */
interface SquarePlace {
  locationId: string;
  variantId: string;
  squareLocationId: string;
  catalogObjectId: string;
  quantity: number;
  /** When the figure became true here: the count's `occurred_at`. */
  asOf: string;
}

/** Pending Square stock messages read to join a push at most (the outbox lists 500 at most). */
const COMPANION_MESSAGES_READ_MAX = 500;

/**
 * Who holds the stock truth, read defensively: the `sync.ownership` setting may be absent from a
 * merchant's stored settings. Square is a mirror unless it is named the owner.
 */
function stockOwnerOf(merchant: Merchant): string {
  const settings = merchant.settings as { sync?: { ownership?: { stock?: string } } };
  return settings.sync?.ownership?.stock ?? 'continuum';
}

/**
 * An `inventory.push` message's payload. `as_of` is set by a reconciliation's repair: the truth is
 * restated as of the repair, so it supersedes the count Square holds (typed in its Dashboard
 * after our last change, which a count stated as of that change could not override).
 */
interface PushPayload {
  location_id: string;
  variant_id: string;
  as_of?: string;
}

/** The figure Square should show for one of our places, or undefined when the place is not Square's. */
async function readSquarePlace(db: Db, merchantId: string, payload: PushPayload): Promise<SquarePlace | undefined> {
  const location = await getLocation(db, merchantId, payload.location_id);
  const catalogObjectId = await findExternalId(db, merchantId, 'variant', payload.variant_id, 'square');
  if (!location.squareLocationId || !catalogObjectId) return undefined;
  // Read at delivery time, so a burst of changes coalesced into one message sends the latest figure.
  const level = await getStockLevel(db, merchantId, location.id, payload.variant_id);
  const quantity = channelAvailable(level.available, await getChannelBuffer(db, merchantId, 'square', location.id));
  const lastChangeAt = (await findLastStockChangeAt(db, merchantId, location.id, payload.variant_id)) ?? nowIso();
  const asOf = payload.as_of !== undefined && payload.as_of > lastChangeAt ? payload.as_of : lastChangeAt;
  return { locationId: location.id, variantId: payload.variant_id, squareLocationId: location.squareLocationId, catalogObjectId, quantity, asOf };
}

function placeKey(place: { location_id: string; variant_id: string }): string {
  return `${place.location_id}\u0000${place.variant_id}`;
}

/**
 * The other places waiting for a Square push of the same merchant, up to what one request holds
 * with this message's own. They are only read, never claimed (the outbox owns claims): each of
 * their messages is delivered in turn and finds Square already told (pushSquareStock skips it
 * without a request).
 */
async function readCompanionPlaces(db: Db, event: OutboxEvent, own: SquarePlace): Promise<SquarePlace[]> {
  // Messages being delivered (claimed in the same batch as this one, or by another worker) are read
  // too: sending their figure along is harmless, and their own delivery then finds Square told.
  const waiting = async (status: string) => listOutboxEvents(db, event.merchant_id, { status, destination: 'square', kind: 'inventory.push' });
  const pending = [...(await waiting('pending')), ...(await waiting('delivering'))];
  const seen = new Set([placeKey({ location_id: own.locationId, variant_id: own.variantId })]);
  const places: SquarePlace[] = [];
  for (const message of pending.slice(0, COMPANION_MESSAGES_READ_MAX)) {
    if (places.length >= INVENTORY_CHANGES_MAX - 1) break;
    const payload = JSON.parse(message.payload) as PushPayload;
    if (message.id === event.id || seen.has(placeKey(payload))) continue;
    seen.add(placeKey(payload));
    const place = await readSquarePlace(db, event.merchant_id, payload);
    if (place && !(await squareAlreadyShows(db, event.merchant_id, place))) places.push(place);
  }
  return places;
}

/** Square was last told (or last reported) exactly this figure: there is nothing to tell it. */
async function squareAlreadyShows(db: Db, merchantId: string, place: SquarePlace): Promise<boolean> {
  const mirror = await getChannelStockMirror(db, merchantId, 'square', place.locationId, place.variantId);
  return mirror.lastPushedAvailable === place.quantity;
}

/**
 * A UUID-shaped key that is the same for a true retry (this message, the same figures as of the
 * same moments, so the same request) and differs otherwise (protocols.md C6: the same key with
 * another request is an error).
 */
function idempotencyKeyFor(event: OutboxEvent, places: SquarePlace[]): string {
  const figures = places.map((place) => `${place.squareLocationId}:${place.catalogObjectId}=${place.quantity}@${place.asOf}`);
  const hex = createHash('sha256').update([event.id, ...figures].join('|')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Delivers one `inventory.push` to Square: the available figure of its place (less the Square
 * buffer, never below zero), and in the same BatchChangeInventory request those of other places
 * still waiting for a push, up to Square's 100 changes. Nothing is sent when Square owns the stock,
 * when the place is not mapped to Square, or when Square already shows the figure (a push that
 * carried it along went first). A 429 is waited out by the client; a lasting one, a 5xx or a
 * timeout throws, and the outbox retries with the same figures under the same key.
 */
export async function pushSquareStock(db: Db, client: SquareClient, event: OutboxEvent): Promise<string | void> {
  const merchant = await getMerchant(db, event.merchant_id);
  const owner = stockOwnerOf(merchant);
  if (owner === 'square') return 'skipped: Square owns the stock (sync.ownership.stock), so it is not told ours';
  const own = await readSquarePlace(db, merchant.id, JSON.parse(event.payload) as PushPayload);
  if (!own) return 'skipped: the location or variant has no Square id';
  if (await squareAlreadyShows(db, merchant.id, own)) return `skipped: Square already shows ${own.quantity}`;
  const places = [own, ...(await readCompanionPlaces(db, event, own))];
  // Each count is stated as of the moment our figure became true: Square applies changes by their
  // time (protocols.md C7), so its own changes made since (a sale at its register we have not
  // heard of yet) stay on top, and a retry of the same figures is the same request.
  const changes: InventoryChangeInput[] = places.map((place) => ({
    type: 'PHYSICAL_COUNT', catalogObjectId: place.catalogObjectId, locationId: place.squareLocationId, quantity: place.quantity, occurredAt: place.asOf,
    referenceId: `${CONTINUUM_REFERENCE_PREFIX}inventory.push:${event.id}`,
  }));
  await client.batchChangeInventory({ idempotencyKey: idempotencyKeyFor(event, places), changes });
  for (const place of places) await recordPushedAvailable(db, merchant.id, 'square', place.locationId, place.variantId, place.quantity);
  if (places.length > 1) return `pushed ${places.length} counts in one BatchChangeInventory`;
}
