import { type Kysely, sql } from 'kysely';

// A returned line's amount_minor is what the line gives back, tax included, for every return. A
// return taken in Continuum always kept it so; a channel's refund kept the line's subtotal without
// its tax, so a return showed such a line's refund short of its tax (87.47 given back, 80.99 shown).

type Db = Kysely<any>;

const ofChannelRefund = sql`exists (select 1 from returns where returns.merchant_id = return_lines.merchant_id and returns.id = return_lines.return_id and returns.source <> 'continuum')`;

export async function up(db: Db): Promise<void> {
  await sql`update return_lines set amount_minor = amount_minor + tax_minor where ${ofChannelRefund}`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await sql`update return_lines set amount_minor = amount_minor - tax_minor where ${ofChannelRefund}`.execute(db);
}
