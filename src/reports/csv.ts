// Reports as CSV (RFC 4180): a header line, then one line per row, CRLF line ends. A text cell that
// a spreadsheet would read as a formula (starting with = + - @, tab or carriage return: a location
// named "=HYPERLINK(…)") is prefixed with an apostrophe, as OWASP advises; numbers are written as is.

export type CsvCell = string | number | boolean | null;

function escapeCell(cell: CsvCell): string {
  if (cell === null) return '';
  if (typeof cell !== 'string') return String(cell);
  const text = /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(columns: readonly string[], rows: readonly CsvCell[][]): string {
  return [columns, ...rows].map((row) => row.map(escapeCell).join(',')).join('\r\n') + '\r\n';
}
