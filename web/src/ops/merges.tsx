import { useState, type FormEvent } from 'react';
import { describeError, getData, newActionId, query, request } from '../api.ts';
import { formatDateTime, formatPoints, humanize } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import type { CustomerMerge, CustomerProfile, CustomerSummary } from '../types.ts';
import { Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

interface MergeRow extends CustomerMerge {
  survivorName: string;
  mergedName: string;
}

async function loadMerges(customerId: string, signal: AbortSignal): Promise<{ customer: CustomerProfile; merges: MergeRow[] }> {
  const [customer, merges] = await Promise.all([
    getData<CustomerProfile>(`/v1/customers/${encodeURIComponent(customerId)}`, signal),
    getData<CustomerMerge[]>(`/v1/customers/${encodeURIComponent(customerId)}/merges`, signal),
  ]);
  const ids = [...new Set(merges.flatMap((merge) => [merge.survivor_id, merge.merged_id]))];
  const names = new Map(await Promise.all(ids.map(async (id) => [id, (await getData<CustomerProfile>(`/v1/customers/${encodeURIComponent(id)}`, signal)).name] as const)));
  return { customer, merges: merges.map((merge) => ({ ...merge, survivorName: names.get(merge.survivor_id) || merge.survivor_id, mergedName: names.get(merge.merged_id) || merge.merged_id })) };
}

/** A profile's merges with who did them and why; undo one, or merge another profile into it. */
export default function Merges() {
  const { search } = useLocation();
  const customerId = search.get('customer') ?? '';
  const [lookup, setLookup] = useState('');
  const [found, setFound] = useState<CustomerSummary[] | null>(null);
  const [outcome, setOutcome] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const data = useResource((signal) => (customerId ? loadMerges(customerId, signal) : Promise.resolve(null)), [customerId]);

  const find = async (event: FormEvent) => {
    event.preventDefault();
    if (!lookup.trim()) return;
    try {
      setFound(await getData<CustomerSummary[]>(`/v1/customers/lookup${query({ q: lookup.trim() })}`));
    } catch (failure) {
      setOutcome({ kind: 'error', text: describeError(failure) });
    }
  };

  const run = async (path: string, body: unknown, text: string) => {
    setBusy(true);
    setOutcome(null);
    try {
      await request(path, { method: 'POST', body, idempotencyKey: newActionId('merge') });
      setOutcome({ kind: 'success', text });
      data.reload();
    } catch (failure) {
      setOutcome({ kind: 'error', text: describeError(failure) });
    } finally {
      setBusy(false);
    }
  };

  const current = data.data?.customer;
  return (
    <Page title="Merges" lead="Merge two profiles of one person, or undo a merge: both profiles and their points come back exactly as they were.">
      <form onSubmit={find} className="inline-form" role="search" aria-label="Find a profile">
        <div className="field grow">
          <label htmlFor="merge-lookup">{current ? 'Find a profile to merge into this one' : 'Find a profile'} (phone, email, name or loyalty code)</label>
          <input id="merge-lookup" type="search" value={lookup} onChange={(event) => setLookup(event.target.value)} />
        </div>
        <button type="submit">Find</button>
      </form>
      <p role="status" className={found ? '' : 'visually-hidden'}>{found ? (found.length === 0 ? 'No profile found.' : `${found.length} found.`) : ''}</p>
      {found ? (
        <div>
          <ul className="plain-list">
            {found.map((customer) => (
              <li key={customer.id} className="reward">
                <span><strong>{customer.name || 'No name'}</strong> · {customer.emails[0] ?? customer.phones[0] ?? customer.loyalty_code ?? customer.id} · {formatPoints(customer.loyalty.available)}</span>
                <span className="button-row">
                  <button type="button" onClick={() => { setFound(null); navigate(`/ops/merges${query({ customer: customer.id })}`); }}>Show merges</button>
                  {current && current.id !== customer.id && current.state === 'active' ? (
                    <button type="button" disabled={busy} onClick={() => void run('/v1/customers/merge', { survivor_id: current.id, merged_id: customer.id, reason: 'merged in the console' }, `${customer.name || customer.id} was merged into ${current.name || current.id}.`)}>
                      Merge into {current.name || 'this profile'}
                    </button>
                  ) : null}
                </span>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {outcome ? <Notice kind={outcome.kind} focus>{outcome.text}</Notice> : null}
      {customerId && !data.data ? (data.error ? <Notice kind="error">{data.error}</Notice> : <Loading what="merges" />) : null}
      {data.data ? (
        <section aria-labelledby="merges-heading">
          <h2 id="merges-heading">Merges of <Link to={`/staff/customers/${data.data.customer.id}`}>{data.data.customer.name || data.data.customer.id}</Link> ({humanize(data.data.customer.state)})</h2>
          {data.data.merges.length === 0 ? <p>This profile took part in no merge.</p> : (
            <table data-testid="merges">
              <caption className="visually-hidden">Merges and their audit trail</caption>
              <thead><tr><th scope="col">When</th><th scope="col">Kept</th><th scope="col">Merged into it</th><th scope="col">Why</th><th scope="col">Who</th><th scope="col">State</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
              <tbody>
                {data.data.merges.map((merge) => (
                  <tr key={merge.id}>
                    <th scope="row">{formatDateTime(merge.created_at)}</th>
                    <td><Link to={`/staff/customers/${merge.survivor_id}`}>{merge.survivorName}</Link></td>
                    <td><Link to={`/staff/customers/${merge.merged_id}`}>{merge.mergedName}</Link></td>
                    <td>{merge.reason ?? '—'}</td>
                    <td>{merge.actor}</td>
                    <td data-testid="merge-state">{merge.unmerged_at ? `Unmerged ${formatDateTime(merge.unmerged_at)}` : humanize(merge.state)}</td>
                    <td>
                      {merge.state === 'merged' ? (
                        <button type="button" disabled={busy} onClick={() => void run(`/v1/customers/merges/${encodeURIComponent(merge.id)}/unmerge`, undefined, `Unmerged: ${merge.mergedName} and ${merge.survivorName} are two profiles again, each with its own points.`)}>
                          Unmerge
                        </button>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ) : null}
    </Page>
  );
}
