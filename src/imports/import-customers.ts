import { identityRulesOf, raisePossibleDuplicate } from '../commands/index.ts';
import { resolveCustomer, type CustomerClaim, type IdentityRules } from '../customers/index.ts';
import type { Db, Tx } from '../db/index.ts';
import { ensureLoyaltyAccount } from '../loyalty/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { writeAudit } from '../sync/index.ts';
import { mapCustomerRow, resolveColumnLayout, type ColumnLayout, type CsvRow, type CustomerImportFormat } from './customer-import.ts';

/** Rows applied per transaction: a failure loses at most this many, and other writers wait at most this long. */
export const customerImportBatchRows = 500;
/** Rows one import reads at most; a bigger export is split first. */
export const customerImportRowsMax = 2_000_000;
/** Refused and review rows listed by row number in the report; the counts cover them all. */
export const customerImportRowsListedMax = 1_000;

export interface CustomerImportOptions {
  format: CustomerImportFormat;
  /** What the rows came from (the file name), for the possible-duplicate cases and the audit log. */
  sourceName: string;
  /** Apply every row, then roll it all back: the report says what the import would do. */
  dryRun: boolean;
  actor: string;
  /** Called after each batch with the bytes of the file read so far. */
  onProgress?: (progress: { bytesRead: number; report: CustomerImportReport }) => void;
}

export interface CustomerImportReport {
  format: CustomerImportFormat;
  dryRun: boolean;
  /** Data rows read, blank rows left out. */
  rowsRead: number;
  /** Rows that made a new profile. */
  created: number;
  /** Rows that joined a profile that already existed (before the import, or made by an earlier row). */
  linked: number;
  /** Rows that joined one profile while naming others too: raised as possible duplicates for a person. */
  review: number;
  refused: number;
  reviewRows: { row: number; customerId: string; otherCustomerIds: string[] }[];
  refusedRows: { row: number; reason: string }[];
}

interface PendingClaim {
  row: number;
  claim: CustomerClaim;
}

type RowOutcome =
  | { row: number; kind: 'created' | 'linked'; customerId: string }
  | { row: number; kind: 'review'; customerId: string; otherCustomerIds: string[] };

type BatchRunner = (work: (tx: Tx) => Promise<RowOutcome[]>) => Promise<RowOutcome[]>;

class DryRunRollback extends Error {}

/**
 * Imports a customer export row by row, deduplicating on the way in: each row resolves to a
 * profile by channel customer id, email or phone exactly as a channel event does, in transactions
 * of `customerImportBatchRows` rows. Importing the same file again finds every profile and makes
 * none. A header without the format's columns fails before anything is written; a bad row is
 * refused with its row number and the others go on. An error that is not about a row (the
 * database going away) stops the import: the batches before it stay, and running the file again
 * completes it.
 * Example: `await importCustomers(db, merchant, readCsvRows(createReadStream(path)), { format: 'shopify-csv', sourceName: 'customers.csv', dryRun: false, actor: 'cli' })`.
 */
export async function importCustomers(db: Db, merchant: Merchant, rows: AsyncIterable<CsvRow>, options: CustomerImportOptions): Promise<CustomerImportReport> {
  const iterator = rows[Symbol.asyncIterator]();
  try {
    return await importFromIterator(db, merchant, iterator, options);
  } finally {
    // Stopping early (a bad header, a failed batch) must still close the file behind the rows.
    await iterator.return?.();
  }
}

async function importFromIterator(db: Db, merchant: Merchant, iterator: AsyncIterator<CsvRow>, options: CustomerImportOptions): Promise<CustomerImportReport> {
  const layout = await readHeader(iterator, options.format);
  const report: CustomerImportReport = { format: options.format, dryRun: options.dryRun, rowsRead: 0, created: 0, linked: 0, review: 0, refused: 0, reviewRows: [], refusedRows: [] };
  if (!options.dryRun) {
    await importRows(iterator, layout, merchant, report, options, (work) => db.transaction().execute(work));
    await db.transaction().execute((tx) => writeAudit(tx, merchant.id, { actor: options.actor, action: 'customers.import', subject: options.sourceName, details: auditDetails(report) }));
    return report;
  }
  // A dry run holds one transaction for the whole file, so that later rows see the profiles that
  // earlier rows would have made and the counts are the real import's; then it rolls back.
  try {
    await db.transaction().execute(async (tx) => {
      await importRows(iterator, layout, merchant, report, options, (work) => work(tx));
      throw new DryRunRollback('dry run: roll back');
    });
  } catch (error) {
    if (!(error instanceof DryRunRollback)) throw error;
  }
  return report;
}

