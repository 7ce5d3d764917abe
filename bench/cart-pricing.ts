import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { createProduct } from '../src/catalog/index.ts';
import { priceCart, type CartToPrice } from '../src/commands/index.ts';
import { migrateToLatest, openDatabase, type Db } from '../src/db/index.ts';
import { createLocation, createMerchant, getMerchant, type Location, type Merchant } from '../src/merchants/index.ts';
import { createPromotion, type PromotionAction, type PromotionInput } from '../src/promotions/index.ts';
import { newId } from '../src/shared/ids.ts';
import { reportFigures } from './figures.ts';

// Cart pricing with the promotion engine (issue #6): carts priced per second by `priceCart` (the
// function the register sale and POST /v1/carts/price share), called directly against a SQLite
// file, with 1,000 active promotions of every kind (a third automatic, some limited, some
// exclusive or not stackable, some with tiers, hours, minimums). Measured with the active
// promotions kept in memory (checked by one version read per cart) and read from the database for
// every cart. The raw storage limit of the same run is plain better-sqlite3 on the same file: the
// indexed SELECT of the merchant's active promotions, per second, which a cart priced without the
// memory needs at the least.
//
//   node --import tsx bench/cart-pricing.ts [--quick]

const quick = process.argv.includes('--quick');
const promotionsCount = 1_000;
const productsCount = quick ? 50 : 200;
const redemptionsCount = quick ? 2_000 : 20_000;
const customersCount = 200;
const measureSeconds = quick ? 1 : 5;

function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

