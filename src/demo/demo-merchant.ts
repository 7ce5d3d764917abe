import { createProduct, findVariantBySku } from '../catalog/index.ts';
import { changeStock } from '../commands/index.ts';
import type { Db, Queryable } from '../db/index.ts';
import { createReward } from '../loyalty/index.ts';
import { authenticateApiKey, connectChannel, updateChannelConnection, createLocation, createMerchant, findMerchantByName, getMerchant, issueApiKey, listLocations, type Location, type Merchant } from '../merchants/index.ts';
import { createPromotion } from '../promotions/index.ts';
import { createStaffUser, findStaffUserByEmail, hashStaffPassword } from '../staff/index.ts';

/** Demo Outfitters: one store, one warehouse, a few products, SUMMER10 and a $5 reward. */
export interface DemoOptions {
  name?: string;
  shopDomain: string;
  shopifySecret: string;
  shopifyAdminApiUrl: string | null;
  shopifyAccessToken: string | null;
  squareMerchantRef: string;
  squareSignatureKey: string;
  squareNotificationUrl: string;
  /** The Square API base URL the worker reads register sales from (a real seller's, or the fake's). */
  squareApiUrl?: string | null;
  squareAccessToken?: string | null;
  adminApiKey: string;
  posApiKey?: string;
}

export interface DemoMerchant {
  merchant: Merchant;
  store: Location;
  warehouse: Location;
  created: boolean;
}

// Shopify ids in the demo match the fixtures (shared/fixtures), so fixture webhooks apply to it.
export const demoShopifyIds = {
  warehouseLocation: '24826418',
  storeLocation: '24826419',
};

// The store's Square location is the one in the Square payment fixture; the catalog object ids
// (Square item variations) are the demo's own, readable rather than Square-shaped.
export const demoSquareIds = {
  storeLocation: 'S8GWD5R9QB376',
};

export const demoProducts = [
  { title: 'Aviator sunglasses', sku: 'SKU2006-001', variantTitle: 'Gold', priceMinor: 8999, shopifyProductId: '788032119674292922', shopifyVariantId: '642667041472713922', shopifyInventoryItemId: '271878346596884015', squareCatalogObjectId: 'SQ-AVIATOR', warehouse: 10, store: 4 },
  { title: 'Mid-century lounger', sku: 'SKU2006-020', variantTitle: 'Walnut', priceMinor: 15999, shopifyProductId: '788032119674292923', shopifyVariantId: '757650484644203962', shopifyInventoryItemId: '271878346596884016', squareCatalogObjectId: 'SQ-LOUNGER', warehouse: 5, store: 1 },
  { title: 'Leather card wallet', sku: 'SKU-WALLET-01', variantTitle: 'Tan', priceMinor: 5000, shopifyProductId: '788032119674292924', shopifyVariantId: '642667041472713999', shopifyInventoryItemId: '271878346596884017', squareCatalogObjectId: 'SQ-WALLET', warehouse: 20, store: 8 },
  { title: 'Wool beanie', sku: 'SKU-BEANIE-01', variantTitle: 'Charcoal', priceMinor: 2499, shopifyProductId: '788032119674292925', shopifyVariantId: '642667041472714000', shopifyInventoryItemId: '271878346596884018', squareCatalogObjectId: 'SQ-BEANIE', warehouse: 30, store: 12 },
] as const;

/** The console's demo people, both at the store; `npm start` prints them (src/cli/demo.ts). */
export const demoStaff = [
  { email: 'manager@demo-outfitters.example', name: 'Morgan Lee', role: 'manager', password: 'demo-manager-pass' },
  { email: 'associate@demo-outfitters.example', name: 'Alex Chen', role: 'associate', password: 'demo-associate-pass' },
] as const;

// Hashing is deliberately slow (scrypt, a tenth of a second or more): one hash per demo password
// per process, shared by every demo seeded in it (the test harness seeds one per test).
const demoPasswordHashes = new Map<string, Promise<string>>();

function demoPasswordHash(password: string): Promise<string> {
  let hash = demoPasswordHashes.get(password);
  if (!hash) demoPasswordHashes.set(password, (hash = hashStaffPassword(password)));
  return hash;
}

/** Adds the demo's people where they are missing (a database seeded before the console existed gets them too). */
async function ensureDemoStaff(db: Queryable, merchantId: string, storeId: string): Promise<void> {
  for (const person of demoStaff) {
    if (await findStaffUserByEmail(db, merchantId, person.email)) continue;
    await createStaffUser(db, merchantId, { email: person.email, name: person.name, role: person.role, homeLocationId: storeId, passwordHash: await demoPasswordHash(person.password) });
  }
}

