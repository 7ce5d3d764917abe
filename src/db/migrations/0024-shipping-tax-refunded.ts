import type { Kysely } from 'kysely';

// The shipping's tax a return gives back, part of its shipping_minor, so a sales report counts it
// with the tax given back and the shipping given back before tax, as it counts what the orders
// charged. Returns recorded before keep 0: their shipping counts with its tax.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('returns').addColumn('shipping_tax_minor', 'bigint', (column) => column.notNull().defaultTo(0)).execute();
}

export async function down(db: Db): Promise<void> {
  await db.schema.alterTable('returns').dropColumn('shipping_tax_minor').execute();
}
