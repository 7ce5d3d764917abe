import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import {
  isBlockedIdentifier, normalizeEmail, normalizePhone,
  type AddressInput, type ConsentState, type CustomerClaim, type IdentityRules,
} from '../customers/index.ts';
import { AppError } from '../shared/app-error.ts';

// Reading the customer exports of Shopify and Square into canonical customer claims. Everything
// here is pure except `readCsvRows`, which only parses; applying the claims is import-customers.ts.
//
// What the column formats rest on:
// - Shopify's customer export (Customers > Export, 2023 and later): `Customer ID, First Name, Last
//   Name, Email, Accepts Email Marketing, Default Address Company, Default Address Address1,
//   Default Address Address2, Default Address City, Default Address Province Code, Default Address
//   Country Code, Default Address Zip, Default Address Phone, Phone, Accepts SMS Marketing, Total
//   Spent, Total Orders, Note, Tax Exempt, Tags`, the id written as `'8779761975521` (as found in
//   public code that reads these exports). The older export and Shopify's import template use
//   `First Name, Last Name, Email, Company, Address1, Address2, City, Province, Province Code,
//   Country, Country Code, Zip, Phone, Accepts Marketing, ...`: help.shopify.com/en/manual/
//   migrating-to-shopify/transporter-app/csv-customers (column descriptions; Province Code is the
//   ISO 3166-2 subdivision part only). Accepts (Email|SMS) Marketing hold `yes` or `no`.
// - Shopify and spreadsheet tools prefix phone numbers (and so ids and zips) with an apostrophe so
//   Excel keeps the `+` and leading zeros: excelify.io/documentation/customers ("You can prefix
//   phone numbers with ' (apostrophe)", example `'+15417543000`).
// - Square's customer export (Customer Directory > Export customers): `Reference ID, First Name,
//   Last Name, Email Address, Phone Number, Nickname, Company Name, Street Address 1, Street
//   Address 2, City, State, Postal Code, Birthday, Memo, Square Customer ID, Creation Source, First
//   Visit, Last Visit, Transaction Count, Total Spend (Lifetime Spend in some exports), Email
//   Subscription Status, Instant Profile`, as found in public code that reads these exports; no
//   country column. Email Subscription Status is `Subscribed`, `Unsubscribed` or `Unknown`:
//   squareup.com/help/us/en/article/6632-import-customers-online. Phone numbers may lack a
//   country code (the same article), so they are read with the merchant's default country.
// Header names are matched case-insensitively and by name, never by position.

export type CustomerImportFormat = 'shopify-csv' | 'square-csv';
export const customerImportFormats: readonly CustomerImportFormat[] = ['shopify-csv', 'square-csv'];

type ImportField =
  | 'customerId' | 'firstName' | 'lastName' | 'email' | 'phone' | 'addressPhone' | 'line1' | 'line2' | 'city'
  | 'regionCode' | 'region' | 'postalCode' | 'countryCode' | 'emailConsent' | 'smsConsent' | 'note';

interface FormatSpec {
  label: string;
  channelIdKind: 'shopify_id' | 'square_id';
  /** Header names each field may have, as the export spells them; the first one present wins. */
  columns: Partial<Record<ImportField, string[]>>;
  /** Fields whose column every export of the format has: without them it is some other file. */
  required: ImportField[];
  readConsent(value: string): ConsentState | undefined;
}

function readYesNo(value: string): ConsentState | undefined {
  const answer = value.toLowerCase();
  if (answer === 'yes' || answer === 'true') return 'subscribed';
  if (answer === 'no' || answer === 'false') return 'not_subscribed';
  return undefined;
}

function readSquareSubscription(value: string): ConsentState | undefined {
  const status = value.toLowerCase();
  if (status === 'subscribed') return 'subscribed';
  if (status === 'unsubscribed') return 'unsubscribed';
  return undefined;
}

const formats: Record<CustomerImportFormat, FormatSpec> = {
  'shopify-csv': {
    label: 'Shopify customer export',
    channelIdKind: 'shopify_id',
    columns: {
      customerId: ['Customer ID'], firstName: ['First Name'], lastName: ['Last Name'], email: ['Email'], phone: ['Phone'],
      addressPhone: ['Default Address Phone'], line1: ['Default Address Address1', 'Address1'], line2: ['Default Address Address2', 'Address2'],
      city: ['Default Address City', 'City'], regionCode: ['Default Address Province Code', 'Province Code'], region: ['Province'],
      postalCode: ['Default Address Zip', 'Zip'], countryCode: ['Default Address Country Code', 'Country Code'],
      emailConsent: ['Accepts Email Marketing', 'Accepts Marketing'], smsConsent: ['Accepts SMS Marketing'], note: ['Note'],
    },
    required: ['firstName', 'lastName', 'email', 'phone'],
    readConsent: readYesNo,
  },
  'square-csv': {
    label: 'Square customer export',
    channelIdKind: 'square_id',
    columns: {
      customerId: ['Square Customer ID'], firstName: ['First Name'], lastName: ['Last Name'], email: ['Email Address'], phone: ['Phone Number'],
      line1: ['Street Address 1'], line2: ['Street Address 2'], city: ['City'], region: ['State'], postalCode: ['Postal Code'],
      emailConsent: ['Email Subscription Status'], note: ['Memo'],
    },
    required: ['firstName', 'lastName', 'email', 'phone'],
    readConsent: readSquareSubscription,
  },
};

