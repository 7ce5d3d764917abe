import { useState, type FormEvent } from 'react';
import { describeError, getData, newActionId, request } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { humanize } from '../format.ts';
import { Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

const scopes = ['stock', 'customers', 'orders', 'webhooks'] as const;
type Scope = (typeof scopes)[number];

const scopeNames: Record<Scope, string> = { stock: 'Stock at each location', customers: 'Customers and their points', orders: 'Recent orders', webhooks: 'Webhook subscriptions' };

type Channel = 'shopify' | 'square';
const channelNames: Record<Channel, string> = { shopify: 'Shopify', square: 'Square' };
/** What can be compared with each channel: Square's stock counts only. */
const scopesOf: Record<Channel, readonly Scope[]> = { shopify: scopes, square: ['stock'] };

interface ConnectedChannel {
  channel: string;
  admin_api_url: string | null;
  has_access_token: boolean;
  state: string;
}

/** The channels connected with API access, Shopify first: the ones there is something to compare with. */
async function loadComparableChannels(signal: AbortSignal): Promise<Channel[]> {
  const accounts = await getData<ConnectedChannel[]>('/v1/channels', signal);
  const usable = new Set(accounts.filter((account) => account.admin_api_url && account.has_access_token && account.state === 'connected').map((account) => account.channel));
  return (['shopify', 'square'] as const).filter((channel) => usable.has(channel));
}

/** A scope's part of the report: what was compared, what differs and why, what was repaired. */
interface ScopeReport {
  checked?: number;
  complete?: boolean;
  drifts?: Record<string, unknown>[];
  repaired?: number;
  [key: string]: unknown;
}

/** Compare a channel (Shopify, or Square's stock) with Continuum, each difference with its reason, and put the truth back. */
export default function Reconciliation() {
  const comparable = useResource(loadComparableChannels, []);
  const [channel, setChannel] = useState<Channel>('shopify');
  const [chosen, setChosen] = useState<Set<Scope>>(new Set(['stock', 'customers', 'orders']));
  const [report, setReport] = useState<Partial<Record<Scope, ScopeReport>> | null>(null);
  const [repaired, setRepaired] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (repair: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const asked = [...chosen].filter((scope) => scopesOf[channel].includes(scope));
      const answer = await request<{ data: Partial<Record<Scope, ScopeReport>> }>(`/v1/reconciliation/${channel}`, { method: 'POST', body: { scopes: asked, repair }, idempotencyKey: newActionId('reconcile') });
      setReport(answer.data);
      setRepaired(repair);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  const compare = (event: FormEvent) => {
    event.preventDefault();
    void run(false);
  };
  const toggle = (scope: Scope, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(scope);
    else next.delete(scope);
    setChosen(next);
  };
  const drifts = report ? Object.values(report).reduce((sum, part) => sum + (part?.drifts?.length ?? 0), 0) : 0;
  const offered = scopesOf[channel];
  const pick = (next: Channel) => {
    setChannel(next);
    setReport(null);
  };

  return (
    <Page title="Reconciliation" lead="Compare a channel with Continuum: each difference comes with its reason. Repair pushes Continuum's truth back.">
      <form onSubmit={compare} className="stack">
        {comparable.data && comparable.data.length > 1 ? (
          <fieldset>
            <legend>Channel</legend>
            {comparable.data.map((option) => (
              <label key={option} className="checkbox"><input type="radio" name="channel" value={option} checked={channel === option} onChange={() => pick(option)} /> {channelNames[option]}</label>
            ))}
          </fieldset>
        ) : null}
        <fieldset>
          <legend>What to compare</legend>
          {offered.map((scope) => (
            <label key={scope} className="checkbox"><input type="checkbox" checked={chosen.has(scope)} onChange={(event) => toggle(scope, event.target.checked)} /> {scopeNames[scope]}</label>
          ))}
        </fieldset>
        <div className="button-row">
          <button type="submit" className="primary" disabled={busy || !offered.some((scope) => chosen.has(scope))}>{busy ? 'Comparing…' : 'Compare'}</button>
          {report && drifts > 0 && !repaired ? <button type="button" disabled={busy} onClick={() => void run(true)}>Repair {drifts} difference{drifts === 1 ? '' : 's'}</button> : null}
        </div>
      </form>
      {error ? <Notice kind="error" focus>{error}</Notice> : null}
      {report ? (
        <div>
          <Notice kind={drifts === 0 ? 'success' : 'info'} focus>
            {drifts === 0 ? `${channelNames[channel]} and Continuum agree.` : `${drifts} difference${drifts === 1 ? '' : 's'} found${repaired ? '; repair requested for each' : ''}.`}
          </Notice>
          {scopes.filter((scope) => report[scope]).map((scope) => <ScopeSection key={scope} scope={scope} part={report[scope] as ScopeReport} />)}
        </div>
      ) : null}
    </Page>
  );
}

function ScopeSection({ scope, part }: { scope: Scope; part: ScopeReport }) {
  const { locationName } = useConsole();
  const drifts = part.drifts ?? [];
  // A location by its name and a reason in words: what a person reads, not the engine's keys.
  const cell = (column: string, value: unknown) => {
    if (column === 'location_id' && typeof value === 'string') return locationName(value) ?? value;
    if (column === 'reason' && typeof value === 'string') return humanize(value);
    return display(value);
  };
  const heading = (column: string) => (column === 'location_id' ? 'Location' : humanize(column));
  const columns = [...new Set(drifts.flatMap((drift) => Object.keys(drift)))].slice(0, 8);
  return (
    <section aria-labelledby={`scope-${scope}`}>
      <h2 id={`scope-${scope}`}>{scopeNames[scope]}</h2>
      <p>{part.checked !== undefined ? `${part.checked} compared. ` : ''}{drifts.length === 0 ? 'No difference.' : `${drifts.length} difference${drifts.length === 1 ? '' : 's'}.`}{part.repaired ? ` ${part.repaired} repaired.` : ''}{part.complete === false ? ' The comparison stopped at its limit: run it again for the rest.' : ''}</p>
      {drifts.length > 0 ? (
        <table>
          <thead><tr>{columns.map((column) => <th scope="col" key={column}>{heading(column)}</th>)}</tr></thead>
          <tbody>
            {drifts.map((drift, index) => (
              <tr key={index}>{columns.map((column) => <td key={column}>{cell(column, drift[column])}</td>)}</tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function display(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
