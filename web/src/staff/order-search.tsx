import { useEffect, useState, type FormEvent } from 'react';
import { describeError, getData, query } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { formatDateTime, formatMoney, orderPlace, sourceName } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import type { OrderSummary } from '../types.ts';
import { Notice, Page } from '../ui/page.tsx';

function orderCount(count: number, searched: string): string {
  if (count === 0) return `No order matches “${searched}”.`;
  return count === 1 ? 'One order found.' : `${count} orders found.`;
}

/** Find the order a shopper brings back, whichever channel it came from: by number, email, phone or loyalty code. */
export default function OrderSearch() {
  const { locationName } = useConsole();
  const { search } = useLocation();
  const searched = search.get('q') ?? '';
  const [text, setText] = useState(searched);
  const [orders, setOrders] = useState<OrderSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setText(searched);
    if (!searched) {
      setOrders(null);
      return;
    }
    const controller = new AbortController();
    setError(null);
    getData<OrderSummary[]>(`/v1/orders${query({ q: searched })}`, controller.signal).then(setOrders, (failure: unknown) => {
      if (controller.signal.aborted) return;
      setError(describeError(failure));
      setOrders(null);
    });
    return () => controller.abort();
  }, [searched]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (text.trim()) navigate(`/staff/returns${query({ q: text.trim() })}`);
  };

  return (
    <Page title="Start a return" lead="Online or in-store: find the order by its number, her email, phone or loyalty code." focusHeading={false}>
      <form onSubmit={submit} className="inline-form" role="search" aria-label="Orders">
        <div className="field grow">
          <label htmlFor="order-query">Order number, email, phone or loyalty code</label>
          <input id="order-query" type="search" autoFocus autoComplete="off" spellCheck={false} value={text} onChange={(event) => setText(event.target.value)} />
        </div>
        <button type="submit" className="primary">Find orders</button>
      </form>
      <p role="status" className={orders ? '' : 'visually-hidden'}>{orders ? orderCount(orders.length, searched) : ''}</p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div>
        {orders && orders.length > 0 ? (
          <>
            <table>
              <thead><tr><th scope="col">Order</th><th scope="col">Where</th><th scope="col">Through</th><th scope="col">Placed</th><th scope="col" className="number">Total</th><th scope="col" className="number">Refunded</th></tr></thead>
              <tbody>
                {orders.map((order) => (
                  <tr key={order.id}>
                    <th scope="row"><Link to={`/staff/returns/${order.id}`} aria-label={`Return items from order ${order.order_number ?? order.id}`}>{order.order_number ?? order.id}</Link></th>
                    <td><span className={`badge ${order.channel === 'online' ? 'badge-online' : 'badge-store'}`}>{orderPlace(order, locationName)}</span></td>
                    <td>{sourceName(order.source)}</td>
                    <td>{formatDateTime(order.placed_at)}</td>
                    <td className="number">{formatMoney(order.total)}</td>
                    <td className="number">{order.refunded.amount_minor > 0 ? formatMoney(order.refunded) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </div>
    </Page>
  );
}
