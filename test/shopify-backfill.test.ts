import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeShopify, type FakeShopify, type FakeShopifyOptions } from '../fakes/fake-shopify.ts';
import { backfillShopify, createShopifyAdminClient, getShopifyBackfillProgress, type BackfillOptions, type BackfillProgressEvent } from '../src/connectors/shopify/index.ts';
import type { Db } from '../src/db/index.ts';
import { connectChannel, createLocation, createMerchant } from '../src/merchants/index.ts';
import { AppError } from '../src/shared/app-error.ts';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';

// The first-connection backfill (issue #7): a fake shop with more than one page of every resource,
// read through the Admin API with its cost-based throttling, failures and slowness, applied the way
// the webhooks apply, resumable after an interruption, and a no-op when run again.

const gid = (type: string, id: string) => `gid://shopify/${type}/${id}`;
const pageSizes = { locations: 3, products: 5, customers: 10, inventoryLevels: 10 } as const;
const demoShopProducts = [
  { id: '788032119674292922', sku: 'SKU2006-001', title: 'Aviator sunglasses', variant: '642667041472713922', item: '271878346596884015', price: '89.99' },
  { id: '788032119674292923', sku: 'SKU2006-020', title: 'Mid-century lounger', variant: '757650484644203962', item: '271878346596884016', price: '159.99' },
  { id: '788032119674292924', sku: 'SKU-WALLET-01', title: 'Leather card wallet', variant: '642667041472713999', item: '271878346596884017', price: '50.00' },
  { id: '788032119674292925', sku: 'SKU-BEANIE-01', title: 'Wool beanie', variant: '642667041472714000', item: '271878346596884018', price: '24.99' },
];
const newProducts = 8;
const bigProductVariants = 25;
const shopCustomers = 25;
/** 4 demo variants, 7 products of 2, one of 25. */
const shopVariants = 4 + (newProducts - 1) * 2 + bigProductVariants;

/** A shop with more than one page of locations, products (one product's variants span pages too), customers and levels. */
function seedShop(fake: FakeShopify): void {
  fake.setLocation({ id: '24826418', name: 'Ottawa Warehouse', fulfillsOnlineOrders: true });
  fake.setLocation({ id: '24826419', name: 'Rideau Street Store' });
  fake.setLocation({ id: '655441491', name: '50 Rideau Street', address: { city: 'Ottawa', countryCode: 'CA' } });
  fake.setLocation({ id: '655441492', name: 'Kanata (closed)', isActive: false });
  for (const product of demoShopProducts) {
    fake.setProduct({ id: product.id, title: product.title, updatedAt: '2026-01-01T00:00:00Z', variants: [{ id: product.variant, sku: product.sku, title: 'Default Title', price: product.price, inventoryItemId: product.item }] });
  }
  let itemCount = 0;
  for (let index = 1; index <= newProducts; index += 1) {
    const variants = Array.from({ length: index === newProducts ? bigProductVariants : 2 }, (_, variant) => {
      itemCount += 1;
      return { id: String(9_200_000_000_000_000_000n + BigInt(itemCount)), sku: `BF-${index}-${variant + 1}`, title: `Size ${variant + 1}`, price: `${10 + index}.50`, inventoryItemId: String(9_300_000_000_000_000_000n + BigInt(itemCount)) };
    });
    fake.setProduct({ id: String(9_100_000_000_000_000_000n + BigInt(index)), title: `Backfill tee ${index}`, updatedAt: '2026-01-01T00:00:00Z', variants });
  }
  for (let index = 1; index <= shopCustomers; index += 1) {
    fake.setCustomer({ id: String(8_100_000_000_000_000_000n + BigInt(index)), firstName: `Shopper${index}`, lastName: 'Backfill', email: `shopper${index}@example.com`, updatedAt: '2026-01-01T00:00:00Z', verifiedEmail: true });
  }
  for (let item = 1; item <= itemCount; item += 1) {
    fake.setQuantity(gid('InventoryItem', String(9_300_000_000_000_000_000n + BigInt(item))), gid('Location', '24826418'), item);
    fake.setQuantity(gid('InventoryItem', String(9_300_000_000_000_000_000n + BigInt(item))), gid('Location', '24826419'), 2);
  }
  for (const product of demoShopProducts) fake.setQuantity(gid('InventoryItem', product.item), gid('Location', '24826419'), 50);
}

