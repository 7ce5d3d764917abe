import { useState } from 'react';
import { describeError, getData, newActionId, query, request } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { formatDateTime, formatMinor, stateName } from '../format.ts';
import { Link } from '../router.tsx';
import type { CustomerProfile, Order, Pickup } from '../types.ts';
import { LiveRegion, Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

type PickupStep = 'ready' | 'picked-up' | 'cancel';

/** Handed-over orders listed at most (each row loads its order and customer). */
const handedOverShownMax = 20;

const stepNames: Record<PickupStep, { button: string; done: string }> = {
  ready: { button: 'Mark ready', done: 'is ready for pickup' },
  'picked-up': { button: 'Hand over', done: 'was handed over' },
  cancel: { button: 'Cancel', done: 'was cancelled; its items are back on sale' },
};

/** The store's pickup queue: orders to prepare, ready on the shelf, and handed over today. */
export default function PickupQueue() {
  const { session, locations } = useConsole();
  const stores = locations.filter((location) => location.kind === 'store');
  const [locationId, setLocationId] = useState(session.staff.home_location_id ?? '');
  const activeLocation = locationId || stores[0]?.id || '';
  const pickups = useResource((signal) => getData<Pickup[]>(`/v1/pickups${query({ location_id: activeLocation })}`, signal), [activeLocation]);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const act = async (pickup: Pickup, step: PickupStep) => {
    setBusy(pickup.id);
    setError(null);
    try {
      await request(`/v1/pickups/${encodeURIComponent(pickup.id)}/${step}`, { method: 'POST', idempotencyKey: newActionId(`pickup-${step}`) });
      setMessage(`Order ${pickup.order_number ?? pickup.order_id} ${stepNames[step].done}.`);
      pickups.reload();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(null);
    }
  };

  const all = pickups.data ?? [];
  const groups: { state: Pickup['state']; title: string; steps: PickupStep[] }[] = [
    { state: 'placed', title: 'To prepare', steps: ['ready', 'cancel'] },
    { state: 'ready', title: 'Ready for pickup', steps: ['picked-up', 'cancel'] },
    { state: 'picked_up', title: 'Handed over', steps: [] },
  ];

  return (
    <Page title="Pickup queue">
      {stores.length > 1 ? (
        <div className="field inline">
          <label htmlFor="pickup-location">Store</label>
          <select id="pickup-location" value={activeLocation} onChange={(event) => setLocationId(event.target.value)}>
            {stores.map((store) => <option key={store.id} value={store.id}>{store.name}</option>)}
          </select>
        </div>
      ) : null}
      <LiveRegion message={message} />
      {error ? <Notice kind="error" focus>{error}</Notice> : null}
      {pickups.error ? <Notice kind="error">{pickups.error}</Notice> : null}
      {!pickups.data && !pickups.error ? <Loading what="the pickup queue" /> : null}
      {pickups.data ? groups.map((group) => {
        // Handed over: the most recent few, as a receipt of the day's work, not a history.
        const matching = all.filter((pickup) => pickup.state === group.state);
        const rows = group.state === 'picked_up' ? matching.sort((a, b) => (b.picked_up_at ?? '').localeCompare(a.picked_up_at ?? '')).slice(0, handedOverShownMax) : matching;
        const headingId = `pickups-${group.state}`;
        return (
          <section key={group.state} aria-labelledby={headingId}>
            <h2 id={headingId}>{group.title} <span className="count">({matching.length})</span></h2>
            {rows.length === 0 ? <p className="muted">None.</p> : (
              <table data-testid={headingId}>
                <thead><tr><th scope="col">Order</th><th scope="col">Customer and items</th><th scope="col">Placed</th><th scope="col" className="number">Total</th><th scope="col">{group.steps.length > 0 ? 'Actions' : 'When'}</th></tr></thead>
                <tbody>
                  {rows.map((pickup) => (
                    <tr key={pickup.id}>
                      <th scope="row">{pickup.order_number ?? pickup.order_id}</th>
                      <td><PickupContents pickup={pickup} /></td>
                      <td>{formatDateTime(pickup.created_at)}{pickup.expires_at && group.state === 'ready' ? <><br /><span className="muted">held until {formatDateTime(pickup.expires_at)}</span></> : null}</td>
                      <td className="number">{formatMinor(pickup.total_minor, pickup.currency)}</td>
                      <td>
                        {group.steps.length === 0 ? formatDateTime(pickup.picked_up_at) : (
                          <div className="button-row">
                            {group.steps.map((step) => (
                              <button key={step} type="button" className={step === 'cancel' ? 'quiet' : ''} disabled={busy !== null} onClick={() => void act(pickup, step)} aria-label={`${stepNames[step].button}: order ${pickup.order_number ?? pickup.order_id}`}>
                                {stepNames[step].button}
                              </button>
                            ))}
                          </div>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        );
      }) : null}
      <p className="muted">States: {['placed', 'ready', 'picked_up'].map(stateName).join(' → ')}.</p>
    </Page>
  );
}

/** Who collects it and what to put in the bag (the queue lists only the order). */
function PickupContents({ pickup }: { pickup: Pickup }) {
  const contents = useResource(async (signal) => {
    const order = await getData<Order>(`/v1/orders/${encodeURIComponent(pickup.order_id)}`, signal);
    const customer = order.customer_id ? await getData<CustomerProfile>(`/v1/customers/${encodeURIComponent(order.customer_id)}`, signal) : null;
    return { order, customer };
  }, [pickup.order_id]);
  if (!contents.data) return <span className="muted">{contents.error ?? 'Loading…'}</span>;
  const { order, customer } = contents.data;
  return (
    <>
      {customer ? <Link to={`/staff/customers/${customer.id}`}>{customer.name || 'No name'}</Link> : <span className="muted">No customer</span>}
      <ul className="plain-list small">
        {order.lines.map((line) => <li key={line.id}>{line.quantity} × {line.title}</li>)}
      </ul>
    </>
  );
}
