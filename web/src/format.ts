import type { Money } from './types.ts';

const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
  let format = moneyFormats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    moneyFormats.set(currency, format);
  }
  return format;
}

/** Minor units as the shopper reads them: 25298 USD → "$252.98" (the currency's own exponent). */
export function formatMinor(amountMinor: number, currency: string): string {
  const format = moneyFormat(currency);
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}

export function formatMoney(money: Money): string {
  return formatMinor(money.amount_minor, money.currency);
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDateTime(iso: string | null | undefined): string {
  return iso ? dateTimeFormat.format(new Date(iso)) : '—';
}

export function formatDate(iso: string | null | undefined): string {
  return iso ? dateFormat.format(new Date(iso)) : '—';
}

const numberFormat = new Intl.NumberFormat();

export function formatNumber(value: number): string {
  return numberFormat.format(value);
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

export function formatPoints(points: number): string {
  return `${numberFormat.format(points)} ${Math.abs(points) === 1 ? 'point' : 'points'}`;
}

/** A duration in seconds as "42 s", "3 min", "2 h 5 min". */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  const hours = Math.floor(seconds / 3600);
  return `${hours} h ${Math.round((seconds % 3600) / 60)} min`;
}

const sourceNames: Record<string, string> = { shopify: 'Shopify', square: 'Square', pos: 'Continuum register', api: 'Continuum', continuum: 'Continuum', import: 'Import' };

export function sourceName(source: string): string {
  return sourceNames[source] ?? source;
}

/** Where an order was placed, as an associate says it: "Online", or the store's name (and register). */
export function orderPlace(order: { channel: string; source: string; location_id: string | null; register_id?: string | null }, locationName: (id: string) => string | null): string {
  if (order.channel === 'online') return 'Online';
  const store = order.location_id ? locationName(order.location_id) ?? 'A store' : 'A store';
  return order.register_id ? `${store}, register ${order.register_id}` : store;
}

const exceptionKindNames: Record<string, string> = {
  possible_duplicate: 'Possible duplicate',
  sync_failed: 'Failed sync',
  oversell: 'Oversell',
  offline_conflict: 'Offline conflict',
  unmapped_sku: 'Unmapped SKU',
  inbox_failed: 'Webhook not applied',
  stale_event: 'Stale event',
  referral_review: 'Referral to review',
  reward_code_reused: 'Reward code reused',
  promotion_limit_exceeded: 'Promotion limit exceeded',
  channel_drift: 'Channel drift',
};

export const exceptionKinds = Object.keys(exceptionKindNames);

export function exceptionKindName(kind: string): string {
  return exceptionKindNames[kind] ?? kind.replaceAll('_', ' ');
}

const stateNames: Record<string, string> = { open: 'Open', assigned: 'Assigned', in_progress: 'In progress', resolved: 'Resolved', dismissed: 'Dismissed', placed: 'To prepare', ready: 'Ready', picked_up: 'Handed over', cancelled: 'Cancelled', expired: 'Expired' };

export function stateName(state: string): string {
  return stateNames[state] ?? state.replaceAll('_', ' ');
}

/** "SKU2006-001" style labels for a snake_case key: "points_issued" → "Points issued". */
export function humanize(key: string): string {
  const text = key.replaceAll('_', ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