/** One clock for the fake's leaky bucket and the client's waits: throttling costs no real time. */
function virtualTime() {
  let nowMs = 0;
  return { nowMs: () => nowMs, sleep: async (ms: number) => { nowMs += ms; } };
}

async function startShop(t: { after(fn: () => Promise<void>): void }, options: FakeShopifyOptions = {}) {
  const time = virtualTime();
  const fake = await startFakeShopify({ nowMs: time.nowMs, ...options });
  t.after(() => fake.close());
  seedShop(fake);
  const backfillOptions = (timeoutMs = 5_000): BackfillOptions => ({
    clientFactory: () => createShopifyAdminClient({ adminApiUrl: fake.url, accessToken: fake.token, sleep: time.sleep, nowMs: time.nowMs, timeoutMs }),
    sleep: time.sleep,
    pageSizes,
  });
  return { fake, backfillOptions };
}

/** A merchant whose shop is connected for the first time: locations mapped, nothing else yet. */
async function createFreshMerchant(db: Db, fake: FakeShopify): Promise<string> {
  const merchant = await createMerchant(db, { name: `Fresh ${Math.random()}`, currency: 'USD', defaultCountry: 'CA' });
  await createLocation(db, merchant.id, { name: 'Warehouse', kind: 'warehouse', shopifyLocationId: '24826418', fulfilsOnline: true });
  await createLocation(db, merchant.id, { name: 'Store', kind: 'store', shopifyLocationId: '24826419' });
  await connectChannel(db, merchant.id, { channel: 'shopify', accountRef: `fresh-${merchant.id}.myshopify.com`, webhookSecret: 'fresh-shop-secret', adminApiUrl: fake.url, accessToken: fake.token });
  return merchant.id;
}

/** What the backfill writes, counted: a run that changes nothing leaves every figure as it was. */
async function snapshot(db: Db, merchantId: string) {
  const countOf = async (table: 'products' | 'variants' | 'customers' | 'customer_identifiers' | 'external_refs' | 'stock_movements' | 'channel_locations' | 'exceptions') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).executeTakeFirstOrThrow()).count);
  const onHand = await db.selectFrom('stock_levels').select(['location_id', 'variant_id', 'on_hand']).where('merchant_id', '=', merchantId).orderBy('location_id').orderBy('variant_id').execute();
  const prices = await db.selectFrom('variants').select(['sku', 'title', 'price_minor']).where('merchant_id', '=', merchantId).orderBy('sku').execute();
  return {
    products: await countOf('products'), variants: await countOf('variants'), customers: await countOf('customers'), identifiers: await countOf('customer_identifiers'), refs: await countOf('external_refs'),
    movements: await countOf('stock_movements'), channelLocations: await countOf('channel_locations'), exceptions: await countOf('exceptions'), onHand, prices,
  };
}

