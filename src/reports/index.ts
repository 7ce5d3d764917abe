/**
 * Reports for the operations console (issue #8): sales, customers across channels, points and
 * rewards over a period, each as JSON rows or CSV. They read across the domains' tables with
 * grouped queries only: what comes back grows with the groups, never with the orders.
 * Example: `await reportSales(db, merchantId, resolveReportPeriod({ from: '2026-11-01', to: '2026-11-26' }), 'channel')`.
 */
export * from './report-period.ts';
export * from './csv.ts';
export * from './sales-report.ts';
export * from './customer-report.ts';
export * from './loyalty-report.ts';
export * from './reward-report.ts';
