import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { translateShopifyRefund } from '../connectors/shopify/translate.ts';
import { parseJsonExactly } from '../shared/json.ts';
import { channelRefundBreakdown, splitChannelRefundLine } from './return-service.ts';

// A channel's refund names its lines, the shipping it gives back and the money; the sales report
// reads its parts (returned goods, tax, shipping, what was kept). What an operator relies on: the
// parts always add up to the money, none is negative, and money beyond the named lines and
// shipping counts as goods given back, money short of them as kept.

const lineArbitrary = fc.record({ unitPriceMinor: fc.integer({ min: 0, max: 100_000 }), quantity: fc.integer({ min: 1, max: 5 }), subtotalMinor: fc.integer({ min: 0, max: 600_000 }), taxMinor: fc.integer({ min: 0, max: 50_000 }) });

test('a channel refund\'s parts add up to its amount, none negative, whatever the channel sends', () => {
  fc.assert(fc.property(fc.array(lineArbitrary, { maxLength: 6 }), fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 3_000_000 }), (sent, shippingMinor, amountMinor) => {
    const lines = sent.map((line) => ({ ...splitChannelRefundLine(line.unitPriceMinor, line.quantity, line.subtotalMinor), taxMinor: line.taxMinor }));
    for (const [index, line] of lines.entries()) {
      assert.equal(line.grossMinor - line.discountMinor, sent[index]!.subtotalMinor, 'a line splits into price and discount without changing what it refunded');
      assert.ok(line.discountMinor >= 0);
    }
    const parts = channelRefundBreakdown(amountMinor, { minor: shippingMinor, taxMinor: Math.floor(shippingMinor / 10) }, lines);
    for (const value of Object.values(parts)) assert.ok(Number.isSafeInteger(value) && value >= 0);
    assert.equal(parts.merchandiseMinor - parts.discountMinor + parts.taxMinor + parts.shippingMinor - parts.feeMinor, amountMinor);
    const named = sent.reduce((sum, line) => sum + line.subtotalMinor + line.taxMinor, shippingMinor);
    assert.equal(parts.feeMinor, Math.max(0, named - amountMinor), 'what was refunded short of the named lines and shipping was kept');
    assert.equal(parts.shippingMinor, shippingMinor);
  }));
});

const fixture = () => parseJsonExactly(readFileSync(new URL('../../test/fixtures/shopify/refunds-create.json', import.meta.url), 'utf8')) as Record<string, any>;

test('a Shopify refund gives back shipping from its refund shipping lines, or from a shipping_refund adjustment of older refunds', () => {
  const plain = translateShopifyRefund(fixture());
  assert.deepEqual([plain.shippingMinor, plain.shippingTaxMinor], [0, 0], 'the fixture refunds one line and no shipping');
  assert.equal(plain.amountMinor, 8747);

  const withShippingLine = fixture();
  withShippingLine['refund_shipping_lines'] = [{ id: 1, shipping_line_id: 2, subtotal_amount_set: { shop_money: { amount: '10.00', currency_code: 'USD' } }, tax_amount_set: { shop_money: { amount: '1.30', currency_code: 'USD' } } }];
  withShippingLine['transactions'][0].amount = '98.77';
  const shipped = translateShopifyRefund(withShippingLine);
  assert.deepEqual([shipped.shippingMinor, shipped.shippingTaxMinor], [1130, 130]);
  assert.equal(shipped.amountMinor, 9877);

  const withAdjustment = fixture();
  withAdjustment['order_adjustments'] = [{ id: 3, kind: 'shipping_refund', reason: 'Shipping refund', amount: '-10.00', tax_amount: '-1.30' }, { id: 4, kind: 'refund_discrepancy', reason: 'Refund discrepancy', amount: '-0.01', tax_amount: '0.00' }];
  const adjusted = translateShopifyRefund(withAdjustment);
  assert.deepEqual([adjusted.shippingMinor, adjusted.shippingTaxMinor], [1130, 130], 'a discrepancy is not shipping');
});
