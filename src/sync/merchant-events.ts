import { forgetKeptReads, keptRead, reuseQuery, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { enqueueOutbox } from './outbox.ts';

/** Events the merchant's own systems can subscribe to. */
export const merchantEventTypes = [
  'loyalty.points_earned', 'loyalty.reward_redeemed', 'loyalty.tier_changed', 'loyalty.points_expiring',
  // An order from any channel recorded once; a return (or a channel's refund) recorded; two profiles merged; a case for a person.
  'order.recorded', 'order.returned', 'customer.merged', 'exception.raised',
] as const;
export type MerchantEventType = (typeof merchantEventTypes)[number];

const subscriptionsPerMerchantMax = 20;

/**
 * Appends an event for every active subscription to its type, in the caller's transaction, so the
 * event exists exactly when the change it reports was committed.
 */
export async function emitMerchantEvent(db: Queryable, merchantId: string, type: MerchantEventType, data: Record<string, unknown>): Promise<void> {
  await createMerchantEventEmitter(db, merchantId).emit(type, data);
}

// Read by every order, built and compiled once (~70 µs of CPU a statement, found by bench/orders-end-to-end.ts).
const activeSubscriptions = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string }>) => db
  .selectFrom('webhook_subscriptions').select(['id', 'event_types']).where('merchant_id', '=', param('merchantId')).where('state', '=', 'active').limit(subscriptionsPerMerchantMax));

/**
 * Emits the events of one command (`emitMerchantEvent`), reading the merchant's subscriptions once
 * for all of them (an order emits two; found by bench/orders-end-to-end.ts). Made for one command
 * in one transaction, and used only within it.
 */
export function createMerchantEventEmitter(db: Queryable, merchantId: string) {
  let subscriptions: Promise<{ id: string; types: string[] }[]> | undefined;
  const readSubscriptions = () => keptRead(db, `webhook-subscriptions:${merchantId}`, async () => {
    const rows = await activeSubscriptions.execute(db, { merchantId });
    return rows.map((row) => ({ id: row.id, types: JSON.parse(row.event_types) as string[] }));
  });
  return {
    async emit(type: MerchantEventType, data: Record<string, unknown>): Promise<void> {
      subscriptions ??= readSubscriptions();
      for (const subscription of await subscriptions) {
        if (!subscription.types.includes(type)) continue;
        // Each subscriber has a circuit of its own: one merchant system being down holds back only its own events.
        await enqueueOutbox(db, merchantId, { destination: 'merchant_webhook', kind: type, coalesceKey: null, circuitKey: `merchant_webhook:${subscription.id}`, payload: { subscription_id: subscription.id, event: { type, timestamp: nowIso(), data } } });
      }
    },
  };
}

export async function createWebhookSubscription(db: Queryable, merchantId: string, input: { url: string; eventTypes: MerchantEventType[]; secret: string }) {
  const count = await db.selectFrom('webhook_subscriptions').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('state', '=', 'active').executeTakeFirstOrThrow();
  if (Number(count.count) >= subscriptionsPerMerchantMax) throw new AppError('webhooks.too_many_subscriptions', `At most ${subscriptionsPerMerchantMax} active subscriptions`, { limit: subscriptionsPerMerchantMax });
  const row = { merchant_id: merchantId, id: newId('whs'), url: input.url, secret: input.secret, event_types: JSON.stringify(input.eventTypes), state: 'active', created_at: nowIso() };
  forgetKeptReads(db);
  await db.insertInto('webhook_subscriptions').values(row).execute();
  return row;
}

export async function listWebhookSubscriptions(db: Queryable, merchantId: string) {
  const rows = await db.selectFrom('webhook_subscriptions').select(['id', 'url', 'event_types', 'state', 'created_at']).where('merchant_id', '=', merchantId).orderBy('created_at').execute();
  return rows.map((row) => ({ id: row.id, url: row.url, event_types: JSON.parse(row.event_types) as string[], state: row.state, created_at: row.created_at }));
}

export async function disableWebhookSubscription(db: Queryable, merchantId: string, id: string): Promise<void> {
  forgetKeptReads(db);
  const result = await db.updateTable('webhook_subscriptions').set({ state: 'disabled' }).where('merchant_id', '=', merchantId).where('id', '=', id).executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw new AppError('webhooks.not_found', `No subscription ${id}`, { subscription_id: id });
}
