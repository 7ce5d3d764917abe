/**
 * Imports from other systems' exports: Shopify's and Square's customer CSVs, deduplicated against
 * the profiles Continuum already has, in bounded batches.
 * Example: `const report = await importCustomers(db, merchant, readCsvRows(createReadStream('customers_export.csv')), { format: 'shopify-csv', sourceName: 'customers_export.csv', dryRun: true, actor: 'cli' })`.
 */
export * from './customer-import.ts';
export * from './import-customers.ts';
