import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest, openDatabase, type Db } from '../src/db/index.ts';
import { earnPoints, getLoyaltyBalance, redeemPoints, sumLoyaltyEntries } from '../src/loyalty/index.ts';
import { createMerchant } from '../src/merchants/index.ts';
import { newId } from '../src/shared/ids.ts';
import { reportFigures } from './figures.ts';
import { openRawSqlite } from './bench-database.ts';

// The loyalty ledger's speed (issue #4): entries posted per second through the engine's ledger
// functions (each earn or redemption is one transaction of two entries, with its lot), and balance
// reads per second at 1M entries, both the cached balance and the balance derived from entries.
// The raw storage limit of the same run is plain better-sqlite3 with the same durability
// (WAL, synchronous=FULL): one transaction inserting two entry rows and updating one balance row.
//
//   node --import tsx bench/loyalty.ts [--quick]

const quick = process.argv.includes('--quick');
const entriesTarget = quick ? 50_000 : 1_000_000;
const customersCount = quick ? 1_000 : 10_000;
const measureSeconds = quick ? 1 : 5;
const bulkBatchRows = 2_000;

function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

async function loadEntries(db: Db, merchantId: string, customerIds: string[]): Promise<void> {
  const now = new Date().toISOString();
  for (let offset = 0; offset < customerIds.length; offset += bulkBatchRows) {
    const batch = customerIds.slice(offset, offset + bulkBatchRows);
    await db.insertInto('customers').values(batch.map((id) => ({ id, merchant_id: merchantId, first_name: null, last_name: null, name_search: '', loyalty_code: null, source_updated_at: null, created_at: now, updated_at: now }))).execute();
    await db.insertInto('loyalty_accounts').values(batch.map((id) => ({ merchant_id: merchantId, customer_id: id, available: 0, pending: 0, lifetime_earned: 0, tier: 'Member', updated_at: now }))).execute();
  }
  // Pairs of entries (issued −p, customer +p), as earnings make them, spread over the customers.
  const transactionsCount = entriesTarget / 2;
  const perCustomer = new Map<string, number>();
  for (let offset = 0; offset < transactionsCount; offset += bulkBatchRows / 2) {
    const size = Math.min(bulkBatchRows / 2, transactionsCount - offset);
    const transactions = Array.from({ length: size }, (_, index) => ({ id: newId('ltx'), customerId: customerIds[(offset + index) % customerIds.length]!, points: 1 + ((offset + index) % 97) }));
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('loyalty_transactions').values(transactions.map((row) => ({ id: row.id, merchant_id: merchantId, customer_id: row.customerId, kind: 'earn', idempotency_key: `bulk:${row.id}`, points: row.points, order_id: null, memo: null, created_at: now }))).execute();
      await tx.insertInto('loyalty_entries').values(transactions.flatMap((row) => [
        { id: newId('len'), merchant_id: merchantId, transaction_id: row.id, account: 'issued', customer_id: null, amount: -row.points, created_at: now },
        { id: newId('len'), merchant_id: merchantId, transaction_id: row.id, account: 'customer_available', customer_id: row.customerId, amount: row.points, created_at: now },
      ])).execute();
    });
    for (const row of transactions) perCustomer.set(row.customerId, (perCustomer.get(row.customerId) ?? 0) + row.points);
  }
  for (const [customerId, points] of perCustomer) {
    await db.updateTable('loyalty_accounts').set({ available: points, lifetime_earned: points }).where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).execute();
  }
}

