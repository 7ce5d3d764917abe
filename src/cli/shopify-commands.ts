import { Option, type Command } from 'commander';
import { readConfig } from '../config.ts';
import { backfillShopify, ORDER_RECONCILE_DAYS_MAX, reconcileScopes, reconcileShopify, type BackfillProgressEvent, type ReconcileScope } from '../connectors/shopify/index.ts';
import { reconcileSquareStock } from '../connectors/square/index.ts';
import { migrateToLatest, openDatabase, type Db } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';

const progressBarWidth = 30;

/**
 * One progress line of the backfill: `[#########---------]  products  120/300  (6 pages)` when the
 * total is known, `products  120 items  (6 pages)` when it is not (stock levels).
 */
export function formatBackfillProgress(event: BackfillProgressEvent): string {
  const done = event.done ? ' done' : '';
  if (event.total === null || event.total === 0) return `${event.resource}  ${event.items} items  (${event.pages} pages)${done}`;
  const filled = Math.min(progressBarWidth, Math.round((Math.min(event.items, event.total) / event.total) * progressBarWidth));
  return `[${'#'.repeat(filled)}${'-'.repeat(progressBarWidth - filled)}]  ${event.resource}  ${event.items}/${event.total}  (${event.pages} pages)${done}`;
}

/** A bar redrawn in place on a terminal; one line per page otherwise (a log, a pipe). */
function progressPrinter(stream: NodeJS.WriteStream): (event: BackfillProgressEvent) => void {
  let lastResource: string | null = null;
  return (event) => {
    const line = formatBackfillProgress(event);
    if (!stream.isTTY) {
      stream.write(`${line}\n`);
      return;
    }
    if (lastResource !== null && lastResource !== event.resource) stream.write('\n');
    lastResource = event.resource;
    stream.write(`\r${line.padEnd(100)}`);
    if (event.done) {
      stream.write('\n');
      lastResource = null;
    }
  };
}

async function withDatabase<T>(action: (db: Db) => Promise<T>): Promise<T> {
  const database = openDatabase(readConfig().databaseUrl);
  try {
    await migrateToLatest(database.db, database.dialect);
    return await action(database.db);
  } finally {
    await database.close();
  }
}

async function resolveMerchantId(db: Db, given: string | undefined): Promise<string> {
  if (given) return given;
  const merchants = await db.selectFrom('merchants').select('id').limit(2).execute();
  if (merchants.length !== 1) throw new AppError('cli.merchant_required', 'there are several merchants (or none): name one with --merchant');
  return merchants[0]!.id;
}

function reportErrors(action: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      process.stderr.write(`error: ${error.code}: ${error.message}\n`);
      process.exitCode = 1;
    }
  };
}

function parseScopes(value: string): ReconcileScope[] {
  const scopes = value.split(',').map((scope) => scope.trim()).filter(Boolean);
  const unknown = scopes.filter((scope) => !(reconcileScopes as readonly string[]).includes(scope));
  if (scopes.length === 0 || unknown.length > 0) throw new AppError('cli.invalid_scope', `--scope takes a comma list of ${reconcileScopes.join(', ')} (got ${value})`);
  return [...new Set(scopes)] as ReconcileScope[];
}

/** `continuum backfill shopify` and `continuum reconcile --scope …`. */
export function registerShopifyCommands(program: Command): void {
  program
    .command('backfill')
    .description("Read a newly connected shop's locations, products, customers and stock into Continuum; resumes where it stopped, and a finished one is not read again")
    .argument('<channel>', 'shopify')
    .option('--merchant <id>', 'the merchant (default: the only one)')
    .option('--restart', 'forget the cursors and read everything again (what is current stays unchanged)', false)
    .action((channel: string, options: { merchant?: string; restart: boolean }) => reportErrors(async () => {
      if (channel !== 'shopify') throw new AppError('cli.unknown_channel', 'only shopify can be backfilled');
      await withDatabase(async (db) => {
        const merchantId = await resolveMerchantId(db, options.merchant);
        const result = await backfillShopify(db, merchantId, { restart: options.restart, onProgress: progressPrinter(process.stderr) });
        console.log(JSON.stringify({ state: result.state, pages_applied: result.pagesApplied, totals: result.totals, resources: result.resources.map((cursor) => ({ resource: cursor.resource, state: cursor.state, pages: cursor.pages, items: cursor.items, counts: cursor.counts })), drifts: result.drifts }, null, 2));
      });
    })());

  program
    .command('reconcile')
    .description('Compare Shopify (or, with --channel square, Square\'s stock counts) with Continuum and report every difference with its reason: stock per location, customers (mirrored points and tier, links), recent orders (missed webhooks), webhook subscriptions; --repair puts the truth back')
    .option('--merchant <id>', 'the merchant (default: the only one)')
    .addOption(new Option('--channel <channel>', 'the channel to compare').choices(['shopify', 'square']).default('shopify'))
    .option('--scope <scopes>', `comma list of ${reconcileScopes.join(', ')} (Square: stock only)`, 'stock')
    .option('--repair', 'repair every difference found', false)
    .addOption(new Option('--days <days>', `days of orders to compare (1-${ORDER_RECONCILE_DAYS_MAX})`).argParser((value) => Number.parseInt(value, 10)))
    .action((options: { merchant?: string; channel: 'shopify' | 'square'; scope: string; repair: boolean; days?: number }) => reportErrors(async () => {
      const scopes = parseScopes(options.scope);
      if (options.channel === 'square' && scopes.some((scope) => scope !== 'stock')) throw new AppError('cli.invalid_scope', `Square is compared for its stock only (got --scope ${options.scope})`);
      await withDatabase(async (db) => {
        const merchantId = await resolveMerchantId(db, options.merchant);
        const report = options.channel === 'square'
          ? { stock: await reconcileSquareStock(db, merchantId, { repair: options.repair }) }
          : await reconcileShopify(db, merchantId, { scopes, repair: options.repair, publicUrl: readConfig().publicUrl, ...(options.days !== undefined ? { orderDays: options.days } : {}) });
        console.log(JSON.stringify(report, null, 2));
      });
    })());
}
