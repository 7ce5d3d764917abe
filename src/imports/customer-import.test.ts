import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DIALECTS, openTestDatabase } from '../../test/support/databases.ts';
import { identityRulesOf, resolveEventCustomer } from '../commands/index.ts';
import { getCustomerContactDetails, getCustomerIdentities, lookupCustomerIds, type IdentityRules } from '../customers/index.ts';
import type { Db } from '../db/index.ts';
import { createMerchant, type Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { listExceptions } from '../sync/index.ts';
import {
  customerImportBatchRows, importCustomers, mapCustomerRow, readCsvRows, resolveColumnLayout,
  type CsvRow, type CustomerImportFormat, type CustomerImportReport,
} from './index.ts';

// Importing Shopify's and Square's customer exports: rows become profiles or join the ones that
// exist, conflicts go to review, bad rows are refused by row number, a second import makes nothing
// new, a dry run writes nothing, and a file of the wrong format writes nothing at all.

const repositoryRoot = join(import.meta.dirname, '..', '..');
const fixturesDir = join(repositoryRoot, 'test', 'fixtures', 'imports');
const shopifyFixture = join(fixturesDir, 'shopify-customers.csv');
const squareFixture = join(fixturesDir, 'square-customers.csv');
const execFileAsync = promisify(execFile);

const rules: IdentityRules = { defaultCountry: 'CA', foldGmailAddresses: false, blockedEmails: [], blockedPhones: [], maxProfilesPerIdentifier: 3 };

async function collectRows(text: string): Promise<CsvRow[]> {
  const rows: CsvRow[] = [];
  for await (const row of readCsvRows(Readable.from([Buffer.from(text)]))) rows.push(row);
  return rows;
}

function runImport(db: Db, merchant: Merchant, format: CustomerImportFormat, path: string, dryRun = false): Promise<CustomerImportReport> {
  return importCustomers(db, merchant, readCsvRows(createReadStream(path)), { format, sourceName: 'fixture.csv', dryRun, actor: 'test' });
}

async function countRows(db: Db, table: 'customers' | 'customer_identifiers' | 'customer_addresses' | 'exceptions' | 'loyalty_accounts' | 'audit_log', merchantId: string): Promise<number> {
  const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).executeTakeFirstOrThrow();
  return Number(row.count);
}

async function countAll(db: Db, merchantId: string): Promise<Record<string, number>> {
  const tables = ['customers', 'customer_identifiers', 'customer_addresses', 'exceptions', 'loyalty_accounts', 'audit_log'] as const;
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = await countRows(db, table, merchantId);
  return counts;
}

/** The profiles a merchant had before the import: Jane by email, Ann by email, and someone else holding Ann's phone. */
async function seedProfiles(db: Db, merchant: Merchant): Promise<{ jane: string; ann: string; phoneHolder: string }> {
  return db.transaction().execute(async (tx) => ({
    jane: (await resolveEventCustomer(tx, merchant, { email: 'jane.doe@example.com', firstName: 'Jane', source: 'pos' }, 'seed:1'))!,
    ann: (await resolveEventCustomer(tx, merchant, { email: 'ann@example.com', source: 'pos' }, 'seed:2'))!,
    phoneHolder: (await resolveEventCustomer(tx, merchant, { phone: '+1 613 555 0199', firstName: 'Annie', source: 'pos' }, 'seed:3'))!,
  }));
}

async function lookupOne(db: Db, merchant: Merchant, query: string): Promise<string> {
  const found = await lookupCustomerIds(db, merchant.id, identityRulesOf(merchant), query);
  assert.equal(found.length, 1, `exactly one profile for ${query}, found ${found.length}`);
  return found[0]!;
}

function counts(report: CustomerImportReport) {
  return { rowsRead: report.rowsRead, created: report.created, linked: report.linked, review: report.review, refused: report.refused };
}

test('reading CSV: line numbers follow the file through a quoted line break, and an unclosed quote is one unreadable row', async () => {
  const rows = await collectRows('\ufeffa,b\n1,"two\nlines"\n\n3,4\n5,"never closed\n6,7\n');
  assert.deepEqual(rows.map((row) => [row.kind, row.line, row.endLine]), [['values', 1, 1], ['values', 2, 3], ['values', 4, 4], ['values', 5, 5], ['unreadable', 6, 7]]);
  assert.deepEqual(rows[0]!.kind === 'values' && rows[0]!.values, ['a', 'b'], 'the byte-order mark is not part of the first column name');
  assert.deepEqual(rows[1]!.kind === 'values' && rows[1]!.values, ['1', 'two\nlines']);
});

