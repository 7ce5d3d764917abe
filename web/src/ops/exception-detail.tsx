import { useEffect, useState, type FormEvent } from 'react';
import { describeError, getData, newActionId, request, type Envelope } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { exceptionKindName, formatDateTime, formatMoney, formatPoints, humanize, stateName } from '../format.ts';
import { Link } from '../router.tsx';
import type { CustomerProfile, ExceptionDetail as Detail } from '../types.ts';
import { Loading, Notice, Page } from '../ui/page.tsx';
import { exceptionSummary } from './exception-summary.ts';

type Outcome = { kind: 'success' | 'error'; text: string; link?: { to: string; label: string } };

/** One case: what it is about, the decision it needs (merge, retry, resolve…) and its history. */
export default function ExceptionDetail({ params }: { params: Record<string, string> }) {
  const id = params['id'] ?? '';
  const [exception, setException] = useState<Detail | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    getData<Detail>(`/v1/exceptions/${encodeURIComponent(id)}`, controller.signal).then(setException, (failure: unknown) => { if (!controller.signal.aborted) setLoadError(describeError(failure)); });
    return () => controller.abort();
  }, [id]);

  /** Runs an action; the engine answers the case as it is after it. */
  const act = async (action: string, body: unknown, success: (after: Detail) => Outcome) => {
    setBusy(true);
    setOutcome(null);
    try {
      const answer = await request<Envelope<Detail>>(`/v1/exceptions/${encodeURIComponent(id)}/${action}`, { method: 'POST', body, idempotencyKey: newActionId(`exception-${action}`) });
      setException(answer.data);
      setOutcome(success(answer.data));
    } catch (failure) {
      setOutcome({ kind: 'error', text: describeError(failure) });
    } finally {
      setBusy(false);
    }
  };

  if (!exception) return <Page title="Exception">{loadError ? <Notice kind="error">{loadError}</Notice> : <Loading what="the case" />}</Page>;
  return (
    <Page title={`${exceptionKindName(exception.kind)}: ${exceptionSummary(exception)}`}>
      <p><Link to="/ops">Back to the queue</Link></p>
      <dl className="facts inline-facts">
        <div><dt>State</dt><dd><span className={`state state-${exception.state}`} data-testid="exception-state">{stateName(exception.state)}</span></dd></div>
        <div><dt>Raised</dt><dd>{formatDateTime(exception.created_at)}</dd></div>
        <div><dt>Owner</dt><dd>{exception.owner ?? 'Nobody'}</dd></div>
        {exception.resolution ? <div><dt>Resolution</dt><dd>{exception.resolution}</dd></div> : null}
      </dl>
      {outcome ? (
        <Notice kind={outcome.kind} focus>
          {outcome.text} {outcome.link ? <Link to={outcome.link.to}>{outcome.link.label}</Link> : null}
        </Notice>
      ) : null}
      {exception.kind === 'possible_duplicate' && exception.profiles && exception.profiles.length === 2 ? (
        <DuplicatePanel exception={exception} busy={busy} act={act} />
      ) : null}
      {exception.kind === 'sync_failed' ? <SyncFailedPanel exception={exception} busy={busy} act={act} /> : null}
      {exception.kind === 'sync_failed' ? null : <DetailsList details={exception.details} />}
      <LifecycleActions exception={exception} busy={busy} act={act} />
      <History exception={exception} />
    </Page>
  );
}

/** A profile as a person tells two apart: the name and what identifies her. */
function profileLabel(profile: CustomerProfile): string {
  const identifier = profile.emails[0] ?? profile.phones[0] ?? profile.loyalty_code ?? profile.id;
  return `${profile.name || 'No name'} (${identifier})`;
}

type Act = (action: string, body: unknown, success: (after: Detail) => Outcome) => Promise<void>;

function DuplicatePanel({ exception, busy, act }: { exception: Detail; busy: boolean; act: Act }) {
  const [left, right] = exception.profiles as [CustomerProfile, CustomerProfile];
  // Keep the profile with more history by default: her orders and points stay where they are.
  const richer = right.orders.length + right.loyalty.available > left.orders.length + left.loyalty.available ? right : left;
  const [survivorId, setSurvivorId] = useState(richer.id);
  const open = exception.actions.includes('merge');
  const merge = () => {
    const merged = survivorId === left.id ? right : left;
    const survivor = survivorId === left.id ? left : right;
    void act('resolve', { action: 'merge', survivor_id: survivorId }, () => ({
      kind: 'success', text: `Merged: ${profileLabel(merged)} is now part of ${profileLabel(survivor)}.`,
      link: { to: `/ops/merges?customer=${encodeURIComponent(survivorId)}`, label: 'See the merge and its audit trail, or undo it' },
    }));
  };
  return (
    <section aria-labelledby="duplicate-heading">
      <h2 id="duplicate-heading">Are these the same person?</h2>
      <fieldset className="side-by-side" disabled={!open || busy}>
        <legend className="visually-hidden">Which profile to keep</legend>
        {[left, right].map((profile, index) => (
          <div key={profile.id} className="card profile-card" data-testid={`duplicate-${index}`}>
            <h3>{profile.name || 'No name'}</h3>
            <dl className="facts">
              <div><dt>Email</dt><dd>{profile.emails.join(', ') || '—'}</dd></div>
              <div><dt>Phone</dt><dd>{profile.phones.join(', ') || '—'}</dd></div>
              <div><dt>Loyalty code</dt><dd><code>{profile.loyalty_code ?? '—'}</code></dd></div>
              <div><dt>Points</dt><dd>{formatPoints(profile.loyalty.available)} ({profile.loyalty.tier ?? 'no tier'})</dd></div>
              <div><dt>Orders</dt><dd>{profile.orders.length === 0 ? 'None' : profile.orders.map((order) => `${order.order_number ?? order.id} (${formatMoney(order.total)})`).join(', ')}</dd></div>
              <div><dt>Customer since</dt><dd>{formatDateTime(profile.created_at)}</dd></div>
              <div><dt>State</dt><dd>{humanize(profile.state)}</dd></div>
            </dl>
            {open ? (
              <label className="radio"><input type="radio" name="survivor" value={profile.id} checked={survivorId === profile.id} onChange={() => setSurvivorId(profile.id)} /> Keep this profile</label>
            ) : null}
          </div>
        ))}
      </fieldset>
      {open ? (
        <div className="button-row">
          <button type="button" className="primary" disabled={busy} onClick={merge}>Merge</button>
          <button type="button" disabled={busy} onClick={() => void act('resolve', { action: 'not_same_person' }, () => ({ kind: 'success', text: 'Recorded: they are different people. Neither a scan nor a policy will merge them.' }))}>Not the same person</button>
        </div>
      ) : null}
    </section>
  );
}

