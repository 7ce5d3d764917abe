import { reuseQuery, type ParameterPlaceholders, type Queryable, type StockLevelsTable } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';

export type MovementKind = 'sale' | 'return' | 'receive' | 'adjust' | 'count' | 'transfer_out' | 'transfer_in' | 'reserve' | 'release' | 'fulfil';

export interface StockLevel {
  locationId: string;
  variantId: string;
  onHand: number;
  reserved: number;
  safety: number;
  /** available = on_hand − reserved − safety */
  available: number;
}

export interface StockMovementInput {
  locationId: string;
  variantId: string;
  kind: MovementKind;
  onHandDelta: number;
  reservedDelta?: number;
  /** Unique per merchant and derived from the source document, so a replay moves nothing. */
  sourceKey: string;
  reason?: string | null;
  actor: string;
  orderId?: string | null;
  /**
   * True for decisions the engine makes (a live register sale, a reservation): the change is one
   * conditional update that fails rather than take available below zero. False for facts that
   * already happened elsewhere (a web order, an offline sale), which are recorded as they are.
   */
  requireAvailable: boolean;
  /** Compare-and-swap on on hand: the change applies only if on hand is still this (a count). */
  expectedOnHand?: number;
  /** When it happened by the channel's clock, for movements a channel caused (see channel-stock-time.ts). */
  occurredAt?: string | null;
}

export interface StockMovementResult {
  applied: boolean;
  level: StockLevel;
  /** The movement took available below zero: an oversell for a person to resolve. */
  oversold: boolean;
}

function toLevel(row: Pick<StockLevelsTable, 'location_id' | 'variant_id' | 'on_hand' | 'reserved' | 'safety'>): StockLevel {
  return { locationId: row.location_id, variantId: row.variant_id, onHand: row.on_hand, reserved: row.reserved, safety: row.safety, available: row.on_hand - row.reserved - row.safety };
}

async function ensureLevelRow(db: Queryable, merchantId: string, locationId: string, variantId: string): Promise<void> {
  await db
    .insertInto('stock_levels')
    .values({ merchant_id: merchantId, location_id: locationId, variant_id: variantId, on_hand: 0, reserved: 0, safety: 0, updated_at: nowIso() })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'location_id', 'variant_id']).doNothing())
    .execute();
}

const levelByPlace = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; locationId: string; variantId: string }>) => db
  .selectFrom('stock_levels').selectAll().where('merchant_id', '=', param('merchantId')).where('location_id', '=', param('locationId')).where('variant_id', '=', param('variantId')));

export async function getStockLevel(db: Queryable, merchantId: string, locationId: string, variantId: string): Promise<StockLevel> {
  const [row] = await levelByPlace.execute(db, { merchantId, locationId, variantId });
  return row ? toLevel(row) : { locationId, variantId, onHand: 0, reserved: 0, safety: 0, available: 0 };
}

/**
 * Applies one stock movement in the caller's transaction: changes the level by a single
 * conditional UPDATE, never read-then-write, and appends the movement to the log once per source
 * key. A source key already in the log is a replay: nothing changes.
 *
 * The replay is found by the movement's own INSERT (ON CONFLICT DO NOTHING) rather than a lookup
 * before it, one statement less for every movement (bench/orders-end-to-end.ts counts them): the
 * level changes first, and a replay, which is rare, takes its change back. On PostgreSQL a
 * concurrent writer of the same source key waits on the level's row lock, then finds the movement.
 */