test('mapping: header names match in any case, Shopify\'s older export is read too, and apostrophes are stripped from ids, phones and zips only', () => {
  const header = ['FIRST NAME', 'last name', 'Email', 'Company', 'Address1', 'Address2', 'City', 'Province', 'Province Code', 'Country', 'Country Code', 'Zip', 'Phone', 'Accepts Marketing', 'Total Spent', 'Total Orders', 'Tags', 'Note', 'Tax Exempt'];
  const layout = resolveColumnLayout('shopify-csv', header);
  const mapped = mapCustomerRow(layout, ['Joost', "'t Hooft", 'joost@example.com', '', '1 Rue A', '', 'Montréal', 'Quebec', 'QC', 'Canada', 'CA', "'H2X 1Y4", "'+15145550100", 'yes', '0', '0', '', 'Old customer', 'no'], rules);
  assert.equal(mapped.kind, 'claim');
  assert.ok(mapped.kind === 'claim');
  assert.equal(mapped.claim.lastName, "'t Hooft", 'a name keeps its apostrophe');
  assert.equal(mapped.claim.phone, '+15145550100');
  assert.deepEqual(mapped.claim.channelIds, [], 'the older export has no customer id');
  assert.deepEqual(mapped.claim.addresses, [{ line1: '1 Rue A', line2: null, city: 'Montréal', region: 'QC', postalCode: 'H2X 1Y4', countryCode: 'CA', phone: null, isDefault: true }]);
  assert.deepEqual(mapped.claim.consents, [{ topic: 'email_marketing', state: 'subscribed' }]);
  assert.equal(mapped.claim.source, 'import:shopify-csv');
});

test('mapping: a row with only a name and no customer id is refused, since a second import could not find it again', () => {
  const layout = resolveColumnLayout('shopify-csv', ['First Name', 'Last Name', 'Email', 'Phone']);
  const mapped = mapCustomerRow(layout, ['Walk', 'In', '', ''], rules);
  assert.equal(mapped.kind, 'refused');
  assert.match(mapped.kind === 'refused' ? mapped.reason : '', /only a name/);
  assert.equal(mapCustomerRow(layout, [' ', '', '', ''], rules).kind, 'blank', 'a blank row is neither imported nor refused');
  assert.equal(mapCustomerRow(layout, ['A', 'B', 'a@example.com', 'x'.repeat(6000)], rules).kind, 'refused', 'an absurdly long value is refused');
});

test('the wrong format is named by its missing columns, with the format it looks like', () => {
  const squareHeader = ['Reference ID', 'First Name', 'Last Name', 'Email Address', 'Phone Number', 'Square Customer ID'];
  assert.throws(() => resolveColumnLayout('shopify-csv', squareHeader), (error: unknown) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'imports.missing_columns');
    assert.deepEqual(error.details['missing_columns'], ['Email', 'Phone']);
    assert.equal(error.details['looks_like'], 'square-csv');
    return true;
  });
  assert.throws(() => resolveColumnLayout('square-csv', ['id', 'name']), /no column First Name, Last Name, Email Address, Phone Number/);
});

const expectations: Record<CustomerImportFormat, { fixture: string; channelKind: string; bobEmail: string; bobIds: string[]; phoneOnlyName: string; refusedRows: [number, RegExp][]; reviewRow: number }> = {
  'shopify-csv': {
    fixture: shopifyFixture, channelKind: 'shopify_id', bobEmail: 'bob@example.com', bobIds: ['7001002', '7001003'], phoneOnlyName: 'Carla',
    refusedRows: [[7, /^no usable email, phone or name \(email "not-an-email" is not valid, no phone\)$/], [9, /^has 5 values where the header has 20 columns$/]], reviewRow: 8,
  },
  'square-csv': {
    fixture: squareFixture, channelKind: 'square_id', bobEmail: 'marc@example.com', bobIds: ['8QJTJCE6AZSN185UKBE8RMK4QM', '9QJTJCE6AZSN185UKBE8RMK4QN'], phoneOnlyName: 'Dana',
    refusedRows: [[6, /^no usable email, phone or name \(email "noemail@example.com" is a placeholder or blocked, no phone\)$/], [8, /never closed/]], reviewRow: 7,
  },
};

