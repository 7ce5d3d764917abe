/**
 * The Square connector. Notifications are verified, deduplicated on `event_id` and kept in the
 * inbox; applying them (register sales through RetrieveOrder, refunds, stock counts) is issue #7.
 */
export * from './webhook.ts';
