import type { Queryable } from '../db/index.ts';

/**
 * When the stock of a place last changed here (the newest movement we recorded), or null before
 * any: the moment our figure for it became true. A push to a channel that orders changes by time
 * (Square) states the figure as of then, so the same figure is always the same request, and the
 * channel's own changes made since stay on top of it.
 */
export async function findLastStockChangeAt(db: Queryable, merchantId: string, locationId: string, variantId: string): Promise<string | null> {
  const row = await db
    .selectFrom('stock_movements')
    .select((eb) => eb.fn.max('created_at').as('last'))
    .where('merchant_id', '=', merchantId)
    .where('location_id', '=', locationId)
    .where('variant_id', '=', variantId)
    .executeTakeFirst();
  return (row?.last as string | null | undefined) ?? null;
}
