import { createHash } from 'node:crypto';
import { sql, type CompiledQuery } from 'kysely';
import type { Queryable } from '../db/index.ts';
import { findChannelAccount, type Channel, type ChannelAccount } from '../merchants/index.ts';

// The webhook routes need the connected account (merchant, signing secret) of every request. On
// PostgreSQL a query each is a round trip and a large share of a webhook's cost (about 1.7× the
// throughput without it, measured with bench/webhook-ingest.ts), so accounts are kept in memory for
// a short while. What is kept is never trusted alone: the route names the account and secret it
// verified with as the write's guard, and the inbox writer confirms them against the database in
// the transaction that stores the event (`guardHolds`). A shop erased or reconnected under another
// account, or a secret or notification URL changed, since the account was read, stores nothing.

export interface KeptAccount {
  account: ChannelAccount;
  /** The guard key naming this account as read: channel, ref, id and a digest of the secret and URL. */
  guardKey: string;
  /** Returns a row while the account is as read (`guardHolds`): the inbox writer's check at the commit. */
  guardHolds: CompiledQuery;
}

export interface ChannelAccountCache {
  /** The account, from memory when read less than `ttlMs` ago, else from the database. */
  find(channel: Channel, accountRef: string): Promise<KeptAccount | undefined>;
  /** The account read from the database now (a request did not verify with the kept secret: it may have just been rotated). */
  reload(channel: Channel, accountRef: string): Promise<KeptAccount | undefined>;
}

export const channelAccountCacheDefaults = { ttlMs: 30_000, entriesMax: 10_000 } as const;
const guardSeparator = '\n';

/** A digest of what signing depends on, so a guard key says which secret verified the request without holding it. */
function signingDigest(account: ChannelAccount): string {
  return createHash('sha256').update(`${account.webhookSecret}${guardSeparator}${account.notificationUrl ?? ''}`).digest('base64url');
}

function guardKeyOf(account: ChannelAccount): string {
  return [account.channel, account.accountRef, account.id, signingDigest(account)].join(guardSeparator);
}

export function createChannelAccountCache(db: Queryable, options: { ttlMs?: number; entriesMax?: number } = {}): ChannelAccountCache {
  const ttlMs = options.ttlMs ?? channelAccountCacheDefaults.ttlMs;
  const entriesMax = options.entriesMax ?? channelAccountCacheDefaults.entriesMax;
  const entries = new Map<string, KeptAccount & { readAtMs: number }>();

  async function reload(channel: Channel, accountRef: string): Promise<KeptAccount | undefined> {
    const key = `${channel}${guardSeparator}${accountRef}`;
    const account = await findChannelAccount(db, channel, accountRef);
    entries.delete(key);
    // Shops nobody connected are not kept: each such request asks the database.
    if (!account) return undefined;
    // A Map iterates in insertion order: past the limit, the entry read longest ago goes.
    if (entries.size >= entriesMax) entries.delete(entries.keys().next().value as string);
    const kept = { account, guardKey: guardKeyOf(account), guardHolds: guardHolds(db, account), readAtMs: Date.now() };
    entries.set(key, kept);
    return kept;
  }

  return {
    async find(channel, accountRef) {
      const kept = entries.get(`${channel}${guardSeparator}${accountRef}`);
      if (kept && Date.now() - kept.readAtMs < ttlMs) return kept;
      return reload(channel, accountRef);
    },
    reload,
  };
}

/**
 * The query that returns a row while the account is still there with the same id, secret and
 * notification URL (what its guard key digests), compiled for the database the writer stores on.
 */
function guardHolds(db: Queryable, account: ChannelAccount): CompiledQuery {
  return db.selectFrom('channel_accounts').select('id')
    .where('channel', '=', account.channel).where('account_ref', '=', account.accountRef).where('id', '=', account.id)
    .where('webhook_secret', '=', account.webhookSecret).where(sql<string>`coalesce(notification_url, '')`, '=', account.notificationUrl ?? '')
    .compile();
}