async function setStockOwner(harness: TestEngine, owner: 'continuum' | 'shopify'): Promise<void> {
  const db = harness.engine.database.db;
  const row = await db.selectFrom('merchants').select('settings_json').where('id', '=', harness.demo.merchant.id).executeTakeFirstOrThrow();
  const settings = JSON.parse(row.settings_json);
  settings.sync = { ownership: { ...(settings.sync?.ownership ?? {}), stock: owner } };
  await db.updateTable('merchants').set({ settings_json: JSON.stringify(settings) }).where('id', '=', harness.demo.merchant.id).execute();
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] a first-connection backfill reads every page of every resource and imports stock as the initial count where Continuum has none`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { backfillOptions } = await startShop(t);
    const db = harness.engine.database.db;
    const merchantId = await createFreshMerchant(db, harness.fake);
    const events: BackfillProgressEvent[] = [];
    const result = await backfillShopify(db, merchantId, { ...backfillOptions(), onProgress: (event) => events.push(event) });

    assert.equal(result.state, 'done');
    assert.deepEqual(result.totals, { products: demoShopProducts.length + newProducts, customers: shopCustomers, locations: 4 });
    const pagesOf = (resource: string) => result.resources.find((cursor) => cursor.resource === resource)?.pages ?? 0;
    for (const resource of ['locations', 'products', 'customers', 'inventory_levels:24826418', 'inventory_levels:24826419']) assert.ok(pagesOf(resource) > 1, `${resource} spans more than one page`);
    assert.ok(events.length === result.pagesApplied && events.at(-1)?.done, 'one progress event per page, the last one done');

    const written = await snapshot(db, merchantId);
    assert.equal(written.products, demoShopProducts.length + newProducts);
    assert.equal(written.variants, shopVariants, 'every variant, the big product\'s second page of variants included');
    assert.equal(written.channelLocations, 4, 'inactive locations too');
    const bigTee = written.prices.filter((variant) => variant.sku.startsWith(`BF-${newProducts}-`));
    assert.equal(bigTee.length, bigProductVariants);
    assert.deepEqual(written.prices.find((variant) => variant.sku === 'BF-2-1'), { sku: 'BF-2-1', title: 'Backfill tee 2 - Size 1', price_minor: 1250 });
    const items = await db.selectFrom('external_refs').select('external_id').where('merchant_id', '=', merchantId).where('entity', '=', 'inventory_item').execute();
    assert.equal(items.length, shopVariants, 'every inventory item id is linked');
    const customers = await db.selectFrom('customer_identifiers').select('value_normalized').where('merchant_id', '=', merchantId).where('kind', '=', 'shopify_id').execute();
    assert.equal(customers.length, shopCustomers);

    const initial = await db.selectFrom('stock_movements').select(['kind', 'reason']).where('merchant_id', '=', merchantId).execute();
    assert.ok(initial.length > 0 && initial.every((movement) => movement.kind === 'count' && /Initial count from Shopify/.test(movement.reason ?? '')));
    assert.equal(written.onHand.filter((level) => level.on_hand === 50).length, demoShopProducts.length, "the store's demo items take Shopify's 50 as their first count");
  });

  test(`[${dialect}] an interrupted backfill resumes from its cursor; run again it changes nothing, and a restart reads everything and still changes nothing`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { fake, backfillOptions } = await startShop(t);
    const db = harness.engine.database.db;
    const merchantId = await createFreshMerchant(db, harness.fake);
    const interrupting: BackfillOptions = { ...backfillOptions(), onProgress: (event) => { if (event.resource === 'products' && event.pages === 2) fake.failNext(1_000, 503); } };
    await assert.rejects(backfillShopify(db, merchantId, interrupting), (error) => error instanceof AppError && error.code === 'connectors.shopify.unavailable');
    const { resources } = await getShopifyBackfillProgress(db, merchantId);
    const products = resources.find((cursor) => cursor.resource === 'products');
    assert.equal(products?.state, 'running');
    assert.equal(products?.pages, 2);
    assert.ok(products?.cursor, 'the cursor of the last page applied is kept');

    fake.failNext(0);
    const requestsBefore = fake.requests.length;
    const resumed = await backfillShopify(db, merchantId, backfillOptions());
    assert.equal(resumed.state, 'done');
    const firstProductsRead = fake.requests.slice(requestsBefore).find((request) => request.operation === 'products');
    assert.equal(firstProductsRead?.variables.after, products?.cursor, 'the resumed run starts after the last page applied');
    const afterResume = await snapshot(db, merchantId);
    assert.equal(afterResume.products, demoShopProducts.length + newProducts, 'no page applied twice, none skipped');
    assert.equal(afterResume.variants, shopVariants);
    assert.equal(afterResume.customers, shopCustomers);

    const beforeSecond = fake.requests.length;
    const second = await backfillShopify(db, merchantId, backfillOptions());
    assert.equal(second.state, 'done');
    assert.equal(second.pagesApplied, 0);
    assert.deepEqual(fake.requests.slice(beforeSecond).map((request) => request.operation), ['productsCount,customersCount,locationsCount'], 'a finished backfill reads nothing but the counts again');
    assert.deepEqual(await snapshot(db, merchantId), afterResume);

    const restarted = await backfillShopify(db, merchantId, { ...backfillOptions(), restart: true });
    assert.equal(restarted.state, 'done');
    assert.ok(restarted.pagesApplied > 10, 'a restart reads every page again');
    assert.deepEqual(await snapshot(db, merchantId), afterResume, 'and changes nothing that is current');
    assert.equal(restarted.resources.find((cursor) => cursor.resource === 'inventory_levels:24826418')?.counts['matching'], (newProducts - 1) * 2 + bigProductVariants, 'levels read again match what they imported');
  });

  test(`[${dialect}] the backfill completes against a shop that throttles (429), fails with 5xx, answers slowly and once never answers; pacing by the reported bucket avoids other throttling`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { fake, backfillOptions } = await startShop(t, { throttleStatus: 429, maximumAvailable: 600, restoreRate: 50 });
    const db = harness.engine.database.db;
    const merchantId = await createFreshMerchant(db, harness.fake);
    fake.throttleNext(3);
    let disturbed = false;
    const options: BackfillOptions = {
      ...backfillOptions(300),
      onProgress: (event) => {
        if (disturbed || event.resource !== 'customers') return;
        disturbed = true;
        fake.failNext(2, 500);
        fake.slowNext(2, 50);
        fake.hangNext(1);
      },
    };
    const result = await backfillShopify(db, merchantId, options);
    assert.equal(result.state, 'done');
    const outcomes = fake.requests.map((request) => request.outcome);
    assert.deepEqual(outcomes.slice(0, 4), ['throttled', 'throttled', 'throttled', 'executed'], 'the forced throttles (HTTP 429) were waited out');
    const seen = new Set<string>();
    const paced = fake.requests.slice(3).every((request) => {
      const first = !seen.has(request.operation);
      seen.add(request.operation);
      return request.outcome !== 'throttled' || first;
    });
    assert.ok(paced, "past the forced ones, only an operation's first request (its cost not known yet) may be throttled: the client waits for the bucket it was told about");
    assert.ok(outcomes.includes('failed') && outcomes.includes('hung'), 'the failures and the silent answer happened, and were retried');
    assert.equal((await snapshot(db, merchantId)).customers, shopCustomers);
  });

  test(`[${dialect}] Continuum owns stock and has levels: Shopify's figures are reported as drift, not imported; Shopify owns it: they are the truth and nothing is pushed back`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await harness.engine.worker.drain();
    const { backfillOptions } = await startShop(t);
    const db = harness.engine.database.db;
    const merchantId = harness.demo.merchant.id;
    const walletAtStore = async () => (await harness.request('GET', '/v1/inventory?sku=SKU-WALLET-01')).body.data.find((row: { location_id: string }) => row.location_id === harness.demo.store.id).available;
    assert.equal(await walletAtStore(), 8);

    const compared = await backfillShopify(db, merchantId, backfillOptions());
    assert.equal(compared.state, 'done');
    const walletDrift = compared.drifts.find((drift) => drift.location_id === harness.demo.store.id && drift.continuum_available === 8);
    assert.deepEqual(walletDrift && { continuum: walletDrift.continuum_available, shopify: walletDrift.shopify_available }, { continuum: 8, shopify: 50 });
    assert.equal(await walletAtStore(), 8, 'a drift is reported, never imported over our levels');
    assert.equal(compared.resources.find((cursor) => cursor.resource === 'inventory_levels:24826419')?.counts['drift'], demoShopProducts.length);

    await setStockOwner(harness, 'shopify');
    const pushesBefore = harness.fake.requests.filter((request) => request.operation.includes('inventorySetQuantities')).length;
    const imported = await backfillShopify(db, merchantId, { ...backfillOptions(), restart: true });
    assert.equal(imported.state, 'done');
    assert.equal(await walletAtStore(), 50, "owned by Shopify, its figure is the truth");
    await harness.engine.worker.drain();
    assert.equal(harness.fake.requests.filter((request) => request.operation.includes('inventorySetQuantities')).length, pushesBefore, 'and nothing is pushed back');
  });

  test(`[${dialect}] a stale answer (an older version than the webhook brought) is read by the backfill and not applied`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    const { fake, backfillOptions } = await startShop(t);
    const db = harness.engine.database.db;
    fake.setProduct({ id: '9100000000000000002', title: 'Backfill tee 2 (renamed)', updatedAt: '2026-02-01T00:00:00Z', variants: [{ id: '9200000000000000003', sku: 'BF-2-1', title: 'Size 1', price: '15.00', inventoryItemId: '9300000000000000003' }] });
    const webhook = { id: '9100000000000000002', title: 'Backfill tee 2 (renamed)', updated_at: '2026-02-01T00:00:00Z', variants: [{ id: '9200000000000000003', sku: 'BF-2-1', title: 'Size 1', price: '15.00', inventory_item_id: '9300000000000000003' }] };
    const delivered = await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Topic': 'products/update', 'X-Shopify-Webhook-Id': 'stale-1', 'X-Shopify-Event-Id': 'stale-1' }, Buffer.from(JSON.stringify(webhook)));
    assert.equal(delivered.status, 200);
    await harness.engine.worker.drain();

    fake.answerStaleNext(1_000);
    const result = await backfillShopify(db, harness.demo.merchant.id, backfillOptions());
    assert.equal(result.state, 'done');
    const tee = await db.selectFrom('variants').select(['title', 'price_minor']).where('merchant_id', '=', harness.demo.merchant.id).where('sku', '=', 'BF-2-1').executeTakeFirstOrThrow();
    assert.deepEqual(tee, { title: 'Backfill tee 2 (renamed) - Size 1', price_minor: 1500 }, 'the older version read from a lagging Shopify changed nothing');
    assert.ok((result.resources.find((cursor) => cursor.resource === 'products')?.counts['not_applied'] ?? 0) >= 1);
  });

  test(`[${dialect}] POST /v1/channels/shopify/backfill runs a bounded number of pages per request and reports progress until done`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    for (let index = 1; index <= 3; index += 1) harness.fake.setLocation({ id: String(700 + index), name: `Shop location ${index}` });
    const before = await harness.request('GET', '/v1/channels/shopify/backfill');
    assert.equal(before.body.data.state, 'not_started');
    const first = await harness.request('POST', '/v1/channels/shopify/backfill', { body: { pages_max: 1 } });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.data.state, 'running');
    assert.equal(first.body.data.pagesApplied, 1);
    let state = first.body.data.state;
    let notes: string[] = [];
    for (let request = 0; request < 10 && state !== 'done'; request += 1) {
      const next = await harness.request('POST', '/v1/channels/shopify/backfill', { body: { pages_max: 2 } });
      assert.equal(next.status, 200, JSON.stringify(next.body));
      state = next.body.data.state;
      notes = [...notes, ...next.body.data.notes];
    }
    assert.equal(state, 'done');
    const progress = (await harness.request('GET', '/v1/channels/shopify/backfill')).body.data;
    assert.equal(progress.state, 'done');
    assert.equal(progress.resources.find((cursor: { resource: string }) => cursor.resource === 'locations').items, 3);
    assert.equal(notes.length, 2, 'the demo locations are mapped to Shopify locations this shop does not have: said, not fatal');
    const invalid = await harness.request('POST', '/v1/channels/shopify/backfill', { body: { pages_max: 0 } });
    assert.equal(invalid.status, 400);
  });
}