export async function applyStockMovement(db: Queryable, merchantId: string, input: StockMovementInput): Promise<StockMovementResult> {
  const reservedDelta = input.reservedDelta ?? 0;
  assert(Number.isSafeInteger(input.onHandDelta) && Number.isSafeInteger(reservedDelta), 'stock deltas are integers');
  const availableDelta = input.onHandDelta - reservedDelta;
  let row = await updateLevel(db, merchantId, input, reservedDelta, availableDelta);
  if (!row && !(await levelExists(db, merchantId, input.locationId, input.variantId))) {
    // The first movement of a variant at a location creates its level row.
    await ensureLevelRow(db, merchantId, input.locationId, input.variantId);
    row = await updateLevel(db, merchantId, input, reservedDelta, availableDelta);
  }
  if (!row) {
    // A replay of a movement that was applied is not refused because stock has gone since.
    if (await movementExists(db, merchantId, input.sourceKey)) return replayed(db, merchantId, input);
    await refuseMovement(db, merchantId, input, availableDelta);
  }
  assert(row, 'the level was updated');

  const appended = await appendMovement.execute(db, { id: newId('mov'), merchant_id: merchantId, location_id: input.locationId, variant_id: input.variantId, kind: input.kind, on_hand_delta: input.onHandDelta, reserved_delta: reservedDelta, source_key: input.sourceKey, reason: input.reason ?? null, actor: input.actor, order_id: input.orderId ?? null, created_at: nowIso(), occurred_at: input.occurredAt ?? null });
  if (appended.length === 0) {
    await updateLevelUnguarded.execute(db, { merchantId, locationId: input.locationId, variantId: input.variantId, onHandDelta: -input.onHandDelta, reservedDelta: -reservedDelta, updatedAt: nowIso() });
    return replayed(db, merchantId, input);
  }
  const level = toLevel({ location_id: input.locationId, variant_id: input.variantId, ...row });
  return { applied: true, level, oversold: availableDelta < 0 && level.available < 0 };
}

async function replayed(db: Queryable, merchantId: string, input: StockMovementInput): Promise<StockMovementResult> {
  return { applied: false, level: await getStockLevel(db, merchantId, input.locationId, input.variantId), oversold: false };
}

async function movementExists(db: Queryable, merchantId: string, sourceKey: string): Promise<boolean> {
  return (await movementBySourceKey.execute(db, { merchantId, sourceKey })).length > 0;
}

// The statements every hold and every sale runs, built and compiled once (Kysely's building and
// compiling cost 50 to 90 µs of CPU per statement, found by bench/stock.ts and .prof/holds-cpu.mts, issue #9).
const movementBySourceKey = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; sourceKey: string }>) => db
  .selectFrom('stock_movements').select('id').where('merchant_id', '=', param('merchantId')).where('source_key', '=', param('sourceKey')));

type MovementRow = { id: string; merchant_id: string; location_id: string; variant_id: string; kind: string; on_hand_delta: number; reserved_delta: number; source_key: string; reason: string | null; actor: string; order_id: string | null; created_at: string; occurred_at: string | null };
/** Appends a movement; returns no row when its source key is already in the log (a replay). */
const appendMovement = reuseQuery((db, param: ParameterPlaceholders<MovementRow>) => db.insertInto('stock_movements').values({
  id: param('id'), merchant_id: param('merchant_id'), location_id: param('location_id'), variant_id: param('variant_id'), kind: param('kind'), on_hand_delta: param('on_hand_delta'), reserved_delta: param('reserved_delta'),
  source_key: param('source_key'), reason: param('reason'), actor: param('actor'), order_id: param('order_id'), created_at: param('created_at'), occurred_at: param('occurred_at'),
}).onConflict((conflict) => conflict.columns(['merchant_id', 'source_key']).doNothing()).returning('id'));

