import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBackfillProgress } from './shopify-commands.ts';

test('the backfill progress line shows a bar when Shopify gives the total, and counts alone when it does not', () => {
  assert.equal(formatBackfillProgress({ resource: 'products', pages: 3, items: 60, total: 120, done: false }), `[${'#'.repeat(15)}${'-'.repeat(15)}]  products  60/120  (3 pages)`);
  assert.equal(formatBackfillProgress({ resource: 'products', pages: 6, items: 120, total: 120, done: true }), `[${'#'.repeat(30)}]  products  120/120  (6 pages) done`);
  assert.equal(formatBackfillProgress({ resource: 'inventory_levels:24826418', pages: 2, items: 150, total: null, done: false }), 'inventory_levels:24826418  150 items  (2 pages)');
  assert.equal(formatBackfillProgress({ resource: 'customers', pages: 1, items: 0, total: 0, done: true }), 'customers  0 items  (1 pages) done');
});
