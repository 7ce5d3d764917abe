import type { Queryable } from '../db/index.ts';
import { nowIso } from '../shared/clock.ts';

/** Units held back from one channel's figure at a location (e.g. keep 2 back from the website). */
export async function setChannelBuffer(db: Queryable, merchantId: string, channel: string, locationId: string, units: number): Promise<void> {
  await db
    .insertInto('stock_buffers')
    .values({ merchant_id: merchantId, channel, location_id: locationId, units, updated_at: nowIso() })
    .onConflict((conflict) => conflict.columns(['merchant_id', 'channel', 'location_id']).doUpdateSet({ units, updated_at: nowIso() }))
    .execute();
}

export async function getChannelBuffer(db: Queryable, merchantId: string, channel: string, locationId: string): Promise<number> {
  const row = await db.selectFrom('stock_buffers').select('units').where('merchant_id', '=', merchantId).where('channel', '=', channel).where('location_id', '=', locationId).executeTakeFirst();
  return row?.units ?? 0;
}

/** What a channel is told it may sell: available less its buffer, never below zero. */
export function channelAvailable(available: number, buffer: number): number {
  return Math.max(0, available - buffer);
}