for (const dialect of DIALECTS) {
  for (const format of ['shopify-csv', 'square-csv'] as const) {
    const expected = expectations[format];

    test(`[${dialect}] ${format}: rows are created, linked, sent to review or refused by row number, and a second import makes nothing new`, async (t) => {
      const database = await openTestDatabase(dialect);
      t.after(() => database.dispose());
      const db = database.handle.db;
      const merchant = await createMerchant(db, { name: 'Importer', currency: 'CAD', defaultCountry: 'CA' });
      const seeded = await seedProfiles(db, merchant);

      const report = await runImport(db, merchant, format, expected.fixture);
      assert.deepEqual(counts(report), { rowsRead: 7, created: 2, linked: 2, review: 1, refused: 2 });
      assert.deepEqual(report.refusedRows.map((row) => row.row), expected.refusedRows.map(([row]) => row));
      expected.refusedRows.forEach(([, reason], index) => assert.match(report.refusedRows[index]!.reason, reason));
      assert.deepEqual(report.reviewRows, [{ row: expected.reviewRow, customerId: seeded.ann, otherCustomerIds: [seeded.phoneHolder] }]);

      const jane = await lookupOne(db, merchant, 'Jane.Doe@Example.com');
      assert.equal(jane, seeded.jane, 'the row whose email Jane already had joined her profile');
      const [janeIdentity] = await getCustomerIdentities(db, merchant.id, [jane]);
      assert.equal(janeIdentity!.channelIds.filter((id) => id.kind === expected.channelKind).length, 1, 'and gave it her channel customer id');

      const bob = await lookupOne(db, merchant, expected.bobEmail.toUpperCase());
      const [bobIdentity] = await getCustomerIdentities(db, merchant.id, [bob]);
      assert.deepEqual(bobIdentity!.channelIds.map((id) => id.value).sort(), expected.bobIds, 'two rows with one email are one profile');
      const phoneOnly = await lookupOne(db, merchant, '613.555.0142');
      assert.equal((await getCustomerIdentities(db, merchant.id, [phoneOnly]))[0]!.firstName, expected.phoneOnlyName, 'a row with only a phone is found by the phone as typed');

      const duplicates = await listExceptions(db, merchant.id, { kind: 'possible_duplicate' });
      assert.equal(duplicates.length, 1);
      assert.deepEqual(duplicates[0]!.details['customer_ids'], [seeded.ann, seeded.phoneHolder].sort());
      assert.equal(await countRows(db, 'loyalty_accounts', merchant.id), 4, 'every profile an imported row reached has a loyalty account: Jane, Bob, the phone-only one and Ann, not the phone holder');

      const before = await countAll(db, merchant.id);
      const again = await runImport(db, merchant, format, expected.fixture);
      assert.deepEqual(counts(again), { rowsRead: 7, created: 0, linked: 4, review: 1, refused: 2 }, 'the second import finds every profile the first made');
      const after = await countAll(db, merchant.id);
      assert.deepEqual({ ...after, audit_log: after['audit_log']! - 1 }, before, 'nothing new but the audit entry of the second import');
    });

    test(`[${dialect}] ${format}: a dry run reports what the import would do and writes nothing`, async (t) => {
      const database = await openTestDatabase(dialect);
      t.after(() => database.dispose());
      const db = database.handle.db;
      const merchant = await createMerchant(db, { name: 'Importer', currency: 'CAD', defaultCountry: 'CA' });
      await seedProfiles(db, merchant);
      const before = await countAll(db, merchant.id);

      const preview = await runImport(db, merchant, format, expected.fixture, true);
      assert.equal(preview.dryRun, true);
      assert.deepEqual(counts(preview), { rowsRead: 7, created: 2, linked: 2, review: 1, refused: 2 }, 'the counts of the real import, later rows seeing what earlier rows would make');
      assert.deepEqual(await countAll(db, merchant.id), before);

      const real = await runImport(db, merchant, format, expected.fixture);
      assert.deepEqual(counts(real), counts(preview));
    });
  }

  test(`[${dialect}] a file of the wrong format is refused by its missing columns and nothing is written`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Importer', currency: 'CAD', defaultCountry: 'CA' });
    const before = await countAll(db, merchant.id);
    await assert.rejects(runImport(db, merchant, 'shopify-csv', squareFixture), (error: unknown) => error instanceof AppError && error.code === 'imports.missing_columns' && /no column Email, Phone/.test(error.message));
    const empty = importCustomers(db, merchant, readCsvRows(Readable.from([Buffer.from('')])), { format: 'square-csv', sourceName: 'empty.csv', dryRun: false, actor: 'test' });
    await assert.rejects(empty, (error: unknown) => error instanceof AppError && error.code === 'imports.empty_file');
    assert.deepEqual(await countAll(db, merchant.id), before);
  });

  test(`[${dialect}] rows in different batches that share an email are one profile, in a dry run as in the real import`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Importer', currency: 'CAD', defaultCountry: 'CA' });
    const distinctShoppers = 250;
    const rowCount = customerImportBatchRows + 100;
    const lines = ['Reference ID,First Name,Last Name,Email Address,Phone Number,Square Customer ID'];
    for (let index = 0; index < rowCount; index += 1) lines.push(`,Shopper,${index},shopper${index % distinctShoppers}@example.com,,`);
    const csv = `${lines.join('\n')}\n`;
    const importText = (dryRun: boolean, progress: number[]) => importCustomers(db, merchant, readCsvRows(Readable.from([Buffer.from(csv)])), {
      format: 'square-csv', sourceName: 'generated.csv', dryRun, actor: 'test', onProgress: ({ bytesRead }) => progress.push(bytesRead),
    });

    const previewProgress: number[] = [];
    const preview = await importText(true, previewProgress);
    assert.deepEqual(counts(preview), { rowsRead: rowCount, created: distinctShoppers, linked: rowCount - distinctShoppers, review: 0, refused: 0 });
    assert.equal(await countRows(db, 'customers', merchant.id), 0);
    const progress: number[] = [];
    const real = await importText(false, progress);
    assert.deepEqual(counts(real), counts(preview));
    assert.equal(await countRows(db, 'customers', merchant.id), distinctShoppers);
    assert.equal(progress.length, 2, 'progress after the full batch and after the last one');
    assert.equal(progress.at(-1), Buffer.byteLength(csv), 'the last progress has read the whole file');
  });

  test(`[${dialect}] an imported row keeps its address without Shopify's apostrophes, its note across lines and its marketing consent`, async (t) => {
    const database = await openTestDatabase(dialect);
    t.after(() => database.dispose());
    const db = database.handle.db;
    const merchant = await createMerchant(db, { name: 'Importer', currency: 'CAD', defaultCountry: 'CA' });
    await runImport(db, merchant, 'shopify-csv', shopifyFixture);
    const bob = await lookupOne(db, merchant, '+1 613 555 0111');
    const [identity] = await getCustomerIdentities(db, merchant.id, [bob]);
    assert.equal(identity!.note, 'Prefers email,\nno calls');
    const details = await getCustomerContactDetails(db, merchant.id, bob);
    assert.deepEqual(details.addresses.map((address) => [address.line1, address.postal_code, address.country_code, address.phone, address.source]), [['10 Main St', 'K1A 0B1', 'CA', '+16135550111', 'import:shopify-csv']]);
    assert.deepEqual(details.consents.map((consent) => [consent.topic, consent.state]), [['email_marketing', 'subscribed'], ['sms_marketing', 'not_subscribed']]);
  });
}

