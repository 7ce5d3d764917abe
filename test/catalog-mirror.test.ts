import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS } from './support/databases.ts';
import { startTestEngine, type TestEngine } from './support/engine-harness.ts';

let delivery = 0;
async function deliverProduct(harness: TestEngine, topic: string, product: Record<string, unknown>) {
  delivery += 1;
  const response = await harness.deliverShopifyFixture('shopify/customers-create.json', { 'X-Shopify-Topic': topic, 'X-Shopify-Webhook-Id': `p-${delivery}`, 'X-Shopify-Event-Id': `p-${delivery}` }, Buffer.from(JSON.stringify(product)));
  assert.equal(response.status, 200);
  await harness.engine.worker.drain();
}

const scarf = (price: string, updatedAt: string) => ({
  id: 9001000000000000001, title: 'Silk scarf', updated_at: updatedAt,
  variants: [
    { id: '9001000000000000011', sku: 'SKU-SCARF-RED', title: 'Red', price, inventory_item_id: '9001000000000000021' },
    { id: '9001000000000000012', sku: '', title: 'Blue', price, inventory_item_id: '9001000000000000022' },
  ],
});

for (const dialect of DIALECTS) {
  test(`[${dialect}] products and prices are mirrored from Shopify; an older version never overwrites a newer one`, async (t) => {
    const harness = await startTestEngine(dialect);
    t.after(() => harness.dispose());
    await deliverProduct(harness, 'products/create', scarf('39.00', '2026-01-01T10:00:00-05:00'));
    const findScarf = async () => {
      const products = (await harness.request('GET', '/v1/products')).body.data;
      return products.find((product: { title: string }) => product.title === 'Silk scarf');
    };
    const created = await findScarf();
    assert.deepEqual(created.variants.map((variant: { sku: string; priceMinor: number; title: string }) => [variant.sku, variant.priceMinor, variant.title]), [['SKU-SCARF-RED', 3900, 'Silk scarf - Red']], 'the variant without a SKU is not mirrored');
    const event = (await harness.engine.database.db.selectFrom('inbox_events').select(['status', 'error']).where('topic', '=', 'products/create').executeTakeFirstOrThrow());
    assert.equal(event.status, 'processed');
    assert.match(event.error ?? '', /without a SKU/);

    await deliverProduct(harness, 'products/update', scarf('35.00', '2026-02-01T10:00:00-05:00'));
    assert.equal((await findScarf()).variants[0].priceMinor, 3500);
    await deliverProduct(harness, 'products/update', scarf('45.00', '2026-01-15T10:00:00-05:00'));
    assert.equal((await findScarf()).variants[0].priceMinor, 3500, 'the late, older update is not applied');

    const sale = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'SCARF-1', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-SCARF-RED', quantity: 1 }] } });
    assert.equal(sale.status, 409, 'mirrored, but no stock at the store yet');
    await harness.request('POST', '/v1/inventory/receive', { body: { location_id: harness.demo.store.id, sku: 'SKU-SCARF-RED', quantity: 3 } });
    const sold = await harness.request('POST', '/v1/pos/sales', { body: { sale_id: 'SCARF-2', location_id: harness.demo.store.id, lines: [{ sku: 'SKU-SCARF-RED', quantity: 1 }] } });
    assert.equal(sold.body.data.order.subtotal.amount_minor, 3500, 'the register charges the mirrored price');
    await harness.engine.worker.drain();
    assert.equal(harness.fake.quantity('gid://shopify/InventoryItem/9001000000000000021', 'gid://shopify/Location/24826419'), 2, 'stock is pushed to the mirrored inventory item');
  });
}
