import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { createMerchant } from '../merchants/index.ts';
import { resolveCustomer, type IdentityRules } from './index.ts';

// One customer identity, even when two engine processes apply a new shopper's first two orders at
// the same moment: each transaction looks her up, finds no one, and would create a profile of its
// own. On PostgreSQL the second waits for the first to commit and then finds her; SQLite's
// transactions already take turns (one writer at a time).

const rules: IdentityRules = { defaultCountry: 'CA', foldGmailAddresses: false, blockedEmails: [], blockedPhones: [], maxProfilesPerIdentifier: 3 };
// How long the first transaction stays open after creating her: the second starts meanwhile.
const firstHoldsMs = 300;

test('[postgres] two transactions resolving the same new shopper at once make one profile, and both find it', { skip: !DIALECTS.includes('postgres') }, async (t) => {
  const database = await openTestDatabase('postgres');
  t.after(() => database.dispose());
  const { db } = database.handle;
  const merchant = await createMerchant(db, { name: 'Concurrent Outfitters', currency: 'CAD', defaultCountry: 'CA' });
  const claim = { email: 'first.visit@example.com', phone: '+1 613 555 0199', firstName: 'Ada' };

  let firstResolved!: () => void;
  const firstHasResolved = new Promise<void>((resolve) => (firstResolved = resolve));
  const first = db.transaction().execute(async (tx) => {
    const resolution = await resolveCustomer(tx, merchant.id, rules, claim);
    firstResolved();
    await sleep(firstHoldsMs);
    return resolution;
  });
  await firstHasResolved;
  const second = db.transaction().execute((tx) => resolveCustomer(tx, merchant.id, rules, claim));
  const [one, two] = await Promise.all([first, second]);

  const profiles = await db.selectFrom('customers').select('id').where('merchant_id', '=', merchant.id).execute();
  assert.equal(profiles.length, 1, 'one profile for one shopper');
  assert.equal(one?.customerId, profiles[0]?.id);
  assert.equal(two?.customerId, profiles[0]?.id, 'the second transaction found the profile the first created');
  assert.equal(two?.created, false);
});
