import { startFakeShopify } from '../../fakes/fake-shopify.ts';
import { buildSquareOrder, startFakeSquare } from '../../fakes/fake-square.ts';
import { readConfig } from '../config.ts';
import { demoProducts, demoShopifyIds, demoSquareIds, seedDemoMerchant } from '../demo/demo-merchant.ts';
import { serveEngine } from './serve.ts';

/**
 * `npm start`: the engine with its embedded database, the seeded demo merchant, and — unless a
 * real shop is configured — a local stand-in for the Shopify Admin API, so the outbox has
 * somewhere to push stock and points and you can watch it happen. Likewise a stand-in for the
 * Square API (unless SQUARE_API_URL is set), which the worker reads register sales from.
 */
export async function runDemo(): Promise<void> {
  const config = readConfig();
  const env = process.env;
  const base = `http://localhost:${config.port}`;
  const secrets = {
    shopifySecret: env['DEMO_SHOPIFY_SECRET'] || 'demo-shopify-secret',
    squareKey: env['DEMO_SQUARE_SIGNATURE_KEY'] || 'demo-square-key',
    adminKey: env['DEMO_API_KEY'] || 'ck_demo_admin_key',
    posKey: env['DEMO_POS_API_KEY'] || 'ck_demo_pos_key',
  };
  let adminApiUrl = env['SHOPIFY_ADMIN_API_URL'] || null;
  let accessToken = env['SHOPIFY_ACCESS_TOKEN'] || null;
  let standInNote = 'the real shop at SHOPIFY_ADMIN_API_URL';
  if (!adminApiUrl) {
    const fake = await startFakeShopify();
    adminApiUrl = fake.url;
    accessToken = fake.token;
    standInNote = `a local stand-in at ${fake.url} (set SHOPIFY_ADMIN_API_URL and SHOPIFY_ACCESS_TOKEN for a real shop)`;
  }
  let squareApiUrl = env['SQUARE_API_URL'] || null;
  let squareAccessToken = env['SQUARE_ACCESS_TOKEN'] || null;
  let squareNote = 'the Square API at SQUARE_API_URL';
  if (!squareApiUrl) {
    const fakeSquare = await startFakeSquare();
    squareApiUrl = fakeSquare.url;
    squareAccessToken = fakeSquare.token;
    squareNote = `a local stand-in at ${fakeSquare.url} (set SQUARE_API_URL and SQUARE_ACCESS_TOKEN for a real seller)`;
    // The register sale test/fixtures/square/payment.updated.json pays for: a beanie at the store.
    fakeSquare.setOrder(buildSquareOrder({ id: '03O3USaPaAaFnI6kkwB1JxGgBsUZY', locationId: demoSquareIds.storeLocation, lines: [{ uid: 'demo-beanie', name: 'Wool beanie', catalogObjectId: 'SQ-BEANIE', quantity: 1, unitAmount: 2499, taxAmount: 325 }] }));
  }
  const engine = await serveEngine(config);
  const demo = await seedDemoMerchant(engine.database.db, {
    shopDomain: 'demo-outfitters.myshopify.com', shopifySecret: secrets.shopifySecret, shopifyAdminApiUrl: adminApiUrl, shopifyAccessToken: accessToken,
    squareMerchantRef: '6SSW7HV8K2ST5', squareSignatureKey: secrets.squareKey, squareNotificationUrl: `${base}/webhooks/square`,
    squareApiUrl, squareAccessToken,
    adminApiKey: secrets.adminKey, posApiKey: secrets.posKey,
  });
  engine.worker.wake();
  const auth = `-H "Authorization: Bearer ${secrets.adminKey}"`;
  console.log(`
Continuum is running at ${base}  (database: ${config.databaseUrl})
Staff console   ${base}/console
  manager       manager@demo-outfitters.example / demo-manager-pass      (operations and the store screens)
  associate     associate@demo-outfitters.example / demo-associate-pass  (the store screens, at ${demo.store.name})
Demo merchant "${demo.merchant.name}"${demo.created ? ' was created' : ' is ready'}:
  admin API key   ${secrets.adminKey}      pos API key  ${secrets.posKey}
  Shopify shop    demo-outfitters.myshopify.com, webhook secret "${secrets.shopifySecret}"
  Shopify Admin   ${standInNote}
  Square seller   6SSW7HV8K2ST5, signature key "${secrets.squareKey}", notification URL ${base}/webhooks/square
  Square API      ${squareNote}
  store           ${demo.store.name}  ${demo.store.id}  (Shopify location ${demoShopifyIds.storeLocation}, Square location ${demoSquareIds.storeLocation}, 13 % tax)
  warehouse       ${demo.warehouse.name}  ${demo.warehouse.id}  (Shopify location ${demoShopifyIds.warehouseLocation}, ships online orders)
  products        ${demoProducts.map((product) => product.sku).join(', ')}; promotion SUMMER10; reward 5-OFF (100 points)

Try:
  1. A web order arrives (signed with the demo secret):
     npm run continuum -- webhook shopify orders/create test/fixtures/shopify/orders-create.json
  2. Find Jane at the register:
     curl -s ${auth} "${base}/v1/customers/lookup?q=(613)%20555-0142"
  3. She buys in the store with SUMMER10 and 100 points:
     curl -s ${auth} -H "Content-Type: application/json" ${base}/v1/pos/sales \\
       -d '{"sale_id":"R1-0001","location_id":"${demo.store.id}","customer":{"phone":"613.555.0142"},"lines":[{"sku":"SKU-WALLET-01","quantity":1}],"promotion_codes":["SUMMER10"],"rewards":["5-OFF"]}'
  4. What was pushed to Shopify:   curl -s ${auth} ${base}/v1/outbox
  5. Refund one line online:       npm run continuum -- webhook shopify refunds/create test/fixtures/shopify/refunds-create.json
  6. Stock of a SKU:               curl -s ${auth} "${base}/v1/inventory?sku=SKU2006-001"
API docs: ${base}/docs    metrics: ${base}/metrics    health: ${base}/healthz
`);
}