// Values that spreadsheet tools may have prefixed with an apostrophe. Names are left alone: a
// last name such as 't Hooft really begins with one.
const apostropheFields = new Set<ImportField>(['customerId', 'phone', 'addressPhone', 'postalCode']);
/** Longer values are refused: no name, email, phone or address line is this long. */
export const importValueLengthMax = 5_000;

/** Where each field sits in the rows of one file. */
export interface ColumnLayout {
  format: CustomerImportFormat;
  columnCount: number;
  positions: Partial<Record<ImportField, number>>;
}

function headerKey(name: string): string {
  return name.trim().toLowerCase().replace(/\s+/g, ' ');
}

function findPositions(spec: FormatSpec, header: string[]): Partial<Record<ImportField, number>> {
  const keys = header.map(headerKey);
  const positions: Partial<Record<ImportField, number>> = {};
  for (const [field, names] of Object.entries(spec.columns) as [ImportField, string[]][]) {
    const position = names.map((name) => keys.indexOf(headerKey(name))).find((index) => index >= 0);
    if (position !== undefined) positions[field] = position;
  }
  return positions;
}

/**
 * Reads the header row of an export: where each field is, by name and in any case. A header that
 * lacks the format's email, phone or name columns is another file, and nothing must be read from
 * it: `imports.missing_columns` names the missing columns (and the other format, if it fits).
 * Example: `resolveColumnLayout('shopify-csv', ['Customer ID', 'First Name', ...])`.
 */
export function resolveColumnLayout(format: CustomerImportFormat, header: string[]): ColumnLayout {
  const spec = formats[format];
  const positions = findPositions(spec, header);
  const missing = spec.required.filter((field) => positions[field] === undefined).map((field) => spec.columns[field]![0]!);
  if (missing.length > 0) {
    const other = customerImportFormats.find((candidate) => candidate !== format && formats[candidate].required.every((field) => findPositions(formats[candidate], header)[field] !== undefined));
    const hint = other ? ` It looks like a ${formats[other].label} (${other}).` : '';
    throw new AppError('imports.missing_columns', `The file is not a ${spec.label}: its header has no column ${missing.join(', ')}.${hint}`, { format, missing_columns: missing, header: header.slice(0, 50), ...(other ? { looks_like: other } : {}) });
  }
  return { format, columnCount: header.length, positions };
}

/** What one row of an export comes to. */
export type MappedRow =
  | { kind: 'blank' }
  | { kind: 'refused'; reason: string }
  | { kind: 'claim'; claim: CustomerClaim };

function readField(layout: ColumnLayout, values: string[], field: ImportField): string | null {
  const position = layout.positions[field];
  if (position === undefined) return null;
  let value = (values[position] ?? '').trim();
  if (apostropheFields.has(field) && value.startsWith("'")) value = value.slice(1).trim();
  return value === '' ? null : value;
}

/** Why an email or phone cannot identify anyone, or null when it can. */
function identifierProblem(kind: 'email' | 'phone', value: string | null, rules: IdentityRules): string | null {
  if (value === null) return `no ${kind}`;
  const identifier = kind === 'email' ? normalizeEmail(value, rules.foldGmailAddresses) : normalizePhone(value, rules.defaultCountry);
  if (!identifier.valid) return `${kind} "${value}" is not valid`;
  if (isBlockedIdentifier(identifier, rules)) return `${kind} "${value}" is a placeholder or blocked`;
  return null;
}

function checkShape(layout: ColumnLayout, values: string[]): string | null {
  if (values.length !== layout.columnCount) return `has ${values.length} values where the header has ${layout.columnCount} columns`;
  if (values.some((value) => value.includes('\u0000'))) return 'contains a NUL character';
  if (values.some((value) => value.length > importValueLengthMax)) return `has a value longer than ${importValueLengthMax} characters`;
  return null;
}

function readAddress(layout: ColumnLayout, values: string[]): AddressInput[] {
  const address: AddressInput = {
    line1: readField(layout, values, 'line1'), line2: readField(layout, values, 'line2'), city: readField(layout, values, 'city'),
    region: readField(layout, values, 'regionCode') ?? readField(layout, values, 'region'), postalCode: readField(layout, values, 'postalCode'),
    countryCode: readField(layout, values, 'countryCode')?.toUpperCase() ?? null, phone: readField(layout, values, 'addressPhone'), isDefault: true,
  };
  return address.line1 || address.city || address.postalCode ? [address] : [];
}

