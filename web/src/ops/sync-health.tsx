import { useState } from 'react';
import { describeError, getData, newActionId, query, request } from '../api.ts';
import { formatDateTime, formatNumber, formatSeconds, humanize } from '../format.ts';
import type { OutboxMessage, SyncHealth as Health, SyncStatus } from '../types.ts';
import { BarChart, LineChart } from '../ui/chart.tsx';
import { LiveRegion, Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

const hourChoices = [24, 72, 168];

function hourLabel(hour: string): string {
  const date = new Date(hour);
  return Number.isNaN(date.getTime()) ? hour : `${String(date.getHours()).padStart(2, '0')}:00`;
}

function circuitText(circuit: Health['channels'][number]['circuit']): string {
  if (!circuit) return 'Closed';
  return humanize(typeof circuit === 'string' ? circuit : circuit.state);
}

/** Events in and out per channel over time, lag, retries and dead letters; failed messages with "Retry". */
export default function SyncHealth() {
  const [hours, setHours] = useState(24);
  const health = useResource((signal) => getData<Health>(`/v1/sync/health${query({ hours })}`, signal), [hours]);
  const status = useResource((signal) => getData<SyncStatus>('/v1/sync/status', signal), []);
  return (
    <Page title="Sync health">
      <div className="field inline">
        <label htmlFor="health-hours">Period</label>
        <select id="health-hours" value={hours} onChange={(event) => setHours(Number(event.target.value))}>
          {hourChoices.map((choice) => <option key={choice} value={choice}>Last {choice === 24 ? '24 hours' : `${choice / 24} days`}</option>)}
        </select>
      </div>
      {status.data ? <StatusSummary status={status.data} /> : null}
      {health.error ? <Notice kind="error">Sync health: {health.error}</Notice> : null}
      {!health.data && !health.error ? <Loading what="sync health" /> : null}
      {health.data ? health.data.channels.map((channel) => {
        const labels = channel.hours.map((hour) => hour.hour);
        return (
          <section key={channel.channel} aria-labelledby={`channel-${channel.channel}`} className="card">
            <h2 id={`channel-${channel.channel}`}>{humanize(channel.channel)}</h2>
            <dl className="facts inline-facts">
              <div><dt>Lag now</dt><dd>{formatSeconds(channel.lag_seconds_now)}</dd></div>
              <div><dt>Waiting</dt><dd>{formatNumber(channel.pending)}</dd></div>
              <div><dt>Dead letters</dt><dd>{formatNumber(channel.dead)}</dd></div>
              <div><dt>Circuit</dt><dd>{circuitText(channel.circuit)}</dd></div>
            </dl>
            <div className="charts">
              <LineChart title={`${humanize(channel.channel)}: events in and out per hour`} description={`Webhooks received and processed, and messages delivered, per hour over the last ${hours} hours.`}
                labels={labels} axisLabel={hourLabel} format={formatNumber}
                series={[{ name: 'Received', values: channel.hours.map((hour) => hour.inbound_received) }, { name: 'Processed', values: channel.hours.map((hour) => hour.inbound_processed) }, { name: 'Delivered', values: channel.hours.map((hour) => hour.outbound_delivered) }]} />
              <BarChart title={`${humanize(channel.channel)}: retries and failures per hour`} description={`Delivery retries, dead letters and webhooks that failed, per hour over the last ${hours} hours.`}
                labels={labels} axisLabel={hourLabel} format={formatNumber}
                series={[{ name: 'Retried', values: channel.hours.map((hour) => hour.outbound_retried) }, { name: 'Dead', values: channel.hours.map((hour) => hour.outbound_dead) }, { name: 'Inbound failed', values: channel.hours.map((hour) => hour.inbound_failed) }]} />
            </div>
          </section>
        );
      }) : null}
      <DeadLetters onReplayed={() => { health.reload(); status.reload(); }} />
    </Page>
  );
}

function StatusSummary({ status }: { status: SyncStatus }) {
  // What settled is counted over the last 24 hours (settled_since); what waits or died, all of it.
  const settled = new Set(['processed', 'ignored', 'delivered']);
  const counts = (record: Record<string, number>) => Object.entries(record).map(([state, count]) => `${formatNumber(count)} ${state}${settled.has(state) ? ' in 24 h' : ''}`).join(', ') || 'none';
  return (
    <dl className="facts inline-facts">
      <div><dt>Inbox</dt><dd title={`Settled since ${formatDateTime(status.settled_since)}`}>{counts(status.inbox)}</dd></div>
      <div><dt>Outbox</dt><dd title={`Delivered since ${formatDateTime(status.settled_since)}`}>{counts(status.outbox)}</dd></div>
      <div><dt>Circuits not closed</dt><dd>{status.circuits.length === 0 ? 'None' : status.circuits.map((circuit) => `${circuit.circuit_key}: ${humanize(circuit.state)}${circuit.open_until ? ` until ${formatDateTime(circuit.open_until)}` : ''}`).join('; ')}</dd></div>
    </dl>
  );
}

/** Messages that used up their retries, each with its last error and a "Retry" that sends the same message again. */
function DeadLetters({ onReplayed }: { onReplayed(): void }) {
  const dead = useResource((signal) => getData<OutboxMessage[]>('/v1/outbox?status=dead', signal), []);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const retry = async (row: OutboxMessage) => {
    setBusy(true);
    setError(null);
    try {
      const answer = await request<{ data: { id: string; outcome: string }[] }>('/v1/outbox/replay', { method: 'POST', body: { id: row.id }, idempotencyKey: newActionId('replay') });
      setMessage(`${row.kind} to ${row.destination}: ${humanize(answer.data[0]?.outcome ?? 'requeued')}.`);
      dead.reload();
      onReplayed();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="dead-heading">
      <h2 id="dead-heading">Failed syncs</h2>
      <LiveRegion message={message} />
      {error ? <Notice kind="error" focus>{error}</Notice> : null}
      {dead.error ? <Notice kind="error">{dead.error}</Notice> : null}
      {dead.data && dead.data.length === 0 ? <p>No message is dead: everything was delivered or is still being tried.</p> : null}
      {dead.data && dead.data.length > 0 ? (
        <table>
          <thead><tr><th scope="col">Message</th><th scope="col">Channel</th><th scope="col">Error</th><th scope="col" className="number">Attempts</th><th scope="col">Created</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {dead.data.map((row) => (
              <tr key={row.id}>
                <th scope="row">{row.kind}<br /><code className="muted">{row.id}</code></th>
                <td>{row.destination}</td>
                <td className="error-text">{row.last_error ?? '—'}</td>
                <td className="number">{row.attempts}</td>
                <td>{formatDateTime(row.created_at)}</td>
                <td><button type="button" disabled={busy} onClick={() => void retry(row)} aria-label={`Retry ${row.kind} to ${row.destination}`}>Retry</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