test('the CLI imports a Shopify export, dry run first (into the only merchant), then for real (into the merchant named), and prints the report; the wrong --from exits 1 naming the missing columns (SQLite)', async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'continuum-import-cli-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const env = { ...process.env, DATABASE_URL: `sqlite:${join(directory, 'cli.sqlite')}`, LOG_LEVEL: 'silent' };
  const cli = (...args: string[]) => execFileAsync(process.execPath, ['bin/continuum.mjs', ...args], { cwd: repositoryRoot, env });

  const created = await cli('merchants', 'create', '--name', 'CLI Shop', '--currency', 'USD', '--country', 'CA');
  const merchantId = (JSON.parse(created.stdout) as { merchant_id: string }).merchant_id;

  const dryRun = await cli('import', 'customers', '--from', 'shopify-csv', '--dry-run', shopifyFixture);
  assert.match(dryRun.stdout, /^Dry run: nothing was written\. Importing shopify-customers\.csv \(shopify-csv\) into CLI Shop/);
  const real = await cli('import', 'customers', '--from', 'shopify-csv', '--merchant', merchantId, shopifyFixture);
  for (const output of [dryRun.stdout, real.stdout]) {
    assert.match(output, /rows read {2}7\n/);
    assert.match(output, /created {4}4 /, 'Jane, Bob, Carla and Ann are new to this merchant');
    assert.match(output, /linked {5}1 /);
    assert.match(output, /review {5}0 /);
    assert.match(output, /refused {4}2 /);
    assert.match(output, /Refused rows:\n {2}row 7: no usable email, phone or name .*\n {2}row 9: has 5 values where the header has 20 columns\n$/);
  }
  assert.match(real.stdout, new RegExp(`^Imported shopify-customers\\.csv \\(shopify-csv\\) into CLI Shop \\(${merchantId}\\):`));
  assert.equal(real.stderr, '', 'no progress bar when stderr is not a terminal');

  const wrongFormat = cli('import', 'customers', '--from', 'square-csv', shopifyFixture);
  await assert.rejects(wrongFormat, (error: unknown) => {
    const failure = error as { code: number; stderr: string; stdout: string };
    assert.equal(failure.code, 1);
    assert.match(failure.stderr, /^error: The file is not a Square customer export: its header has no column Email Address, Phone Number\. It looks like a Shopify customer export \(shopify-csv\)\.\n$/);
    assert.equal(failure.stdout, '');
    return true;
  });
});
