import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { reportCustomers, reportLoyaltyByDay, reportRewards, reportSales, resolveReportPeriod, salesCsvColumns, salesGroups, toCsv, type CsvCell, type ReportPeriod } from '../../reports/index.ts';
import { readSyncHealth, syncHealthHoursDefault, syncHealthHoursMax } from '../../sync/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const periodQuery = z.object({
  from: z.iso.date().optional().describe('First day, YYYY-MM-DD (UTC); by default 29 days before `to`'),
  to: z.iso.date().optional().describe('Last day, included, YYYY-MM-DD (UTC); by default today'),
  format: z.enum(['json', 'csv']).default('json').describe('csv: the rows as a CSV attachment'),
});

/** A report as a CSV attachment named after the report and its period. */
function sendCsv(reply: FastifyReply, report: string, period: ReportPeriod, columns: readonly string[], rows: CsvCell[][]): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${report}-${period.from}-${period.to}.csv"`)
    .header('cache-control', 'no-store')
    .send(toCsv(columns, rows));
}

/** Reports and sync health for the operations console (docs/console-api.md), all of scope read. */
export function registerReportRoutes(app: AppInstance, { database }: RouteDependencies): void {
  const db = database.db;

  app.get('/v1/reports/sales', {
    config: { scope: 'read' },
    schema: {
      summary: 'Sales over a period by channel, location or day: orders, gross, discounts, shipping, tax, refunds, net and payments by method, in minor units (CSV with format=csv)', tags: ['reports'],
      querystring: periodQuery.extend({ group: z.enum(salesGroups).default('channel') }),
    },
  }, async (request, reply) => {
    const period = resolveReportPeriod(request.query);
    const rows = await reportSales(db, merchantOf(request).id, period, request.query.group);
    if (request.query.format === 'csv') {
      const { columns, cells } = salesCsvColumns(rows);
      return sendCsv(reply, 'sales', period, columns, cells);
    }
    return { data: rows, period: { from: period.from, to: period.to }, group: request.query.group };
  });

  app.get('/v1/reports/customers', {
    config: { scope: 'read' },
    schema: { summary: 'Customers across channels over a period: how many bought, bought online and in store, bought again; by channel combination (CSV with format=csv)', tags: ['reports'], querystring: periodQuery },
  }, async (request, reply) => {
    const period = resolveReportPeriod(request.query);
    const report = await reportCustomers(db, merchantOf(request).id, period);
    if (request.query.format === 'csv') {
      const columns = ['combination', 'customers', 'orders', 'repeat_customers', 'total_minor'] as const;
      const all = { combination: 'all', customers: report.customers_with_orders, orders: report.rows.reduce((sum, row) => sum + row.orders, 0), repeat_customers: report.repeat_customers, total_minor: report.rows.reduce((sum, row) => sum + row.total_minor, 0) };
      return sendCsv(reply, 'customers', period, columns, [...report.rows, all].map((row) => columns.map((column) => row[column])));
    }
    return { data: report, period: { from: period.from, to: period.to } };
  });

  app.get('/v1/reports/loyalty', {
    config: { scope: 'read' },
    schema: { summary: 'Points issued, redeemed, reversed, expired (and restored, adjusted) per day over a period (CSV with format=csv)', tags: ['reports'], querystring: periodQuery.extend({ group: z.enum(['day']).default('day') }) },
  }, async (request, reply) => {
    const period = resolveReportPeriod(request.query);
    const rows = await reportLoyaltyByDay(db, merchantOf(request).id, period);
    if (request.query.format === 'csv') {
      const columns = ['day', 'points_issued', 'points_redeemed', 'points_reversed', 'points_expired', 'points_restored', 'points_adjusted'] as const;
      return sendCsv(reply, 'loyalty', period, columns, rows.map((row) => columns.map((column) => row[column])));
    }
    return { data: rows, period: { from: period.from, to: period.to }, group: 'day' };
  });

  app.get('/v1/reports/rewards', {
    config: { scope: 'read' },
    schema: { summary: 'Rewards redeemed over a period by channel and reward, with the points they cost (CSV with format=csv)', tags: ['reports'], querystring: periodQuery },
  }, async (request, reply) => {
    const period = resolveReportPeriod(request.query);
    const rows = await reportRewards(db, merchantOf(request).id, period);
    if (request.query.format === 'csv') {
      const columns = ['channel', 'reward_code', 'redemptions', 'points'] as const;
      return sendCsv(reply, 'rewards', period, columns, rows.map((row) => columns.map((column) => row[column])));
    }
    return { data: rows, period: { from: period.from, to: period.to } };
  });

  app.get('/v1/sync/health', {
    config: { scope: 'read' },
    schema: {
      summary: "Each channel's sync hour by hour (inbound received, processed, failed; outbound delivered, retried, dead) with its lag, waiting and dead messages and circuit now", tags: ['sync'],
      querystring: z.object({ hours: z.coerce.number().int().min(1).max(syncHealthHoursMax).default(syncHealthHoursDefault) }),
    },
  }, async (request) => ({ data: { hours: request.query.hours, channels: await readSyncHealth(db, merchantOf(request).id, request.query.hours) } }));
}
