import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Migrator, sql, type Kysely, type Migration } from 'kysely';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { migrateToLatest, type DialectName } from '../db/index.ts';
import * as foundation from '../db/migrations/0001-foundation.ts';
import * as identity from '../db/migrations/0002-identity.ts';
import * as privacy from '../db/migrations/0003-privacy.ts';
import * as stock from '../db/migrations/0005-stock.ts';
import * as loyalty from '../db/migrations/0006-loyalty.ts';
import * as merchantWebhooks from '../db/migrations/0007-merchant-webhooks.ts';
import { listPromotions, loadActivePromotions } from './promotion-service.ts';
import { pricePromotions } from './promotion-engine.ts';

// Migration 0008 widens the promotions table (SQLite rebuilds it). Promotions made before it must
// keep their meaning: their kind and value are read as a rule without conditions, and they price
// carts as they did.

const beforeRules: Record<string, Migration> = {
  '0001-foundation': foundation, '0002-identity': identity, '0003-privacy': privacy, '0005-stock': stock, '0006-loyalty': loyalty, '0007-merchant-webhooks': merchantWebhooks,
};

async function migrateBeforeRules(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const migrationTableSchema = dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema : undefined;
  const migrator = new Migrator({ db, provider: { getMigrations: async () => beforeRules }, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

for (const dialect of DIALECTS) {
  test(`[${dialect}] promotions made before the rule engine keep their code, kind and value, and price carts as before`, async (t) => {
    const database = await openTestDatabase(dialect, migrateBeforeRules);
    t.after(() => database.dispose());
    const db = database.handle.db as unknown as Kysely<any>;
    await db.insertInto('merchants').values({ id: 'mer_old', merchant_id: 'mer_old', name: 'Old', currency: 'USD', default_country: 'CA', settings_json: '{}', created_at: '2025-01-01T00:00:00.000Z' }).execute();
    const legacy = { merchant_id: 'mer_old', channels: '["online","store"]', active: 1, starts_at: null, ends_at: null, created_at: '2025-01-01T00:00:00.000Z' };
    await db.insertInto('promotions').values([
      { ...legacy, id: 'promo_a', code: 'SUMMER10', name: 'Summer', kind: 'percent_off_order', value: 1000 },
      { ...legacy, id: 'promo_b', code: 'FIVE', name: 'Five off', kind: 'amount_off_order', value: 500, channels: '["store"]' },
    ]).execute();

    await migrateToLatest(database.handle.db, database.handle.dialect);

    const promotions = await listPromotions(database.handle.db, 'mer_old');
    assert.deepEqual(promotions.map((promotion) => [promotion.code, promotion.kind, promotion.value, promotion.action, promotion.automatic, promotion.updatedAt]), [
      ['FIVE', 'amount_off_order', 500, { type: 'amount_off_order', amountMinor: 500 }, false, '2025-01-01T00:00:00.000Z'],
      ['SUMMER10', 'percent_off_order', 1000, { type: 'percent_off_order', percentBps: 1000 }, false, '2025-01-01T00:00:00.000Z'],
    ]);
    const active = await loadActivePromotions(database.handle.db, 'mer_old');
    const pricing = pricePromotions({
      lines: [{ sku: 'X', productId: null, quantity: 1, unitPriceMinor: 5000 }], unknownCodes: [], usage: new Map(),
      candidates: ['SUMMER10', 'FIVE'].map((code) => ({ promotion: active.byCode.get(code)!, code })),
      context: { channel: 'store', locationId: null, at: '2026-01-01T00:00:00.000Z', currency: 'USD', customer: null, shippingMinor: 0 },
    });
    assert.deepEqual(pricing.applied.map((applied) => [applied.code, applied.amountMinor]), [['SUMMER10', 500], ['FIVE', 500]]);
    await assert.rejects(db.insertInto('promotions').values({ ...legacy, id: 'promo_c', code: null, name: 'No code', kind: 'free_shipping', value: 0, updated_at: legacy.created_at }).execute(), /promotions_code_or_automatic|CHECK constraint/i, 'only an automatic promotion may have no code');
  });
}