function readConsents(layout: ColumnLayout, values: string[]): NonNullable<CustomerClaim['consents']> {
  const spec = formats[layout.format];
  const consents: NonNullable<CustomerClaim['consents']> = [];
  const email = spec.readConsent(readField(layout, values, 'emailConsent') ?? '');
  const sms = spec.readConsent(readField(layout, values, 'smsConsent') ?? '');
  if (email) consents.push({ topic: 'email_marketing', state: email });
  if (sms) consents.push({ topic: 'sms_marketing', state: sms });
  return consents;
}

/**
 * Maps one row of an export to the claim that resolves its profile, or says why it is refused.
 * A row needs an email, phone or name to be anyone, and an email, phone or channel customer id to
 * be found again: a row with only a name would make a new profile on every import.
 * Example: `mapCustomerRow(layout, ["'1001", 'Jane', 'Doe', 'jane@example.com', ...], rules)`.
 */
export function mapCustomerRow(layout: ColumnLayout, values: string[], rules: IdentityRules): MappedRow {
  if (values.every((value) => value.trim() === '')) return { kind: 'blank' };
  const shapeProblem = checkShape(layout, values);
  if (shapeProblem) return { kind: 'refused', reason: shapeProblem };
  const customerId = readField(layout, values, 'customerId');
  const email = readField(layout, values, 'email');
  const phone = readField(layout, values, 'phone') ?? readField(layout, values, 'addressPhone');
  const firstName = readField(layout, values, 'firstName');
  const lastName = readField(layout, values, 'lastName');
  const problems = [identifierProblem('email', email, rules), identifierProblem('phone', phone, rules)];
  const identifiable = problems.some((problem) => problem === null);
  if (!identifiable && !firstName && !lastName) return { kind: 'refused', reason: `no usable email, phone or name (${problems.join(', ')})` };
  if (!identifiable && !customerId) return { kind: 'refused', reason: `only a name: no usable email or phone, and no customer id to find the profile again (${problems.join(', ')})` };
  const spec = formats[layout.format];
  const claim: CustomerClaim = {
    channelIds: customerId ? [{ kind: spec.channelIdKind, value: customerId }] : [],
    email, phone, firstName, lastName,
    addresses: readAddress(layout, values),
    consents: readConsents(layout, values),
    note: readField(layout, values, 'note'),
    source: `import:${layout.format}`,
  };
  return { kind: 'claim', claim };
}

/** One record of a CSV file, or a stretch of it that could not be read; lines count from 1. */
export type CsvRow =
  | { kind: 'values'; line: number; endLine: number; bytes: number; values: string[] }
  | { kind: 'unreadable'; line: number; endLine: number; bytes: number; reason: string };

interface ParsedRecord {
  record: string[];
  info: { lines: number; bytes: number };
}

function isParsedRecord(item: unknown): item is ParsedRecord {
  if (typeof item !== 'object' || item === null || !('record' in item) || !('info' in item)) return false;
  const { record, info } = item;
  return Array.isArray(record) && record.every((value) => typeof value === 'string') && typeof info === 'object' && info !== null && 'lines' in info && typeof info.lines === 'number' && 'bytes' in info && typeof info.bytes === 'number';
}

function describeCsvError(error: CsvError | undefined): string {
  if (error?.code === 'CSV_QUOTE_NOT_CLOSED') return 'a quoted value opened here is never closed, so the rest of the file cannot be read';
  return `cannot be read as CSV (${error?.code ?? 'unknown error'})`;
}

/**
 * Parses a CSV byte stream (UTF-8, with or without a byte-order mark) into rows in file order,
 * with the line each starts and ends on. A stray quote inside a value is kept as text; a row the
 * parser cannot read at all comes out as `unreadable` and parsing goes on after it.
 */
export async function* readCsvRows(input: Readable): AsyncGenerator<CsvRow> {
  const skipped: { endLine: number; bytes: number; reason: string }[] = [];
  const parser = parse({
    bom: true, info: true, relax_column_count: true, relax_quotes: true, skip_records_with_error: true,
    on_skip: (error) => {
      skipped.push({ endLine: parser.info.lines, bytes: parser.info.bytes, reason: describeCsvError(error) });
      return undefined;
    },
  });
  pipeline(input, parser, () => undefined);
  let lastEndLine = 0;
  function* flushSkipped(beforeLine: number): Generator<CsvRow> {
    while (skipped.length > 0 && skipped[0]!.endLine < beforeLine) {
      const skip = skipped.shift()!;
      yield { kind: 'unreadable', line: lastEndLine + 1, endLine: skip.endLine, bytes: skip.bytes, reason: skip.reason };
      lastEndLine = skip.endLine;
    }
  }
  for await (const item of parser as AsyncIterable<unknown>) {
    if (!isParsedRecord(item)) throw new Error('csv-parse gave a record of an unexpected shape');
    yield* flushSkipped(item.info.lines);
    yield { kind: 'values', line: lastEndLine + 1, endLine: item.info.lines, bytes: item.info.bytes, values: item.record };
    lastEndLine = item.info.lines;
  }
  yield* flushSkipped(Number.POSITIVE_INFINITY);
}