function SyncFailedPanel({ exception, busy, act }: { exception: Detail; busy: boolean; act: Act }) {
  const details = exception.details;
  const canRetry = exception.actions.includes('retry');
  return (
    <section aria-labelledby="sync-heading" className="card">
      <h2 id="sync-heading">What failed</h2>
      <dl className="facts">
        <div><dt>Channel</dt><dd>{String(details['destination'] ?? '—')}</dd></div>
        <div><dt>Message</dt><dd>{String(details['kind'] ?? '—')} <code>{String(details['outbox_id'] ?? exception.subject)}</code></dd></div>
        <div><dt>Attempts</dt><dd>{String(details['attempts'] ?? '—')}</dd></div>
        <div><dt>Last error</dt><dd className="error-text" data-testid="sync-error">{String(details['error'] ?? '—')}</dd></div>
      </dl>
      {canRetry ? (
        <button type="button" className="primary" disabled={busy} onClick={() => void act('retry', undefined, (after) => ({ kind: 'success', text: `Sent again: the message is queued (${stateName(after.state).toLowerCase()}). The case resolves itself once the channel accepts it.` }))}>Retry</button>
      ) : null}
    </section>
  );
}

function DetailsList({ details }: { details: Record<string, unknown> }) {
  const entries = Object.entries(details).filter(([key]) => key !== 'customer_ids');
  if (entries.length === 0) return null;
  return (
    <section aria-labelledby="details-heading">
      <h2 id="details-heading">Details</h2>
      <dl className="facts">
        {entries.map(([key, value]) => (
          <div key={key}><dt>{humanize(key)}</dt><dd>{typeof value === 'object' && value !== null ? <code className="json">{JSON.stringify(value)}</code> : String(value)}</dd></div>
        ))}
      </dl>
    </section>
  );
}

function LifecycleActions({ exception, busy, act }: { exception: Detail; busy: boolean; act: Act }) {
  const { session } = useConsole();
  const [note, setNote] = useState('');
  const can = (action: string) => exception.actions.includes(action);
  const resolve = (event: FormEvent) => {
    event.preventDefault();
    if (note.trim()) void act('resolve', { resolution: note.trim() }, () => ({ kind: 'success', text: 'Resolved.' }));
  };
  if (!['assign', 'resolve', 'dismiss', 'reopen'].some(can)) return null;
  return (
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Decide</h2>
      <div className="button-row">
        {can('assign') && exception.owner !== session.staff.email ? <button type="button" disabled={busy} onClick={() => void act('assign', { owner: session.staff.email }, () => ({ kind: 'success', text: 'Assigned to you.' }))}>Assign to me</button> : null}
        {can('dismiss') ? <button type="button" className="quiet" disabled={busy} onClick={() => void act('dismiss', { reason: 'dismissed in the console' }, () => ({ kind: 'success', text: 'Dismissed: not a case after all.' }))}>Dismiss</button> : null}
        {can('reopen') ? <button type="button" disabled={busy} onClick={() => void act('reopen', { reason: 'reopened in the console' }, () => ({ kind: 'success', text: 'Reopened.' }))}>Reopen</button> : null}
      </div>
      {can('resolve') ? (
        <form onSubmit={resolve} className="inline-form">
          <div className="field grow">
            <label htmlFor="resolution-note">How it was settled</label>
            <input id="resolution-note" type="text" maxLength={1000} value={note} onChange={(event) => setNote(event.target.value)} />
          </div>
          <button type="submit" disabled={busy || !note.trim()}>Resolve</button>
        </form>
      ) : null}
    </section>
  );
}

function History({ exception }: { exception: Detail }) {
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      <table>
        <thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Details</th></tr></thead>
        <tbody>
          {exception.history.map((entry, index) => (
            <tr key={`${entry.at}-${index}`}>
              <th scope="row">{formatDateTime(entry.at)}</th>
              <td>{humanize(entry.action.replace(/^exceptions\./, ''))}</td>
              <td>{entry.actor}</td>
              <td>{Object.keys(entry.details).length > 0 ? <code className="json">{JSON.stringify(entry.details)}</code> : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