async function readHeader(iterator: AsyncIterator<CsvRow>, format: CustomerImportFormat): Promise<ColumnLayout> {
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const row = next.value;
    if (row.kind === 'unreadable') throw new AppError('imports.unreadable_header', `The header row (line ${row.line}) cannot be read: ${row.reason}`, { line: row.line });
    if (row.values.every((value) => value.trim() === '')) continue;
    return resolveColumnLayout(format, row.values);
  }
  throw new AppError('imports.empty_file', 'The file is empty: it has no header row', {});
}

async function importRows(iterator: AsyncIterator<CsvRow>, layout: ColumnLayout, merchant: Merchant, report: CustomerImportReport, options: CustomerImportOptions, runBatch: BatchRunner): Promise<void> {
  const rules = identityRulesOf(merchant);
  const eventPrefix = `import:${options.format} ${options.sourceName}`;
  let batch: PendingClaim[] = [];
  let bytesRead = 0;
  const applyPending = async () => {
    if (batch.length > 0) {
      const pending = batch;
      batch = [];
      recordOutcomes(report, await runBatch((tx) => applyBatch(tx, merchant, rules, pending, eventPrefix)));
    }
    options.onProgress?.({ bytesRead, report });
  };
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const row = next.value;
    bytesRead = row.bytes;
    const mapped = row.kind === 'unreadable' ? { kind: 'refused' as const, reason: row.reason } : mapCustomerRow(layout, row.values, rules);
    if (mapped.kind === 'blank') continue;
    report.rowsRead += 1;
    if (report.rowsRead > customerImportRowsMax) {
      throw new AppError('imports.too_many_rows', `The file has more than ${customerImportRowsMax} rows; split it (the rows before row ${row.line} are imported, and importing them again changes nothing)`, { row: row.line, max: customerImportRowsMax });
    }
    if (mapped.kind === 'refused') recordRefusal(report, row.line, row.endLine, mapped.reason);
    else batch.push({ row: row.line, claim: mapped.claim });
    if (batch.length >= customerImportBatchRows) await applyPending();
  }
  await applyPending();
}

async function applyBatch(tx: Tx, merchant: Merchant, rules: IdentityRules, batch: PendingClaim[], eventPrefix: string): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  for (const pending of batch) outcomes.push(await applyClaim(tx, merchant, rules, pending, `${eventPrefix} row ${pending.row}`));
  return outcomes;
}

/**
 * Resolves one row's profile as `resolveEventCustomer` does, and raises a possible duplicate for
 * each other profile the row's identifiers name. Its automatic merge never applies here: that
 * needs an email a channel verified, and an export says nothing of verification.
 */
async function applyClaim(tx: Tx, merchant: Merchant, rules: IdentityRules, pending: PendingClaim, eventRef: string): Promise<RowOutcome> {
  const resolution = await resolveCustomer(tx, merchant.id, rules, pending.claim);
  assert(resolution, 'a mapped row has an email, phone or name to resolve');
  for (const otherId of resolution.conflictingCustomerIds) {
    await raisePossibleDuplicate(tx, merchant.id, [resolution.customerId, otherId], { event: eventRef, reason: 'identifiers of one imported row name two profiles' });
  }
  await ensureLoyaltyAccount(tx, merchant.id, resolution.customerId, merchant.settings.loyalty.baseTier);
  if (resolution.conflictingCustomerIds.length > 0) return { row: pending.row, kind: 'review', customerId: resolution.customerId, otherCustomerIds: resolution.conflictingCustomerIds };
  return { row: pending.row, kind: resolution.created ? 'created' : 'linked', customerId: resolution.customerId };
}

function recordOutcomes(report: CustomerImportReport, outcomes: RowOutcome[]): void {
  for (const outcome of outcomes) {
    report[outcome.kind] += 1;
    if (outcome.kind === 'review' && report.reviewRows.length < customerImportRowsListedMax) {
      report.reviewRows.push({ row: outcome.row, customerId: outcome.customerId, otherCustomerIds: outcome.otherCustomerIds });
    }
  }
}

function recordRefusal(report: CustomerImportReport, line: number, endLine: number, reason: string): void {
  report.refused += 1;
  const where = endLine > line ? ` (lines ${line} to ${endLine})` : '';
  if (report.refusedRows.length < customerImportRowsListedMax) report.refusedRows.push({ row: line, reason: `${reason}${where}` });
}

function auditDetails(report: CustomerImportReport): Record<string, unknown> {
  return { format: report.format, rows_read: report.rowsRead, created: report.created, linked: report.linked, review: report.review, refused: report.refused };
}