async function measure(label: string, action: (iteration: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  let count = 0;
  while (secondsSince(start) < measureSeconds) {
    await action(count);
    count += 1;
  }
  const perSecond = count / secondsSince(start);
  console.log(`  ${label}: ${Math.round(perSecond).toLocaleString('en-US')}/s`);
  return perSecond;
}

function measureRaw(path: string, merchantId: string, customerIds: string[]): number {
  const database = openRawSqlite(path);
  const insert = database.prepare("insert into loyalty_entries (id, merchant_id, transaction_id, account, customer_id, amount, created_at) values (?, ?, ?, ?, ?, ?, ?)");
  const update = database.prepare('update loyalty_accounts set available = available + ? where merchant_id = ? and customer_id = ?');
  const post = database.transaction((customerId: string, transactionId: string) => {
    insert.run(newId('len'), merchantId, transactionId, 'issued', null, -1, 'now');
    insert.run(newId('len'), merchantId, transactionId, 'customer_available', customerId, 1, 'now');
    update.run(1, merchantId, customerId);
  });
  const start = process.hrtime.bigint();
  let count = 0;
  while (secondsSince(start) < measureSeconds) {
    post(customerIds[count % customerIds.length]!, `raw_${count}`);
    count += 1;
  }
  database.close();
  return (count * 2) / secondsSince(start);
}

const directory = mkdtempSync(join(tmpdir(), 'continuum-bench-loyalty-'));
const path = join(directory, 'loyalty.sqlite');
const handle = openDatabase(`sqlite:${path}`);
try {
  await migrateToLatest(handle.db, handle.dialect);
  const db = handle.db;
  const merchant = await createMerchant(db, { name: 'Bench Loyalty', currency: 'USD', defaultCountry: 'CA' });
  const customerIds = Array.from({ length: customersCount }, (_, index) => `cus_bench_${index}`);
  const loadStart = process.hrtime.bigint();
  await loadEntries(db, merchant.id, customerIds);
  console.log(`loaded ${entriesTarget.toLocaleString('en-US')} entries over ${customersCount.toLocaleString('en-US')} customers in ${secondsSince(loadStart).toFixed(1)} s`);

  const pick = (iteration: number) => customerIds[(iteration * 7919) % customerIds.length]!;
  const earnsPerSecond = await measure('earn transactions (2 entries each)', (iteration) => db.transaction().execute((tx) => earnPoints(tx, merchant.id, 'Member', { customerId: pick(iteration), points: 10, idempotencyKey: `bench:earn:${iteration}` }, { pendingDays: 0, expiryMonths: 12 })));
  const redeemsPerSecond = await measure('redemptions (2 entries each, lots spent)', (iteration) => db.transaction().execute((tx) => redeemPoints(tx, merchant.id, 'Member', { customerId: pick(iteration), points: 1, idempotencyKey: `bench:redeem:${iteration}` })));
  const cachedReads = await measure('cached balance reads', (iteration) => getLoyaltyBalance(db, merchant.id, pick(iteration), 'Member'));
  const derivedReads = await measure('balances derived from entries', (iteration) => sumLoyaltyEntries(db, merchant.id, pick(iteration)));
  await handle.close();
  const rawEntriesPerSecond = measureRaw(path, merchant.id, customerIds);

  const entriesPerSecond = earnsPerSecond * 2;
  const rows = [
    { figure: 'entries posted per second (earn)', value: Math.round(entriesPerSecond), raw: Math.round(rawEntriesPerSecond), ratio: (entriesPerSecond / rawEntriesPerSecond).toFixed(2) },
    { figure: 'entries posted per second (redeem)', value: Math.round(redeemsPerSecond * 2), raw: Math.round(rawEntriesPerSecond), ratio: ((redeemsPerSecond * 2) / rawEntriesPerSecond).toFixed(2) },
    { figure: `cached balance reads per second at ${entriesTarget.toLocaleString('en-US')} entries`, value: Math.round(cachedReads), raw: '', ratio: '' },
    { figure: `derived balance reads per second at ${entriesTarget.toLocaleString('en-US')} entries`, value: Math.round(derivedReads), raw: '', ratio: '' },
  ];
  console.table(rows);
  reportFigures('loyalty', [
    { figure: `loyalty entries posted/s (earn), at ${entriesTarget.toLocaleString('en-US')} entries`, value: entriesPerSecond, unit: '/s', raw: rawEntriesPerSecond, rawWhat: '2 entry INSERTs + balance UPDATE, 1 per commit' },
    { figure: `loyalty entries posted/s (redeem), at ${entriesTarget.toLocaleString('en-US')} entries`, value: redeemsPerSecond * 2, unit: '/s', raw: rawEntriesPerSecond, rawWhat: '2 entry INSERTs + balance UPDATE, 1 per commit' },
    { figure: `balance reads/s at ${entriesTarget.toLocaleString('en-US')} entries, cached / derived from entries`, value: cachedReads, unit: '/s', note: `derived ${Math.round(derivedReads).toLocaleString('en-US')}/s` },
  ]);
} finally {
  await handle.close().catch(() => undefined);
  rmSync(directory, { recursive: true, force: true });
}
