import type { Db } from '../../db/index.ts';
import { listChannelAccounts } from '../../merchants/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { OutboxDeliverer } from '../../sync/index.ts';
import { defaultSquareClientFactory, type SquareClientFactory } from './inbound.ts';
import { pushSquareRefund } from './push-refund.ts';
import { pushSquareStock } from './push-stock.ts';

/**
 * Delivers outbox messages to the merchant's Square account through the Square API: the refunds of
 * returns made in Continuum, and the stock available at each location mapped to a Square location. An account connected for notifications only (no API URL
 * or token) has nothing to push to: the message is closed with a note saying so rather than
 * retried forever.
 */
export function createSquareDeliverer(db: Db, clientFactory: SquareClientFactory = defaultSquareClientFactory): OutboxDeliverer {
  return async (event) => {
    const [account] = await listChannelAccounts(db, event.merchant_id, 'square');
    if (!account) return 'skipped: no Square account connected';
    if (!account.adminApiUrl || !account.accessToken) return 'skipped: the Square account has no API connection';
    const client = clientFactory({ ...account, adminApiUrl: account.adminApiUrl, accessToken: account.accessToken });
    switch (event.kind) {
      case 'refund.create':
        return pushSquareRefund(db, client, event);
      case 'inventory.push':
        return pushSquareStock(db, client, event);
      default:
        throw new AppError('connectors.square.unknown_message', `No Square delivery for ${event.kind}`, { kind: event.kind });
    }
  };
}