type LevelChange = { merchantId: string; locationId: string; variantId: string; onHandDelta: number; reservedDelta: number; updatedAt: string };
function buildLevelUpdate(db: Queryable, param: ParameterPlaceholders<LevelChange>) {
  return db
    .updateTable('stock_levels')
    .set((eb) => ({ on_hand: eb('on_hand', '+', param('onHandDelta')), reserved: eb('reserved', '+', param('reservedDelta')), updated_at: param('updatedAt') }))
    .where('merchant_id', '=', param('merchantId'))
    .where('location_id', '=', param('locationId'))
    .where('variant_id', '=', param('variantId'));
}
/** A change that adds to available, or a fact recorded as it happened. */
const updateLevelUnguarded = reuseQuery((db, param: ParameterPlaceholders<LevelChange>) => buildLevelUpdate(db, param).returning(['on_hand', 'reserved', 'safety']));
/** The oversell guard: the change applies only while available covers it, in the UPDATE itself. */
const updateLevelGuarded = reuseQuery((db, param: ParameterPlaceholders<LevelChange & { needed: number }>) => buildLevelUpdate(db, param)
  .where((eb) => eb(eb(eb('on_hand', '-', eb.ref('reserved')), '-', eb.ref('safety')), '>=', param('needed')))
  .returning(['on_hand', 'reserved', 'safety']));

async function updateLevel(db: Queryable, merchantId: string, input: StockMovementInput, reservedDelta: number, availableDelta: number) {
  const guarded = input.requireAvailable && availableDelta < 0;
  if (input.expectedOnHand === undefined) {
    const change = { merchantId, locationId: input.locationId, variantId: input.variantId, onHandDelta: input.onHandDelta, reservedDelta, updatedAt: nowIso() };
    const rows = guarded ? await updateLevelGuarded.execute(db, { ...change, needed: -availableDelta }) : await updateLevelUnguarded.execute(db, change);
    return rows[0];
  }
  // A count (compare-and-swap on on hand) is rare: built each time.
  let update = db
    .updateTable('stock_levels')
    .set((eb) => ({ on_hand: eb('on_hand', '+', input.onHandDelta), reserved: eb('reserved', '+', reservedDelta), updated_at: nowIso() }))
    .where('merchant_id', '=', merchantId)
    .where('location_id', '=', input.locationId)
    .where('variant_id', '=', input.variantId);
  if (guarded) update = update.where((eb) => eb(eb(eb('on_hand', '-', eb.ref('reserved')), '-', eb.ref('safety')), '>=', -availableDelta));
  update = update.where('on_hand', '=', input.expectedOnHand);
  return update.returning(['on_hand', 'reserved', 'safety']).executeTakeFirst();
}

async function levelExists(db: Queryable, merchantId: string, locationId: string, variantId: string): Promise<boolean> {
  const row = await db.selectFrom('stock_levels').select('on_hand').where('merchant_id', '=', merchantId).where('location_id', '=', locationId).where('variant_id', '=', variantId).executeTakeFirst();
  return row !== undefined;
}

async function refuseMovement(db: Queryable, merchantId: string, input: StockMovementInput, availableDelta: number): Promise<never> {
  if (input.expectedOnHand !== undefined) {
    throw new AppError('inventory.concurrent_change', 'On hand changed while the count was being recorded', { location_id: input.locationId, variant_id: input.variantId });
  }
  const level = await getStockLevel(db, merchantId, input.locationId, input.variantId);
  const otherLocations = await listOtherLocationsWithStock(db, merchantId, input.variantId, input.locationId);
  throw new AppError('inventory.insufficient_stock', `Only ${Math.max(level.available, 0)} available at this location`, { location_id: input.locationId, variant_id: input.variantId, available: level.available, requested: -availableDelta, other_locations: otherLocations });
}

/** Where else a variant can be had: for the 409 that turns a shopper away, so she is not turned away empty-handed. */
export async function listOtherLocationsWithStock(db: Queryable, merchantId: string, variantId: string, exceptLocationId: string): Promise<{ location_id: string; available: number }[]> {
  // By the primary key (merchant, location, variant), once per other location of the merchant (a
  // few): filtered on the variant alone, SQLite, which plans without statistics, read every level
  // of the merchant, 140 ms for each refused hold at 1M SKUs (found by bench/stock.ts, issue #9).
  const rows = await db.selectFrom('stock_levels').select(['location_id', 'on_hand', 'reserved', 'safety']).where('merchant_id', '=', merchantId)
    .where('location_id', 'in', (eb) => eb.selectFrom('locations').select('id').where('merchant_id', '=', merchantId).where('id', '!=', exceptLocationId))
    .where('variant_id', '=', variantId).execute();
  return rows.map((row) => ({ location_id: row.location_id, available: row.on_hand - row.reserved - row.safety })).filter((row) => row.available > 0).sort((a, b) => b.available - a.available);
}

