import { useState, type FormEvent } from 'react';
import { getData, query } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { formatMinor, formatNumber, formatPercent, humanize } from '../format.ts';
import { BarChart, LineChart } from '../ui/chart.tsx';
import { Loading, Notice, Page } from '../ui/page.tsx';
import { useResource, type Resource } from '../ui/use-resource.ts';

type SalesGroup = 'channel' | 'location' | 'day';

interface SalesRow {
  channel?: string | null;
  location_id?: string | null;
  location_name?: string | null;
  day?: string | null;
  orders: number;
  gross_minor: number;
  discounts_minor: number;
  returns_minor: number;
  net_sales_minor: number;
  shipping_minor: number;
  tax_minor: number;
  total_sales_minor: number;
  refunds_minor: number;
  payments: Record<string, number>;
}

interface CustomersReport {
  customers_with_orders: number;
  multi_channel_customers: number;
  multi_channel_share: number;
  repeat_customers: number;
  repeat_purchase_rate: number;
  rows?: Record<string, unknown>[];
}

interface LoyaltyRow {
  day: string;
  points_issued: number;
  points_redeemed: number;
  points_reversed: number;
  points_expired: number;
}

interface RewardRow {
  channel: string;
  reward_code: string;
  redemptions: number;
  points: number;
}

const dayMs = 86_400_000;

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function CsvLink({ path, label }: { path: string; label: string }) {
  const separator = path.includes('?') ? '&' : '?';
  return <a className="csv" href={`${path}${separator}format=csv`} download>Download {label} as CSV</a>;
}

function ReportState<T>({ resource, what }: { resource: Resource<T>; what: string }) {
  if (resource.error) return <Notice kind="error">{humanize(what)}: {resource.error}</Notice>;
  if (!resource.data) return <Loading what={what} />;
  return null;
}

/** Sales by channel and location with taxes and payments, customers across channels, points and rewards. */
export default function Reports() {
  const today = new Date();
  const [range, setRange] = useState({ from: isoDay(new Date(today.getTime() - 29 * dayMs)), to: isoDay(today) });
  const [draft, setDraft] = useState(range);
  const [group, setGroup] = useState<SalesGroup>('channel');
  const period = { from: range.from, to: range.to };
  const salesPath = `/v1/reports/sales${query({ group, ...period })}`;
  const customersPath = `/v1/reports/customers${query(period)}`;
  const loyaltyPath = `/v1/reports/loyalty${query({ group: 'day', ...period })}`;
  const rewardsPath = `/v1/reports/rewards${query(period)}`;
  const sales = useResource((signal) => getData<SalesRow[]>(salesPath, signal), [salesPath]);
  const customers = useResource((signal) => getData<CustomersReport>(customersPath, signal), [customersPath]);
  const loyalty = useResource((signal) => getData<LoyaltyRow[]>(loyaltyPath, signal), [loyaltyPath]);
  const rewards = useResource((signal) => getData<RewardRow[]>(rewardsPath, signal), [rewardsPath]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    if (draft.from && draft.to && draft.from <= draft.to) setRange(draft);
  };

  return (
    <Page title="Reports">
      <form onSubmit={apply} className="inline-form" aria-label="Period">
        <div className="field"><label htmlFor="report-from">From</label><input id="report-from" type="date" value={draft.from} max={draft.to} onChange={(event) => setDraft({ ...draft, from: event.target.value })} /></div>
        <div className="field"><label htmlFor="report-to">To</label><input id="report-to" type="date" value={draft.to} min={draft.from} onChange={(event) => setDraft({ ...draft, to: event.target.value })} /></div>
        <button type="submit">Show this period</button>
      </form>
      <SalesSection group={group} onGroup={setGroup} sales={sales} path={salesPath} />
      <CustomersSection customers={customers} path={customersPath} />
      <LoyaltySection loyalty={loyalty} path={loyaltyPath} />
      <RewardsSection rewards={rewards} path={rewardsPath} />
    </Page>
  );
}

