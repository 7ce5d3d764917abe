import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { createMerchant } from '../merchants/index.ts';
import { resolveCustomer, type IdentityRules } from './index.ts';

// A shopper first known without a name (a register sale by phone) gets the name her later web order
// carries; a profile that has a name keeps it, whatever a later order says.

const rules: IdentityRules = { defaultCountry: 'CA', foldGmailAddresses: false, blockedEmails: [], blockedPhones: [], maxProfilesPerIdentifier: 3 };

for (const dialect of DIALECTS) {
  test(`[${dialect}] a profile without a name takes the first name an order brings, and keeps it after`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const { db } = database.handle;
    const merchant = await createMerchant(db, { name: 'Name Fill Outfitters', currency: 'CAD', defaultCountry: 'CA' });
    const resolve = (claim: Parameters<typeof resolveCustomer>[3]) => db.transaction().execute((tx) => resolveCustomer(tx, merchant.id, rules, claim));
    const nameOf = async (id: string) => db.selectFrom('customers').select(['first_name', 'last_name', 'name_search']).where('id', '=', id).executeTakeFirstOrThrow();

    const first = await resolve({ phone: '+1 613 555 0177' });
    assert.ok(first?.created);
    assert.deepEqual(await nameOf(first.customerId), { first_name: null, last_name: null, name_search: '' });

    const named = await resolve({ phone: '(613) 555-0177', firstName: 'Noor', lastName: 'Haddad' });
    assert.equal(named?.customerId, first.customerId, 'the same shopper');
    assert.deepEqual(await nameOf(first.customerId), { first_name: 'Noor', last_name: 'Haddad', name_search: 'noor haddad' });

    await resolve({ phone: '613 555 0177', firstName: 'N.', lastName: 'H.' });
    assert.deepEqual(await nameOf(first.customerId), { first_name: 'Noor', last_name: 'Haddad', name_search: 'noor haddad' }, 'a name held is not overwritten by a later order');
  });
}
