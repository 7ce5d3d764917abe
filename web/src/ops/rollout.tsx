import { useEffect, useState } from 'react';
import { describeError, getData, request } from '../api.ts';
import { workflowNames, type Location, type WorkflowName } from '../types.ts';
import { LiveRegion, Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

const workflowTitles: Record<WorkflowName, { title: string; help: string }> = {
  loyalty_in_store: { title: 'Loyalty in store', help: 'Associates look shoppers up and redeem rewards at the register' },
  pickup: { title: 'Store pickup', help: 'Online orders can be collected here' },
  cross_channel_returns: { title: 'Returns from any channel', help: 'Online orders can be returned here' },
  stock_push: { title: 'Stock to channels', help: "This location's stock is pushed to Shopify and Square" },
};

/** Which workflows each location runs: switched on store by store during a rollout. */
export default function Rollout() {
  const loaded = useResource((signal) => getData<Location[]>('/v1/locations', signal), []);
  const [locations, setLocations] = useState<Location[]>([]);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  useEffect(() => {
    if (loaded.data) setLocations(loaded.data);
  }, [loaded.data]);

  const toggle = async (location: Location, workflow: WorkflowName, on: boolean) => {
    setBusy(`${location.id}:${workflow}`);
    setError(null);
    try {
      const answer = await request<{ data: Location }>(`/v1/locations/${encodeURIComponent(location.id)}/workflows`, { method: 'PATCH', body: { [workflow]: on } });
      const workflows = answer.data?.workflows ?? { ...location.workflows, [workflow]: on };
      setLocations((previous) => previous.map((candidate) => (candidate.id === location.id ? { ...candidate, workflows } : candidate)));
      setMessage(`${workflowTitles[workflow].title} is ${on ? 'on' : 'off'} at ${location.name}.`);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Page title="Rollout" lead="Switch each workflow on store by store.">
      <LiveRegion message={message} />
      {error ? <Notice kind="error" focus>{error}</Notice> : null}
      {loaded.error ? <Notice kind="error">{loaded.error}</Notice> : null}
      {!loaded.data && !loaded.error ? <Loading what="locations" /> : null}
      {locations.length > 0 ? (
        <table className="switches">
          <thead>
            <tr><th scope="col">Location</th>{workflowNames.map((workflow) => <th scope="col" key={workflow}>{workflowTitles[workflow].title}</th>)}</tr>
          </thead>
          <tbody>
            {locations.map((location) => (
              <tr key={location.id}>
                <th scope="row">{location.name}<br /><span className="muted">{location.kind === 'store' ? 'Store' : 'Warehouse'}</span></th>
                {workflowNames.map((workflow) => {
                  const on = location.workflows?.[workflow] ?? false;
                  const id = `switch-${location.id}-${workflow}`;
                  return (
                    <td key={workflow}>
                      <label className="switch" htmlFor={id} title={workflowTitles[workflow].help}>
                        <input id={id} type="checkbox" role="switch" checked={on} disabled={busy !== null || location.workflows === undefined} onChange={(event) => void toggle(location, workflow, event.target.checked)} />
                        <span className="visually-hidden">{workflowTitles[workflow].title} at {location.name}</span>
                        <span aria-hidden="true">{on ? 'On' : 'Off'}</span>
                      </label>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {locations.length > 0 && locations.every((location) => location.workflows === undefined) ? <Notice kind="info">This engine does not report workflows per location yet.</Notice> : null}
    </Page>
  );
}
