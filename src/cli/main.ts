import { Command } from 'commander';
import { readConfig } from '../config.ts';
import { migrateToLatest, openDatabase } from '../db/index.ts';
import { createMerchant, issueApiKey, type ApiKeyScope } from '../merchants/index.ts';
import { runDemo } from './demo.ts';
import { registerImportCommands } from './import-customers.ts';
import { registerReplayCommand } from './replay-outbox.ts';
import { serveEngine } from './serve.ts';
import { registerShopifyCommands } from './shopify-commands.ts';
import { sendShopifyWebhook } from './send-webhook.ts';

const program = new Command();
program.name('continuum').description('Unified commerce engine: one customer, one loyalty ledger, one stock truth, one order history across channels.');

program.command('serve').description('Run the engine (HTTP API, webhooks, worker) on PORT against DATABASE_URL').action(async () => {
  await serveEngine();
});

program.command('migrate').description('Bring the database at DATABASE_URL to the latest schema').action(async () => {
  const database = openDatabase(readConfig().databaseUrl);
  const applied = await migrateToLatest(database.db, database.dialect);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'already up to date');
  await database.close();
});

program.command('demo').description('Seed the demo merchant "Demo Outfitters" and run the engine (what npm start does)').action(async () => {
  await runDemo();
});

const merchants = program.command('merchants').description('Manage merchants');
merchants
  .command('create')
  .description('Create a merchant and print its first admin API key (shown once)')
  .requiredOption('--name <name>')
  .requiredOption('--currency <code>', 'ISO-4217 currency the merchant keeps its books in')
  .requiredOption('--country <code>', 'default country for phone numbers, e.g. CA')
  .action(async (options: { name: string; currency: string; country: string }) => {
    const database = openDatabase(readConfig().databaseUrl);
    await migrateToLatest(database.db, database.dialect);
    const merchant = await createMerchant(database.db, { name: options.name, currency: options.currency.toUpperCase(), defaultCountry: options.country.toUpperCase() });
    const key = await issueApiKey(database.db, merchant.id, { name: 'first admin key', scope: 'admin' });
    console.log(JSON.stringify({ merchant_id: merchant.id, admin_api_key: key.key }, null, 2));
    await database.close();
  });

program
  .command('keys:create')
  .description('Issue an API key for a merchant (shown once)')
  .requiredOption('--merchant <id>')
  .requiredOption('--scope <scope>', 'admin, pos or read')
  .option('--name <name>', 'what the key is for', 'api key')
  .action(async (options: { merchant: string; scope: string; name: string }) => {
    if (!['admin', 'pos', 'read'].includes(options.scope)) throw new Error('--scope must be admin, pos or read');
    const database = openDatabase(readConfig().databaseUrl);
    const key = await issueApiKey(database.db, options.merchant, { name: options.name, scope: options.scope as ApiKeyScope });
    console.log(JSON.stringify({ key_id: key.id, api_key: key.key }, null, 2));
    await database.close();
  });

program
  .command('webhook')
  .description('Send a file as a signed Shopify webhook, e.g. continuum webhook shopify orders/create test/fixtures/shopify/orders-create.json')
  .argument('<channel>', 'shopify')
  .argument('<topic>', 'e.g. orders/create')
  .argument('<file>', 'the raw body to send')
  .option('--url <url>', 'where the engine listens', `http://localhost:${readConfig().port}/webhooks/shopify`)
  .option('--shop <domain>', 'X-Shopify-Shop-Domain', 'demo-outfitters.myshopify.com')
  .option('--secret <secret>', 'the shop\'s webhook secret', process.env['DEMO_SHOPIFY_SECRET'] || 'demo-shopify-secret')
  .option('--webhook-id <id>', 'X-Shopify-Webhook-Id (default: a new one)')
  .option('--event-id <id>', 'X-Shopify-Event-Id (default: a new one)')
  .action(async (channel: string, topic: string, file: string, options: { url: string; shop: string; secret: string; webhookId?: string; eventId?: string }) => {
    if (channel !== 'shopify') throw new Error('only shopify webhooks can be sent by hand yet');
    await sendShopifyWebhook(topic, file, options);
  });

registerImportCommands(program);

registerShopifyCommands(program);

registerReplayCommand(program);

await program.parseAsync(process.argv);
