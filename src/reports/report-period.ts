import { AppError, assert } from '../shared/app-error.ts';
import { nowMs } from '../shared/clock.ts';

// Reports cover whole days, in UTC (timestamps are stored as ISO-8601 UTC text): `from` and `to`
// are dates, both included. By default the last 30 days, today included.

export const reportDaysDefault = 30;
/** The longest period one report covers: about three years, so a day-by-day report stays bounded. */
export const reportDaysMax = 1_096;
const dayMs = 86_400_000;

export interface ReportPeriod {
  from: string;
  to: string;
  /** The first instant included, and the first after the period, as stored timestamps compare. */
  startIso: string;
  endIso: string;
}

function dateOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayStartMs(date: string, field: 'from' | 'to'): number {
  const ms = Date.parse(`${date}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(ms) || dateOf(ms) !== date) throw new AppError('reports.invalid_period', `${field} must be a date as YYYY-MM-DD`, { field, rule: 'date', value: date });
  return ms;
}

/** The period a report covers, from the query's optional dates; refused (422) when `from` is after `to` or it is longer than `reportDaysMax` days. */
export function resolveReportPeriod(query: { from?: string | undefined; to?: string | undefined }): ReportPeriod {
  const toMs = query.to !== undefined ? dayStartMs(query.to, 'to') : dayStartMs(dateOf(nowMs()), 'to');
  const fromMs = query.from !== undefined ? dayStartMs(query.from, 'from') : toMs - (reportDaysDefault - 1) * dayMs;
  if (fromMs > toMs) throw new AppError('reports.invalid_period', 'from must not be after to', { field: 'from', rule: 'from_not_after_to', from: dateOf(fromMs), to: dateOf(toMs) });
  const days = (toMs - fromMs) / dayMs + 1;
  if (days > reportDaysMax) throw new AppError('reports.invalid_period', `A report covers at most ${reportDaysMax} days; this period has ${days}`, { field: 'to', rule: 'days_max', days_max: reportDaysMax });
  return { from: dateOf(fromMs), to: dateOf(toMs), startIso: new Date(fromMs).toISOString(), endIso: new Date(toMs + dayMs).toISOString() };
}

/** A SUM or COUNT as the database returns it (PostgreSQL: numeric and bigint as text; SQLite: a number, or null over no rows) as a safe integer. */
export function toInteger(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const number = typeof value === 'number' ? value : Number(value);
  assert(Number.isSafeInteger(number), `an aggregate ${String(value)} is a safe integer`);
  return number;
}

/** A share of two counts, to four decimal places (0 when there is nothing to share). */
export function shareOf(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 10_000) / 10_000;
}