function SalesSection({ group, onGroup, sales, path }: { group: SalesGroup; onGroup(group: SalesGroup): void; sales: Resource<SalesRow[]>; path: string }) {
  const { session, locationName } = useConsole();
  const money = (minor: number) => formatMinor(minor, session.merchant.currency);
  const label = (row: SalesRow) => {
    if (group === 'day') return row.day ?? '—';
    if (group === 'location') return row.location_name ?? locationName(row.location_id) ?? (row.location_id ? row.location_id : 'Online (no store)');
    return humanize(row.channel ?? 'unknown');
  };
  const rows = sales.data ?? [];
  const methods = [...new Set(rows.flatMap((row) => Object.keys(row.payments ?? {})))].sort();
  return (
    <section aria-labelledby="sales-heading" className="card">
      <h2 id="sales-heading">Sales</h2>
      <div className="field inline">
        <label htmlFor="sales-group">By</label>
        <select id="sales-group" value={group} onChange={(event) => onGroup(event.target.value as SalesGroup)}>
          <option value="channel">Channel</option>
          <option value="location">Location</option>
          <option value="day">Day</option>
        </select>
      </div>
      <ReportState resource={sales} what="sales" />
      {sales.data ? (
        <>
          <BarChart title={`Gross and net sales by ${group}`} description={`Gross sales, and net sales after discounts and returns, for each ${group} in the period.`} labels={rows.map(label)} format={money}
            series={[{ name: 'Gross', values: rows.map((row) => row.gross_minor) }, { name: 'Net sales', values: rows.map((row) => row.net_sales_minor) }]} />
          {/* Focusable, so the keyboard can scroll a table wider than the page (one column per payment method). */}
          <div className="table-scroll" tabIndex={0} role="group" aria-label={`Sales by ${group}, figures`}>
            <table>
              <caption className="visually-hidden">Sales by {group} with taxes and payment methods</caption>
              <thead>
                <tr><th scope="col">{humanize(group)}</th><th scope="col" className="number">Orders</th><th scope="col" className="number">Gross</th><th scope="col" className="number">Discounts</th><th scope="col" className="number">Returns</th><th scope="col" className="number">Net sales</th><th scope="col" className="number">Shipping</th><th scope="col" className="number">Tax</th><th scope="col" className="number">Total sales</th><th scope="col" className="number">Refunds</th>{methods.map((method) => <th scope="col" className="number" key={method}>{humanize(method)}</th>)}</tr>
              </thead>
              <tbody>
                {rows.map((row, index) => (
                  <tr key={index}>
                    <th scope="row">{label(row)}</th>
                    <td className="number">{formatNumber(row.orders)}</td>
                    <td className="number">{money(row.gross_minor)}</td>
                    <td className="number">{money(row.discounts_minor)}</td>
                    <td className="number">{money(row.returns_minor)}</td>
                    <td className="number">{money(row.net_sales_minor)}</td>
                    <td className="number">{money(row.shipping_minor)}</td>
                    <td className="number">{money(row.tax_minor)}</td>
                    <td className="number">{money(row.total_sales_minor)}</td>
                    <td className="number">{money(row.refunds_minor)}</td>
                    {methods.map((method) => <td className="number" key={method}>{money(row.payments?.[method] ?? 0)}</td>)}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      ) : null}
      <CsvLink path={path} label="sales" />
    </section>
  );
}

function CustomersSection({ customers, path }: { customers: Resource<CustomersReport>; path: string }) {
  const report = customers.data;
  return (
    <section aria-labelledby="customers-heading" className="card">
      <h2 id="customers-heading">Customers across channels</h2>
      <ReportState resource={customers} what="customers" />
      {report ? (
        <>
          <dl className="facts inline-facts">
            <div><dt>Customers who bought</dt><dd>{formatNumber(report.customers_with_orders)}</dd></div>
            <div><dt>Bought in more than one channel</dt><dd>{formatNumber(report.multi_channel_customers)} ({formatPercent(report.multi_channel_share)})</dd></div>
            <div><dt>Came back to buy again</dt><dd>{formatNumber(report.repeat_customers)} ({formatPercent(report.repeat_purchase_rate)})</dd></div>
          </dl>
          <BarChart title="Multi-channel share and repeat purchase rate" description="The share of customers who bought in more than one channel, and the share who bought more than once." format={(value) => formatPercent(value / 100)}
            labels={['Multi-channel', 'Repeat purchase']} series={[{ name: 'Share of customers', values: [report.multi_channel_share * 100, report.repeat_purchase_rate * 100] }]} />
        </>
      ) : null}
      <CsvLink path={path} label="customers" />
    </section>
  );
}

function LoyaltySection({ loyalty, path }: { loyalty: Resource<LoyaltyRow[]>; path: string }) {
  const rows = loyalty.data ?? [];
  return (
    <section aria-labelledby="points-heading" className="card">
      <h2 id="points-heading">Points issued and redeemed</h2>
      <ReportState resource={loyalty} what="points" />
      {loyalty.data ? (
        <LineChart title="Points per day" description="Points issued, redeemed, reversed by returns and expired, per day." labels={rows.map((row) => row.day)} format={formatNumber}
          series={[{ name: 'Issued', values: rows.map((row) => row.points_issued) }, { name: 'Redeemed', values: rows.map((row) => row.points_redeemed) }, { name: 'Reversed', values: rows.map((row) => row.points_reversed) }, { name: 'Expired', values: rows.map((row) => row.points_expired) }]} />
      ) : null}
      <CsvLink path={path} label="points" />
    </section>
  );
}

function RewardsSection({ rewards, path }: { rewards: Resource<RewardRow[]>; path: string }) {
  const rows = rewards.data ?? [];
  return (
    <section aria-labelledby="rewards-report-heading" className="card">
      <h2 id="rewards-report-heading">Reward redemptions by channel</h2>
      <ReportState resource={rewards} what="rewards" />
      {rewards.data ? (
        rows.length === 0 ? <p>No reward was redeemed in the period.</p> : (
          <BarChart title="Redemptions by channel and reward" description="How many times each reward was redeemed, per channel." labels={rows.map((row) => `${humanize(row.channel)} · ${row.reward_code}`)} format={formatNumber}
            series={[{ name: 'Redemptions', values: rows.map((row) => row.redemptions) }]} />
        )
      ) : null}
      <CsvLink path={path} label="reward redemptions" />
    </section>
  );
}
