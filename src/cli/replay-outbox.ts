import type { Command } from 'commander';
import { readConfig } from '../config.ts';
import { migrateToLatest, openDatabase, type Db } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { replayOutbox, type ReplayResult, type ReplaySelection } from '../sync/index.ts';

interface ReplayCliOptions {
  id?: string;
  destination?: string;
  kind?: string;
  merchant?: string;
}

/** Batches of `replayBatchSizeMax` re-queued per run at most this many times: 50,000 messages. */
const replayRoundsMax = 100;
const cliActor = 'cli:replay';

async function resolveMerchantId(db: Db, given: string | undefined): Promise<string> {
  if (given) return given;
  const merchants = await db.selectFrom('merchants').select('id').limit(2).execute();
  if (merchants.length !== 1) throw new AppError('request.invalid', 'there are several merchants (or none): name one with --merchant', { field: 'merchant' });
  return merchants[0]!.id;
}

/** Re-queues in transactions of one batch each, until no dead message of the selection is left. */
async function replayAll(db: Db, merchantId: string, selection: ReplaySelection): Promise<{ replayed: ReplayResult[]; more: boolean }> {
  const replayed: ReplayResult[] = [];
  for (let round = 0; round < replayRoundsMax; round += 1) {
    const batch = await db.transaction().execute((tx) => replayOutbox(tx, merchantId, selection, cliActor));
    replayed.push(...batch.replayed);
    if (!batch.more) return { replayed, more: false };
  }
  return { replayed, more: true };
}

/** Adds `continuum replay [--id ID | --destination D --kind K] [--merchant M]` to the CLI. */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('Re-queue an outbox message (dead or delivered) by --id, or every dead message of a --destination and/or --kind; prints what was re-queued. A running engine delivers them.')
    .option('--id <id>', 'one outbox message')
    .option('--destination <destination>', 'dead messages to this destination (shopify, square, merchant_webhook)')
    .option('--kind <kind>', 'dead messages of this kind (inventory.push, customer.mirror, ...)')
    .option('--merchant <id>', 'the merchant (default: the only one)')
    .action(async (options: ReplayCliOptions) => {
      const database = openDatabase(readConfig().databaseUrl);
      try {
        await migrateToLatest(database.db, database.dialect);
        if (options.id && (options.destination || options.kind)) throw new AppError('request.invalid', '--id replays that message only: leave out --destination and --kind', { field: 'id' });
        const merchantId = await resolveMerchantId(database.db, options.merchant);
        const selection: ReplaySelection = { ...(options.id ? { id: options.id } : {}), ...(options.destination ? { destination: options.destination } : {}), ...(options.kind ? { kind: options.kind } : {}) };
        const result = await replayAll(database.db, merchantId, selection);
        const requeued = result.replayed.filter((replay) => replay.outcome === 'requeued').length;
        console.log(JSON.stringify({ merchant_id: merchantId, requeued, more: result.more, messages: result.replayed }, null, 2));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        process.stderr.write(`error: ${error.message}\n`);
        process.exitCode = 1;
      } finally {
        await database.close();
      }
    });
}
