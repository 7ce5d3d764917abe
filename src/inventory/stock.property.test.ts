import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMerchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { applyStockMovement, endReservation, getStockLevel, reserveStock } from './index.ts';

// Random interleavings of the operations that move stock keep the level equal to its movements
// and never reserve or sell, by an engine decision, more than is available.

type Operation =
  | { kind: 'receive'; location: number; quantity: number }
  | { kind: 'sell'; location: number; quantity: number }
  | { kind: 'reserve'; location: number; quantity: number }
  | { kind: 'release'; pick: number }
  | { kind: 'fulfil'; pick: number }
  | { kind: 'return'; location: number; quantity: number }
  | { kind: 'transfer'; from: number; quantity: number }
  | { kind: 'replay'; pick: number };

const location = fc.integer({ min: 0, max: 1 });
const quantity = fc.integer({ min: 1, max: 6 });
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('receive' as const), location, quantity }),
  fc.record({ kind: fc.constant('sell' as const), location, quantity }),
  fc.record({ kind: fc.constant('reserve' as const), location, quantity }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('fulfil' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('return' as const), location, quantity }),
  fc.record({ kind: fc.constant('transfer' as const), from: location, quantity }),
  fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }),
);

const runsPerDialect = 25;

for (const dialect of DIALECTS) {
  test(`[${dialect}] any interleaving of receive, sell, reserve, release, fulfil, return and transfer keeps on hand equal to its movements and never over-reserves`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Property Shop', currency: 'USD', defaultCountry: 'CA' });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 30 }), async (operations) => {
        run += 1;
        const variantId = `var_prop_${run}`;
        const locations = [`loc_a_${run}`, `loc_b_${run}`];
        const reservations: string[] = [];
        const keys: string[] = [];
        for (const [step, op] of operations.entries()) {
          const key = `run${run}:step${step}`;
          try {
            await db.transaction().execute(async (tx) => {
              switch (op.kind) {
                case 'receive':
                case 'return':
                  await applyStockMovement(tx, merchant.id, { locationId: locations[op.location]!, variantId, kind: op.kind, onHandDelta: op.quantity, sourceKey: key, actor: 'test', requireAvailable: false });
                  keys.push(key);
                  break;
                case 'sell':
                  await applyStockMovement(tx, merchant.id, { locationId: locations[op.location]!, variantId, kind: 'sale', onHandDelta: -op.quantity, sourceKey: key, actor: 'test', requireAvailable: true });
                  keys.push(key);
                  break;
                case 'reserve':
                  reservations.push((await reserveStock(tx, merchant.id, { locationId: locations[op.location]!, variantId, quantity: op.quantity, kind: 'hold', actor: 'test' })).id);
                  break;
                case 'release':
                case 'fulfil':
                  if (reservations.length > 0) await endReservation(tx, merchant.id, reservations[op.pick % reservations.length]!, op.kind === 'release' ? 'released' : 'fulfilled', 'test');
                  break;
                case 'transfer':
                  await applyStockMovement(tx, merchant.id, { locationId: locations[op.from]!, variantId, kind: 'transfer_out', onHandDelta: -op.quantity, sourceKey: `${key}:out`, actor: 'test', requireAvailable: true });
                  await applyStockMovement(tx, merchant.id, { locationId: locations[1 - op.from]!, variantId, kind: 'transfer_in', onHandDelta: op.quantity, sourceKey: `${key}:in`, actor: 'test', requireAvailable: false });
                  break;
                case 'replay': {
                  const replayed = keys[op.pick % Math.max(keys.length, 1)];
                  if (!replayed) break;
                  const result = await applyStockMovement(tx, merchant.id, { locationId: locations[0]!, variantId, kind: 'receive', onHandDelta: 99, sourceKey: replayed, actor: 'test', requireAvailable: false });
                  assert.equal(result.applied, false, 'a replayed source key moves nothing');
                  // A replay the stock could no longer cover is still a replay, not a refusal.
                  const guarded = await applyStockMovement(tx, merchant.id, { locationId: locations[1]!, variantId, kind: 'sale', onHandDelta: -1_000_000, sourceKey: replayed, actor: 'test', requireAvailable: true });
                  assert.equal(guarded.applied, false, 'a replayed sale moves nothing and is not refused');
                  break;
                }
              }
            });
          } catch (error) {
            assert.ok(error instanceof AppError && error.code === 'inventory.insufficient_stock', `only a refusal may fail an operation: ${String(error)}`);
          }
        }
        for (const locationId of locations) {
          const level = await getStockLevel(db, merchant.id, locationId, variantId);
          const sums = await db.selectFrom('stock_movements').select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('on_hand_delta'), eb.lit(0)).as('on_hand'), eb.fn.coalesce(eb.fn.sum<number>('reserved_delta'), eb.lit(0)).as('reserved')]).where('merchant_id', '=', merchant.id).where('location_id', '=', locationId).where('variant_id', '=', variantId).executeTakeFirstOrThrow();
          assert.equal(level.onHand, Number(sums.on_hand), 'on hand is the sum of its movements');
          assert.equal(level.reserved, Number(sums.reserved), 'reserved is the sum of its movements');
          assert.ok(level.available >= 0, `engine decisions never take available below zero (got ${level.available})`);
          assert.ok(level.reserved <= level.onHand, 'never more reserved than exists');
        }
      }),
      { numRuns: runsPerDialect },
    );
  });
}
