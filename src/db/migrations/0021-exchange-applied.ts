import { type Kysely, sql } from 'kysely';

// What an exchange's new goods took of the refund, kept on the return. The refund pushed to the
// order's channel is what goes back to the shopper's payment: the refund less its store credit
// and less what the new goods took. Without it an exchange of a Shopify order for cheaper goods
// pushed the whole value of the returned goods to her card (87.47 instead of the 59.23 owed, found
// by test/refund-push.test.ts). An exchange recorded before keeps the amount on its new order, as
// that order's `exchange` payment.

type Db = Kysely<any>;

export async function up(db: Db): Promise<void> {
  await db.schema.alterTable('returns').addColumn('exchange_applied_minor', 'bigint', (column) => column.notNull().defaultTo(0)).execute();
  await sql`update returns set exchange_applied_minor = coalesce((
      select sum(payments.amount_minor) from payments
      where payments.merchant_id = returns.merchant_id and payments.order_id = returns.exchange_order_id and payments.method = 'exchange'
    ), 0)
    where exchange_order_id is not null`.execute(db);
}

export async function down(db: Db): Promise<void> {
  await db.schema.alterTable('returns').dropColumn('exchange_applied_minor').execute();
}
