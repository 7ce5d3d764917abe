import { forgetKeptReads, reuseQuery, type ChannelAccountsTable, type ParameterPlaceholders, type Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import type { Channel } from './merchant-service.ts';

/** A connected channel: a Shopify shop, a Square seller, or a POS integration, with its secrets. */
export interface ChannelAccount {
  id: string;
  merchantId: string;
  channel: Channel;
  /** The channel's own name for the account: the shop's myshopify domain, the Square merchant id. */
  accountRef: string;
  /** Shopify: the app's client secret; Square: the subscription's signature key. */
  webhookSecret: string;
  adminApiUrl: string | null;
  accessToken: string | null;
  /** Square signs notification URL + body, so the URL is configured, never rebuilt from a request. */
  notificationUrl: string | null;
  /** `disconnected` once the channel told us the app was uninstalled: nothing is pushed to it until it is connected again. */
  state: 'connected' | 'disconnected';
  disconnectedAt: string | null;
}

function toChannelAccount(row: ChannelAccountsTable): ChannelAccount {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    channel: row.channel as Channel,
    accountRef: row.account_ref,
    webhookSecret: row.webhook_secret,
    adminApiUrl: row.admin_api_url,
    accessToken: row.access_token,
    notificationUrl: row.notification_url,
    state: row.state === 'disconnected' ? 'disconnected' : 'connected',
    disconnectedAt: row.disconnected_at,
  };
}

export async function connectChannel(
  db: Queryable,
  merchantId: string,
  input: { channel: Channel; accountRef: string; webhookSecret: string; adminApiUrl?: string | null; accessToken?: string | null; notificationUrl?: string | null },
): Promise<ChannelAccount> {
  if (await findChannelAccount(db, input.channel, input.accountRef)) {
    throw new AppError('merchants.duplicate_channel_account', `${input.channel} account ${input.accountRef} is already connected`, { field: 'account_ref', value: input.accountRef });
  }
  const row: ChannelAccountsTable = {
    id: newId('chn'),
    merchant_id: merchantId,
    channel: input.channel,
    account_ref: input.accountRef,
    webhook_secret: input.webhookSecret,
    admin_api_url: input.adminApiUrl ?? null,
    access_token: input.accessToken ?? null,
    notification_url: input.notificationUrl ?? null,
    created_at: nowIso(),
    state: 'connected',
    disconnected_at: null,
  };
  forgetKeptReads(db);
  await db.insertInto('channel_accounts').values(row).execute();
  return toChannelAccount(row);
}

/** Finds the account a webhook belongs to by the channel's account name, across all merchants. */
export async function findChannelAccount(db: Queryable, channel: Channel, accountRef: string): Promise<ChannelAccount | undefined> {
  const row = await db.selectFrom('channel_accounts').selectAll().where('channel', '=', channel).where('account_ref', '=', accountRef).executeTakeFirst();
  return row ? toChannelAccount(row) : undefined;
}

// Every delivery to a channel and most channel events read the merchant's account of that
// channel: built and compiled once (issue #9).
const accountsOfMerchant = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string }>) => db
  .selectFrom('channel_accounts').selectAll().where('merchant_id', '=', param('merchantId')).orderBy('created_at'));
const accountsOfChannel = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; channel: Channel }>) => db
  .selectFrom('channel_accounts').selectAll().where('merchant_id', '=', param('merchantId')).where('channel', '=', param('channel')).orderBy('created_at'));

export async function listChannelAccounts(db: Queryable, merchantId: string, channel?: Channel): Promise<ChannelAccount[]> {
  const rows = channel ? await accountsOfChannel.execute(db, { merchantId, channel }) : await accountsOfMerchant.execute(db, { merchantId });
  return rows.map(toChannelAccount);
}

/** Points a connected channel at another API endpoint and token (a shop reinstalled, a new stand-in). */
export async function updateChannelConnection(db: Queryable, merchantId: string, channel: Channel, input: { adminApiUrl: string | null; accessToken: string | null; notificationUrl?: string | null }): Promise<void> {
  forgetKeptReads(db);
  await db
    .updateTable('channel_accounts')
    .set({ admin_api_url: input.adminApiUrl, access_token: input.accessToken, state: 'connected', disconnected_at: null, ...(input.notificationUrl !== undefined ? { notification_url: input.notificationUrl } : {}) })
    .where('merchant_id', '=', merchantId)
    .where('channel', '=', channel)
    .execute();
}

/**
 * Marks a connected channel account disconnected (Shopify's `app/uninstalled`). The account and its
 * webhook secret stay, so the channel's later webhooks (privacy requests, `shop/redact`) are still
 * verified; the outbox closes its messages with a note instead of retrying them. Returns false when
 * it was already disconnected.
 */
export async function markChannelDisconnected(db: Queryable, merchantId: string, accountId: string, disconnectedAt: string): Promise<boolean> {
  forgetKeptReads(db);
  const result = await db
    .updateTable('channel_accounts')
    .set({ state: 'disconnected', disconnected_at: disconnectedAt })
    .where('merchant_id', '=', merchantId)
    .where('id', '=', accountId)
    .where('state', '=', 'connected')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