/** A small deterministic generator, so every run prices the same carts. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const random = seededRandom(2026);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
const skuOf = (index: number) => `BENCH-${String(index).padStart(4, '0')}`;

function actionFor(index: number): PromotionAction {
  const sku = () => skuOf(Math.floor(random() * productsCount));
  switch (index % 8) {
    case 0:
      return { type: 'percent_off_order', percentBps: 500 + (index % 20) * 50 };
    case 1:
      return { type: 'amount_off_order', amountMinor: 200 + (index % 10) * 100 };
    case 2:
      return { type: 'percent_off_lines', percentBps: 1000, items: { skus: [sku(), sku(), sku()], productIds: [] } };
    case 3:
      return { type: 'amount_off_lines', amountMinor: 300, items: { skus: [sku(), sku()], productIds: [] } };
    case 4: {
      const skus = [sku(), sku()];
      return { type: 'buy_x_get_y', buy: { skus, productIds: [], quantity: 2 }, get: { skus, productIds: [], quantity: 1, percentBps: 10_000 }, usesPerOrderMax: null };
    }
    case 5:
      return { type: 'free_item', sku: sku(), quantity: 1 };
    case 6:
      return { type: 'free_shipping' };
    default: {
      const first = Math.floor(random() * productsCount);
      return { type: 'member_price', prices: [{ sku: skuOf(first), unitPriceMinor: 999 }, { sku: skuOf((first + 1) % productsCount), unitPriceMinor: 1499 }] };
    }
  }
}

function promotionFor(index: number, storeId: string): PromotionInput {
  const action = actionFor(index);
  const automatic = index % 3 === 0;
  return {
    code: automatic && index % 2 === 0 ? null : `BENCH${index}`, name: `Bench promotion ${index}`, action, automatic,
    channels: index % 5 === 0 ? ['online'] : index % 7 === 0 ? ['store'] : ['online', 'store'],
    priority: index % 11, exclusive: index % 97 === 0, stackable: index % 10 !== 0,
    totalUsageMax: index % 10 === 1 ? 10_000 : null, perCustomerUsageMax: index % 10 === 2 ? 3 : null,
    conditions: {
      minSubtotalMinor: index % 4 === 0 ? 5_000 : null,
      customerTiers: action.type === 'member_price' || index % 13 === 0 ? ['Gold'] : [],
      locationIds: index % 17 === 0 ? [storeId] : [],
      hours: index % 19 === 0 ? { days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00', timeZone: 'America/Toronto' } : null,
      firstOrder: index % 23 === 0,
    },
  };
}

async function seed(db: Db): Promise<{ merchant: Merchant; store: Location; codes: string[]; customerIds: string[] }> {
  const created = await createMerchant(db, { name: 'Bench Promotions', currency: 'USD', defaultCountry: 'CA', settings: { loyalty: { tiers: [{ name: 'Gold', threshold: 100_000, earnMultiplierBps: 10_000 }] } } });
  const merchant = await getMerchant(db, created.id);
  const store = await createLocation(db, merchant.id, { name: 'Bench Store', kind: 'store', taxRateBps: 1300 });
  await db.transaction().execute(async (tx) => {
    for (let index = 0; index < productsCount; index += 1) {
      await createProduct(tx, merchant.id, merchant.currency, { title: `Product ${index}`, variants: [{ sku: skuOf(index), title: `Product ${index}`, priceMinor: 500 + (index % 40) * 250 }] });
    }
  });
  const codes: string[] = [];
  const promotionIds: string[] = [];
  await db.transaction().execute(async (tx) => {
    for (let index = 0; index < promotionsCount; index += 1) {
      const promotion = await createPromotion(tx, merchant.id, promotionFor(index, store.id));
      promotionIds.push(promotion.id);
      if (promotion.code !== null) codes.push(promotion.code);
    }
  });
  const now = new Date().toISOString();
  const customerIds = Array.from({ length: customersCount }, (_, index) => `cus_bench_${index}`);
  await db.insertInto('customers').values(customerIds.map((id) => ({ id, merchant_id: merchant.id, first_name: null, last_name: null, name_search: '', loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now }))).execute();
  await db.insertInto('loyalty_accounts').values(customerIds.map((id, index) => ({ merchant_id: merchant.id, customer_id: id, available: 0, pending: 0, lifetime_earned: 0, tier: index % 4 === 0 ? 'Gold' : 'Member', updated_at: now }))).execute();
  for (let offset = 0; offset < redemptionsCount; offset += 1_000) {
    await db.insertInto('promotion_redemptions').values(Array.from({ length: Math.min(1_000, redemptionsCount - offset) }, (_, index) => ({
      id: newId('prd'), merchant_id: merchant.id, promotion_id: promotionIds[(offset + index) % promotionIds.length]!, order_id: `ord_bench_${offset + index}`,
      customer_id: customerIds[(offset + index) % customerIds.length]!, channel: 'store', amount_minor: 100, created_at: now,
    }))).execute();
  }
  return { merchant, store, codes, customerIds };
}

function cartFor(iteration: number, fixture: { store: Location; codes: string[]; customerIds: string[] }): CartToPrice {
  const linesCount = 1 + (iteration % 5);
  const codesCount = iteration % 3;
  return {
    channel: iteration % 4 === 0 ? 'online' : 'store', location: fixture.store, customerId: iteration % 2 === 0 ? pick(fixture.customerIds) : null,
    lines: Array.from({ length: linesCount }, () => ({ sku: skuOf(Math.floor(random() * productsCount)), quantity: 1 + Math.floor(random() * 3), unitPriceMinor: null })),
    promotionCodes: [...new Set(Array.from({ length: codesCount }, () => pick(fixture.codes)))], rewards: [], shippingMinor: iteration % 4 === 0 ? 1_500 : 0,
    at: new Date().toISOString(),
  };
}

/** Carts per second, and CPU time per cart (the figure least disturbed by other work on the machine). */
async function measure(label: string, action: (iteration: number) => Promise<unknown>): Promise<{ perSecond: number; cpuMicros: number }> {
  const start = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  let count = 0;
  while (secondsSince(start) < measureSeconds) {
    await action(count);
    count += 1;
  }
  const perSecond = count / secondsSince(start);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMicros = (cpu.user + cpu.system) / count;
  console.log(`  ${label}: ${Math.round(perSecond).toLocaleString('en-US')}/s, ${Math.round(cpuMicros).toLocaleString('en-US')} µs of CPU each`);
  return { perSecond, cpuMicros };
}

