import type { Queryable } from '../../db/index.ts';
import { listChannelAccounts } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { ShopifyAdminClient } from './client.ts';
import { defaultShopifyClientFactory, type ShopifyClientFactory } from './deliver.ts';

/**
 * The Admin API client of the merchant's connected shop, for the jobs that read it (backfill,
 * reconciliation). `connectors.shopify.not_configured` without an Admin API connection,
 * `connectors.shopify.disconnected` once the shop uninstalled the app.
 */
export async function openShopifyAdminClient(db: Queryable, merchantId: string, clientFactory: ShopifyClientFactory = defaultShopifyClientFactory): Promise<ShopifyAdminClient> {
  const accounts = await listChannelAccounts(db, merchantId, 'shopify');
  const account = accounts.find((candidate) => candidate.adminApiUrl && candidate.accessToken);
  if (!account?.adminApiUrl || !account.accessToken) throw new AppError('connectors.shopify.not_configured', 'The shop has no Admin API connection to read from', { channel: 'shopify' });
  if (account.state === 'disconnected') {
    throw new AppError('connectors.shopify.disconnected', `${account.accountRef} uninstalled the app at ${account.disconnectedAt ?? 'an unknown time'}; connect it again first`, { shop_domain: account.accountRef });
  }
  return clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
}