async function ensureKey(db: Db, merchantId: string, key: string, scope: 'admin' | 'pos'): Promise<void> {
  if (!(await authenticateApiKey(db, key))) await issueApiKey(db, merchantId, { name: `demo ${scope} key`, scope, plainKey: key });
}

/** Seeds the demo merchant once; later calls find it and make sure the demo keys still work. */
export async function seedDemoMerchant(db: Db, options: DemoOptions): Promise<DemoMerchant> {
  const name = options.name ?? 'Demo Outfitters';
  const existing = await findMerchantByName(db, name);
  if (existing) {
    await ensureKey(db, existing.id, options.adminApiKey, 'admin');
    if (options.posApiKey) await ensureKey(db, existing.id, options.posApiKey, 'pos');
    // The stand-ins for the channels' APIs get a new port on every start: point the demo at them.
    await updateChannelConnection(db, existing.id, 'shopify', { adminApiUrl: options.shopifyAdminApiUrl, accessToken: options.shopifyAccessToken });
    await updateChannelConnection(db, existing.id, 'square', { adminApiUrl: options.squareApiUrl ?? null, accessToken: options.squareAccessToken ?? null, notificationUrl: options.squareNotificationUrl });
    const locations = await listLocations(db, existing.id);
    const store = locations.find((location) => location.kind === 'store')!;
    await ensureDemoStaff(db, existing.id, store.id);
    return { merchant: existing, store, warehouse: locations.find((location) => location.kind === 'warehouse')!, created: false };
  }
  // Hashed before the transaction, which would otherwise hold SQLite's write lock while scrypt runs.
  await Promise.all(demoStaff.map((person) => demoPasswordHash(person.password)));
  return db.transaction().execute(async (tx) => {
    const created = await createMerchant(tx, { name, currency: 'USD', defaultCountry: 'CA', settings: { loyalty: { pointsPerCurrencyUnit: 1, baseTier: 'Member', pendingDays: 0, lotExpiryMonths: 12 } } });
    await issueApiKey(tx, created.id, { name: 'demo admin key', scope: 'admin', plainKey: options.adminApiKey });
    if (options.posApiKey) await issueApiKey(tx, created.id, { name: 'demo pos key', scope: 'pos', plainKey: options.posApiKey });
    const warehouse = await createLocation(tx, created.id, { name: 'Ottawa Warehouse', kind: 'warehouse', shopifyLocationId: demoShopifyIds.warehouseLocation, fulfilsOnline: true, taxRateBps: 0 });
    const store = await createLocation(tx, created.id, { name: 'Rideau Street Store', kind: 'store', shopifyLocationId: demoShopifyIds.storeLocation, squareLocationId: demoSquareIds.storeLocation, taxRateBps: 1300 });
    await connectChannel(tx, created.id, { channel: 'shopify', accountRef: options.shopDomain, webhookSecret: options.shopifySecret, adminApiUrl: options.shopifyAdminApiUrl, accessToken: options.shopifyAccessToken });
    await connectChannel(tx, created.id, { channel: 'square', accountRef: options.squareMerchantRef, webhookSecret: options.squareSignatureKey, notificationUrl: options.squareNotificationUrl, adminApiUrl: options.squareApiUrl ?? null, accessToken: options.squareAccessToken ?? null });
    const merchant = await getMerchant(tx, created.id);
    for (const product of demoProducts) {
      await createProduct(tx, merchant.id, merchant.currency, { title: product.title, shopifyProductId: product.shopifyProductId, variants: [{ sku: product.sku, title: `${product.title} - ${product.variantTitle}`, priceMinor: product.priceMinor, shopifyVariantId: product.shopifyVariantId, shopifyInventoryItemId: product.shopifyInventoryItemId, squareCatalogObjectId: product.squareCatalogObjectId }] });
      const variant = await findVariantBySku(tx, merchant.id, product.sku);
      if (!variant) throw new Error(`demo variant ${product.sku} was not created`);
      await changeStock(tx, merchant, { kind: 'receive', locationId: warehouse.id, sku: product.sku, delta: product.warehouse, reason: 'Demo opening stock', reference: `demo-opening-${product.sku}`, actor: 'demo' });
      await changeStock(tx, merchant, { kind: 'receive', locationId: store.id, sku: product.sku, delta: product.store, reason: 'Demo opening stock', reference: `demo-opening-${product.sku}`, actor: 'demo' });
    }
    await createPromotion(tx, merchant.id, { code: 'SUMMER10', name: 'Summer 10 % off, online and in store', kind: 'percent_off_order', value: 1000 });
    await createReward(tx, merchant.id, { code: '5-OFF', name: '$5 off', pointsCost: 100, amountOffMinor: 500 });
    await ensureDemoStaff(tx, merchant.id, store.id);
    return { merchant, store, warehouse, created: true };
  });
}