function measureRaw(path: string, merchantId: string): { promotionsReads: number; versionReads: number } {
  const database = new SqliteDatabase(path, { readonly: true });
  const readActive = database.prepare('select * from promotions where merchant_id = ? and active = 1 order by id');
  const readVersion = database.prepare('select version from promotion_versions where merchant_id = ?');
  const loop = (action: () => unknown) => {
    const start = process.hrtime.bigint();
    let count = 0;
    while (secondsSince(start) < measureSeconds) {
      action();
      count += 1;
    }
    return count / secondsSince(start);
  };
  const promotionsReads = loop(() => readActive.all(merchantId));
  const versionReads = loop(() => readVersion.get(merchantId));
  database.close();
  return { promotionsReads, versionReads };
}

const directory = mkdtempSync(join(tmpdir(), 'continuum-bench-cart-pricing-'));
const path = join(directory, 'cart-pricing.sqlite');
const handle = openDatabase(`sqlite:${path}`);
try {
  await migrateToLatest(handle.db, handle.dialect);
  const loadStart = process.hrtime.bigint();
  const fixture = await seed(handle.db);
  console.log(`loaded ${promotionsCount.toLocaleString('en-US')} active promotions, ${productsCount} products and ${redemptionsCount.toLocaleString('en-US')} uses in ${secondsSince(loadStart).toFixed(1)} s`);

  // A check that the carts are real work: how many promotions the first hundred carts apply.
  let applied = 0;
  let notApplied = 0;
  for (let iteration = 0; iteration < 100; iteration += 1) {
    const priced = await priceCart(handle.db, fixture.merchant, cartFor(iteration, fixture));
    applied += priced.promotions.length;
    notApplied += priced.notApplied.length;
  }
  console.log(`  a cart applies ${(applied / 100).toFixed(1)} promotions and reports ${(notApplied / 100).toFixed(0)} that did not apply, on average`);

  const withMemory = await measure('carts priced, active promotions in memory', (iteration) => priceCart(handle.db, fixture.merchant, cartFor(iteration, fixture)));
  const withoutMemory = await measure('carts priced, active promotions read for every cart', (iteration) => priceCart(handle.db, fixture.merchant, cartFor(iteration, fixture), { useMemory: false }));
  await handle.close();
  const raw = measureRaw(path, fixture.merchant.id);

  console.table([
    { figure: `carts priced per second, ${promotionsCount} active promotions, in memory`, value: Math.round(withMemory.perSecond), 'CPU µs/cart': Math.round(withMemory.cpuMicros), raw: Math.round(raw.promotionsReads), ratio: (withMemory.perSecond / raw.promotionsReads).toFixed(2) },
    { figure: `carts priced per second, ${promotionsCount} active promotions, read per cart`, value: Math.round(withoutMemory.perSecond), 'CPU µs/cart': Math.round(withoutMemory.cpuMicros), raw: Math.round(raw.promotionsReads), ratio: (withoutMemory.perSecond / raw.promotionsReads).toFixed(2) },
    { figure: 'raw version reads per second (the memory check)', value: '', 'CPU µs/cart': '', raw: Math.round(raw.versionReads), ratio: '' },
  ]);
  reportFigures('cart-pricing', [
    { figure: `carts priced/s with ${promotionsCount} active promotions, kept in memory`, value: withMemory.perSecond, unit: '/s', cpuMicrosPerOperation: withMemory.cpuMicros, raw: raw.promotionsReads, rawWhat: 'SELECTs of the active promotions' },
    { figure: `carts priced/s with ${promotionsCount} active promotions, read for every cart`, value: withoutMemory.perSecond, unit: '/s', cpuMicrosPerOperation: withoutMemory.cpuMicros, raw: raw.promotionsReads, rawWhat: 'SELECTs of the active promotions' },
  ]);
} finally {
  await handle.close().catch(() => undefined);
  rmSync(directory, { recursive: true, force: true });
}
