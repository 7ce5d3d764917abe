import { type Kysely, sql } from 'kysely';

// A refund a channel made (Shopify, Square) now keeps its parts as a return taken in Continuum
// does: merchandise, discount, tax, shipping and what was kept, adding up to its amount. Before,
// only the amount and the lines were kept, so a sales report could not tell goods given back from
// tax and shipping given back. Recorded refunds are filled in from their lines: each line's price
// × quantity from the order line, the discount it carried (that less the refunded subtotal), its
// tax; an amount beyond the lines counts with the merchandise (which shipping it was is not known
// any more), an amount short of them as kept.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  const channelReturn = sql`exists (select 1 from returns where returns.merchant_id = return_lines.merchant_id and returns.id = return_lines.return_id and returns.source <> 'continuum')`;
  await sql`update return_lines set gross_minor = coalesce((
      select order_lines.unit_price_minor * return_lines.quantity from order_lines
      where order_lines.merchant_id = return_lines.merchant_id and order_lines.id = return_lines.order_line_id
    ), 0)
    where ${channelReturn}`.execute(db);
  // A line refunded above its list price shows no discount (returns/return-service.ts).
  await sql`update return_lines set
      gross_minor = case when gross_minor > amount_minor then gross_minor else amount_minor end,
      discount_minor = case when gross_minor > amount_minor then gross_minor - amount_minor else 0 end
    where ${channelReturn}`.execute(db);

  const ofLines = (column: string) => sql`coalesce((
      select sum(${sql.ref(`return_lines.${column}`)}) from return_lines
      where return_lines.merchant_id = returns.merchant_id and return_lines.return_id = returns.id
    ), 0)`;
  await sql`update returns set merchandise_minor = ${ofLines('gross_minor')}, discount_minor = ${ofLines('discount_minor')}, tax_minor = ${ofLines('tax_minor')}, shipping_minor = 0
    where source <> 'continuum'`.execute(db);
  await sql`update returns set
      merchandise_minor = case when amount_minor > merchandise_minor - discount_minor + tax_minor then amount_minor - tax_minor + discount_minor else merchandise_minor end,
      fee_minor = case when amount_minor < merchandise_minor - discount_minor + tax_minor then merchandise_minor - discount_minor + tax_minor - amount_minor else 0 end
    where source <> 'continuum'`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`update return_lines set gross_minor = 0, discount_minor = 0
    where exists (select 1 from returns where returns.merchant_id = return_lines.merchant_id and returns.id = return_lines.return_id and returns.source <> 'continuum')`.execute(db);
  await sql`update returns set merchandise_minor = 0, discount_minor = 0, tax_minor = 0, shipping_minor = 0, fee_minor = 0 where source <> 'continuum'`.execute(db);
}