/** Sets the safety stock of a level: units kept back from available in every channel. */
export async function setSafetyStock(db: Queryable, merchantId: string, locationId: string, variantId: string, safety: number): Promise<StockLevel> {
  assert(Number.isSafeInteger(safety) && safety >= 0, 'safety stock is a non-negative integer');
  await ensureLevelRow(db, merchantId, locationId, variantId);
  await db.updateTable('stock_levels').set({ safety, updated_at: nowIso() }).where('merchant_id', '=', merchantId).where('location_id', '=', locationId).where('variant_id', '=', variantId).execute();
  return getStockLevel(db, merchantId, locationId, variantId);
}

export interface StockLevelView {
  location_id: string;
  sku: string;
  on_hand: number;
  reserved: number;
  safety: number;
  available: number;
}

/** Levels of one SKU at every location that holds or held it. */
export async function listStockLevelsBySku(db: Queryable, merchantId: string, sku: string): Promise<StockLevelView[]> {
  const rows = await db
    .selectFrom('stock_levels')
    .innerJoin('variants', (join) => join.onRef('variants.id', '=', 'stock_levels.variant_id').onRef('variants.merchant_id', '=', 'stock_levels.merchant_id'))
    .select(['stock_levels.location_id', 'variants.sku', 'stock_levels.on_hand', 'stock_levels.reserved', 'stock_levels.safety'])
    .where('stock_levels.merchant_id', '=', merchantId)
    // Each of the merchant's locations by the primary key, as in listOtherLocationsWithStock: 155 ms at 1M SKUs without it.
    .where('stock_levels.location_id', 'in', (eb) => eb.selectFrom('locations').select('locations.id').where('locations.merchant_id', '=', merchantId))
    .where('variants.sku', '=', sku)
    .orderBy('stock_levels.location_id')
    .execute();
  return rows.map((row) => ({ location_id: row.location_id, sku: row.sku, on_hand: row.on_hand, reserved: row.reserved, safety: row.safety, available: row.on_hand - row.reserved - row.safety }));
}

export async function listStockMovements(db: Queryable, merchantId: string, filter: { variantId?: string; locationId?: string }, limit = 200) {
  let query = db.selectFrom('stock_movements').selectAll().where('merchant_id', '=', merchantId);
  if (filter.variantId) query = query.where('variant_id', '=', filter.variantId);
  if (filter.locationId) query = query.where('location_id', '=', filter.locationId);
  return query.orderBy('created_at').orderBy('id').limit(Math.min(limit, 1000)).execute();
}

/** The level of a variant at a location, or undefined when stock there was never counted nor moved. */
export async function findStockLevel(db: Queryable, merchantId: string, locationId: string, variantId: string): Promise<StockLevel | undefined> {
  const row = await db.selectFrom('stock_levels').select(['location_id', 'variant_id', 'on_hand', 'reserved', 'safety']).where('merchant_id', '=', merchantId).where('location_id', '=', locationId).where('variant_id', '=', variantId).executeTakeFirst();
  return row ? toLevel(row) : undefined;
}

/** The variants with a level at a location, by id, a page at a time after `afterVariantId` (issue #8: pushing a location's stock again). */
export async function listVariantIdsStockedAt(db: Queryable, merchantId: string, locationId: string, afterVariantId: string | null, limit: number): Promise<string[]> {
  let query = db.selectFrom('stock_levels').select('variant_id').where('merchant_id', '=', merchantId).where('location_id', '=', locationId);
  if (afterVariantId !== null) query = query.where('variant_id', '>', afterVariantId);
  const rows = await query.orderBy('variant_id').limit(Math.min(limit, 1000)).execute();
  return rows.map((row) => row.variant_id);
}
