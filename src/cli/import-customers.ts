import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { readConfig } from '../config.ts';
import { migrateToLatest, openDatabase, type Db } from '../db/index.ts';
import { customerImportFormats, importCustomers, readCsvRows, type CustomerImportFormat, type CustomerImportReport } from '../imports/index.ts';
import { getMerchant, type Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';

/** Larger files are refused before reading: split the export. */
const importFileBytesMax = 1024 * 1024 * 1024;

interface ImportCustomersCliOptions {
  from: CustomerImportFormat;
  merchant?: string;
  dryRun: boolean;
}

/** Adds `continuum import customers --from shopify-csv|square-csv FILE` to the CLI. */
export function registerImportCommands(program: Command): void {
  const imports = program.command('import').description('Bring data in from other systems\' exports');
  imports
    .command('customers')
    .description('Import a Shopify or Square customer export (CSV), matching rows to existing profiles by customer id, email and phone')
    .argument('<file>', 'the CSV file, as the channel exported it')
    .addOption(new Option('--from <format>', 'which export the file is').choices([...customerImportFormats]).makeOptionMandatory())
    .option('--merchant <id>', 'the merchant to import into (default: the only merchant)')
    .option('--dry-run', 'report what the import would do, and write nothing', false)
    .action(async (file: string, options: ImportCustomersCliOptions) => {
      try {
        await runCustomerImport(file, options);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        process.stderr.write(`error: ${error.message}\n`);
        process.exitCode = 1;
      }
    });
}

async function runCustomerImport(file: string, options: ImportCustomersCliOptions): Promise<void> {
  const fileBytes = checkFile(file);
  const database = openDatabase(readConfig().databaseUrl);
  try {
    await migrateToLatest(database.db, database.dialect);
    const merchant = await chooseMerchant(database.db, options.merchant);
    const bar = process.stderr.isTTY ? new SingleBar({ stream: process.stderr, format: 'importing {bar} {percentage}% | {rows} rows: {created} created, {linked} linked, {review} review, {refused} refused', hideCursor: true }, Presets.shades_classic) : undefined;
    bar?.start(fileBytes, 0, { rows: 0, created: 0, linked: 0, review: 0, refused: 0 });
    let report: CustomerImportReport;
    try {
      report = await importCustomers(database.db, merchant, readCsvRows(createReadStream(file)), {
        format: options.from, sourceName: basename(file), dryRun: options.dryRun, actor: 'cli',
        onProgress: ({ bytesRead, report: soFar }) => bar?.update(bytesRead, { rows: soFar.rowsRead, created: soFar.created, linked: soFar.linked, review: soFar.review, refused: soFar.refused }),
      });
    } finally {
      bar?.stop();
    }
    process.stdout.write(formatImportReport(report, basename(file), merchant));
  } finally {
    await database.close();
  }
}

function checkFile(file: string): number {
  const stats = statSync(file, { throwIfNoEntry: false });
  if (!stats) throw new AppError('imports.file_not_found', `No file ${file}`, { file });
  if (!stats.isFile()) throw new AppError('imports.not_a_file', `${file} is not a file`, { file });
  if (stats.size > importFileBytesMax) throw new AppError('imports.file_too_large', `${file} is larger than ${importFileBytesMax} bytes; split the export`, { file, max_bytes: importFileBytesMax });
  return stats.size;
}

// Reads the merchants table from here because the merchants domain has no listing yet; it only
// needs to know whether there is exactly one.
async function chooseMerchant(db: Db, merchantId: string | undefined): Promise<Merchant> {
  if (merchantId) return getMerchant(db, merchantId);
  const rows = await db.selectFrom('merchants').select('id').orderBy('created_at').limit(2).execute();
  if (rows.length === 0) throw new AppError('merchants.not_found', 'There is no merchant yet: create one with `continuum merchants create`', {});
  if (rows.length > 1) throw new AppError('merchants.ambiguous', 'There is more than one merchant: say which with --merchant ID', {});
  return getMerchant(db, rows[0]!.id);
}

/** The report as printed: counts first, then every row sent to review and every row refused. */
export function formatImportReport(report: CustomerImportReport, fileName: string, merchant: Merchant): string {
  const width = String(Math.max(report.rowsRead, 1)).length;
  const count = (value: number) => String(value).padStart(width);
  const lines = [
    report.dryRun
      ? `Dry run: nothing was written. Importing ${fileName} (${report.format}) into ${merchant.name} (${merchant.id}) would give:`
      : `Imported ${fileName} (${report.format}) into ${merchant.name} (${merchant.id}):`,
    `  rows read  ${count(report.rowsRead)}`,
    `  created    ${count(report.created)}  new profiles`,
    `  linked     ${count(report.linked)}  joined an existing profile`,
    `  review     ${count(report.review)}  joined a profile but also name another: possible duplicates, sent to review`,
    `  refused    ${count(report.refused)}  not imported`,
  ];
  if (report.reviewRows.length > 0) {
    lines.push('Sent to review (possible duplicates):');
    for (const row of report.reviewRows) lines.push(`  row ${row.row}: joined ${row.customerId}, also names ${row.otherCustomerIds.join(', ')}`);
    if (report.review > report.reviewRows.length) lines.push(`  … and ${report.review - report.reviewRows.length} more`);
  }
  if (report.refusedRows.length > 0) {
    lines.push('Refused rows:');
    for (const row of report.refusedRows) lines.push(`  row ${row.row}: ${row.reason}`);
    if (report.refused > report.refusedRows.length) lines.push(`  … and ${report.refused - report.refusedRows.length} more`);
  }
  return `${lines.join('\n')}\n`;
}
