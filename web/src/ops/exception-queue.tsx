import { useEffect, useState, type FormEvent } from 'react';
import { describeError, query, request } from '../api.ts';
import { exceptionKindName, exceptionKinds, formatDateTime, stateName } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import type { ExceptionSummary } from '../types.ts';
import { Loading, Notice, Page } from '../ui/page.tsx';
import { exceptionSummary } from './exception-summary.ts';

/** The kinds an operator opens most, one tap away. */
const quickKinds = ['possible_duplicate', 'sync_failed', 'oversell', 'offline_conflict', 'unmapped_sku'];

/** Rows asked for per page; the engine allows up to 200. */
const pageSize = 50;

const stateFilters = [
  { value: 'active', label: 'Needs a decision (open, assigned, in progress)' },
  { value: 'open', label: 'Open' },
  { value: 'assigned', label: 'Assigned' },
  { value: 'in_progress', label: 'In progress' },
  { value: 'resolved', label: 'Resolved' },
  { value: 'dismissed', label: 'Dismissed' },
  { value: '', label: 'Any state' },
];

/** The cases a person must decide, filtered by kind and state, newest first, a page at a time. */
export default function ExceptionQueue() {
  const { search } = useLocation();
  const kind = search.get('kind') ?? '';
  const state = search.has('state') ? search.get('state') ?? '' : 'active';
  const [rows, setRows] = useState<ExceptionSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    setRows(null);
    setError(null);
    request<{ data: ExceptionSummary[]; next_cursor: string | null }>(`/v1/exceptions${query({ kind, state, limit: pageSize })}`, { signal: controller.signal }).then((page) => {
      setRows(page.data);
      setCursor(page.next_cursor);
    }, (failure: unknown) => { if (!controller.signal.aborted) setError(describeError(failure)); });
    return () => controller.abort();
  }, [kind, state]);

  const loadMore = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await request<{ data: ExceptionSummary[]; next_cursor: string | null }>(`/v1/exceptions${query({ kind, state, limit: pageSize, cursor })}`);
      setRows((previous) => [...(previous ?? []), ...page.data]);
      setCursor(page.next_cursor);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setLoadingMore(false);
    }
  };

  const filter = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    // The state is always in the address, empty for "any state", so the default (active) is not assumed.
    navigate(`/ops?kind=${encodeURIComponent(String(form.get('kind') ?? ''))}&state=${encodeURIComponent(String(form.get('state') ?? ''))}`);
  };

  return (
    <Page title="Exceptions">
      <nav aria-label="Shortcuts" className="quick-filters">
        <ul>
          {quickKinds.map((quick) => <li key={quick}><Link to={`/ops?kind=${quick}&state=active`} aria-current={kind === quick ? 'page' : undefined}>{exceptionKindName(quick)}s</Link></li>)}
        </ul>
      </nav>
      <form className="inline-form" onSubmit={filter} aria-label="Filter exceptions" key={`${kind}|${state}`}>
        <div className="field">
          <label htmlFor="filter-kind">Kind</label>
          <select id="filter-kind" name="kind" defaultValue={kind}>
            <option value="">Every kind</option>
            {exceptionKinds.map((value) => <option key={value} value={value}>{exceptionKindName(value)}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-state">State</label>
          <select id="filter-state" name="state" defaultValue={state}>
            {stateFilters.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
          </select>
        </div>
        <button type="submit">Show</button>
      </form>
      <p role="status">{rows ? (rows.length === 0 ? 'Nothing to decide here.' : `${rows.length}${cursor ? '+' : ''} ${rows.length === 1 ? 'case' : 'cases'}.`) : ''}</p>
      <div>
        {error ? <Notice kind="error">{error}</Notice> : null}
        {!rows && !error ? <Loading what="exceptions" /> : null}
        {rows ? (
          rows.length === 0 ? null : (
            <>
              <table data-testid="exceptions">
                <thead><tr><th scope="col">Kind</th><th scope="col">What</th><th scope="col">State</th><th scope="col">Owner</th><th scope="col">Raised</th></tr></thead>
                <tbody>
                  {rows.map((exception) => (
                    <tr key={exception.id}>
                      <th scope="row"><Link to={`/ops/exceptions/${exception.id}`}>{exceptionKindName(exception.kind)}</Link></th>
                      <td>{exceptionSummary(exception)}</td>
                      <td><span className={`state state-${exception.state}`}>{stateName(exception.state)}</span></td>
                      <td>{exception.owner ?? '—'}</td>
                      <td>{formatDateTime(exception.created_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {cursor ? <button type="button" onClick={() => void loadMore()} disabled={loadingMore}>{loadingMore ? 'Loading…' : 'Show more'}</button> : null}
            </>
          )
        ) : null}
      </div>
    </Page>
  );
}
