import type { ExceptionSummary } from '../types.ts';

/** One line that says what a case is about, from its kind and details. */
export function exceptionSummary(exception: ExceptionSummary): string {
  const details = exception.details;
  const text = (key: string) => (typeof details[key] === 'string' || typeof details[key] === 'number' ? String(details[key]) : null);
  switch (exception.kind) {
    case 'possible_duplicate': return text('reason') ?? 'Two profiles may be one person';
    case 'sync_failed': return `${text('destination') ?? 'channel'} ${text('kind') ?? ''}: ${text('error') ?? 'failed'}`;
    case 'oversell': return `Sold past stock (${text('available') ?? '?'} available) at ${text('location_id') ?? 'a location'}`;
    case 'unmapped_sku': return text('sku') ?? text('reason') ?? `Unknown item ${text('channel_item_id') ?? exception.subject}`;
    case 'offline_conflict': return text('reason') ?? text('conflict') ?? 'An offline sale conflicted with what happened meanwhile';
    default: return text('reason') ?? text('error') ?? exception.subject;
  }
}
