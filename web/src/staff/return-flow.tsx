import { useState, type FormEvent } from 'react';
import { describeError, getData, newActionId, request, type Envelope } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { formatDateTime, formatMoney, formatPoints, humanize, orderPlace, sourceName } from '../format.ts';
import { Link } from '../router.tsx';
import type { Money, Order, OrderLine, ReturnPlan, ReturnRecord } from '../types.ts';
import { Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

interface LineChoice {
  quantity: number;
  damaged: boolean;
}

interface ReturnChoices {
  lines: Record<string, LineChoice>;
  locationId: string;
  refundMethod: 'original' | 'store_credit';
  reason: string;
  override: boolean;
}

function returnable(line: OrderLine): number {
  return Math.max(0, line.quantity - line.returned_quantity);
}

/** The request body both the preview and the return take. */
function returnBody(order: Order, choices: ReturnChoices, returnRef: string) {
  return {
    order_id: order.id, return_ref: returnRef, location_id: choices.locationId, refund_method: choices.refundMethod, override: choices.override,
    ...(choices.reason.trim() ? { reason: choices.reason.trim() } : {}),
    lines: Object.entries(choices.lines).filter(([, choice]) => choice.quantity > 0).map(([orderLineId, choice]) => ({ order_line_id: orderLineId, quantity: choice.quantity, disposition: choice.damaged ? 'damaged' : 'restock' })),
  };
}

/** A return of any order at this store: pick lines, preview the refund line by line, confirm, see the result. */
export default function ReturnFlow({ params }: { params: Record<string, string> }) {
  const orderId = params['orderId'] ?? '';
  const order = useResource((signal) => getData<Order>(`/v1/orders/${encodeURIComponent(orderId)}`, signal), [orderId]);
  if (!order.data) return <Page title="Return">{order.error ? <Notice kind="error">{order.error}</Notice> : <Loading what="the order" />}</Page>;
  return <ReturnForm order={order.data} />;
}

function ReturnForm({ order }: { order: Order }) {
  const { session, locations, locationName, isManager } = useConsole();
  const homeLocation = session.staff.home_location_id ?? locations.find((location) => location.kind === 'store')?.id ?? '';
  const [choices, setChoices] = useState<ReturnChoices>({ lines: {}, locationId: homeLocation, refundMethod: 'original', reason: '', override: false });
  // One return_ref for this screen: confirming twice (a double tap, a retry after a lost answer) takes one return.
  const [returnRef] = useState(() => newActionId('console-return'));
  const [preview, setPreview] = useState<ReturnPlan | null>(null);
  const [result, setResult] = useState<ReturnRecord | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const locationId = choices.locationId || homeLocation;
  const selected = Object.values(choices.lines).some((choice) => choice.quantity > 0);
  const title = `Return from order ${order.order_number ?? order.id}`;

  const change = (next: Partial<ReturnChoices>) => {
    setChoices((previous) => ({ ...previous, ...next }));
    setPreview(null);
    setError(null);
  };
  const changeLine = (lineId: string, next: Partial<LineChoice>) => {
    const previous = choices.lines[lineId] ?? { quantity: 0, damaged: false };
    change({ lines: { ...choices.lines, [lineId]: { ...previous, ...next } } });
  };

  const submitPreview = async (event: FormEvent) => {
    event.preventDefault();
    if (!selected) {
      setError('Choose at least one item to return: set its quantity.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      setPreview((await request<Envelope<ReturnPlan>>('/v1/returns/preview', { method: 'POST', body: returnBody(order, { ...choices, locationId }, returnRef) })).data);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult((await request<Envelope<ReturnRecord>>('/v1/returns', { method: 'POST', body: returnBody(order, { ...choices, locationId }, returnRef) })).data);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  if (result) return <ReturnResult order={order} result={result} title={title} />;

  return (
    <Page title={title} lead={`${orderPlace(order, locationName)} · ${sourceName(order.source)} · placed ${formatDateTime(order.placed_at)} · ${formatMoney(order.total)}`}>
      <form onSubmit={submitPreview} className="stack">
        <fieldset>
          <legend>1. What comes back</legend>
          <table>
            <thead><tr><th scope="col">Item</th><th scope="col" className="number">Paid each</th><th scope="col" className="number">Can return</th><th scope="col">Quantity</th><th scope="col">Condition</th></tr></thead>
            <tbody>
              {order.lines.map((line) => {
                const choice = choices.lines[line.id] ?? { quantity: 0, damaged: false };
                const most = returnable(line);
                return (
                  <tr key={line.id}>
                    <th scope="row">{line.title}<br /><span className="muted">{line.sku ?? 'no SKU'}</span></th>
                    <td className="number">{formatMoney(line.unit_price)}</td>
                    <td className="number">{most} of {line.quantity}</td>
                    <td>
                      <label className="visually-hidden" htmlFor={`quantity-${line.id}`}>Quantity of {line.title} to return</label>
                      <input id={`quantity-${line.id}`} className="quantity" type="number" inputMode="numeric" min={0} max={most} step={1} disabled={most === 0} value={choice.quantity}
                        onChange={(event) => changeLine(line.id, { quantity: Math.min(most, Math.max(0, Math.trunc(Number(event.target.value) || 0))) })} />
                    </td>
                    <td>
                      <label className="visually-hidden" htmlFor={`condition-${line.id}`}>Condition of {line.title}</label>
                      <select id={`condition-${line.id}`} value={choice.damaged ? 'damaged' : 'restock'} disabled={most === 0} onChange={(event) => changeLine(line.id, { damaged: event.target.value === 'damaged' })}>
                        <option value="restock">Resellable: restock</option>
                        <option value="damaged">Damaged: set aside</option>
                      </select>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </fieldset>
        <fieldset>
          <legend>2. Refund and restock</legend>
          <div className="radio-group" role="radiogroup" aria-label="Refund method">
            <label><input type="radio" name="refund-method" value="original" checked={choices.refundMethod === 'original'} onChange={() => change({ refundMethod: 'original' })} /> To the original payment</label>
            <label><input type="radio" name="refund-method" value="store_credit" checked={choices.refundMethod === 'store_credit'} onChange={() => change({ refundMethod: 'store_credit' })} /> As store credit</label>
          </div>
          <div className="field">
            <label htmlFor="return-location">Restock at (damaged items are set aside there)</label>
            <select id="return-location" value={locationId} onChange={(event) => change({ locationId: event.target.value })}>
              {locations.map((location) => <option key={location.id} value={location.id}>{location.name}{location.id === session.staff.home_location_id ? ' (this store)' : ''}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="return-reason">Reason (optional)</label>
            <input id="return-reason" type="text" maxLength={500} value={choices.reason} onChange={(event) => change({ reason: event.target.value })} />
          </div>
          {isManager ? (
            <label className="checkbox"><input type="checkbox" checked={choices.override} onChange={(event) => change({ override: event.target.checked })} /> Manager override: accept outside the return window or a final-sale item</label>
          ) : null}
        </fieldset>
        <div className="actions">
          <button type="submit" className={preview ? '' : 'primary'} disabled={busy || !selected}>{busy && !preview ? 'Computing…' : 'Preview the refund'}</button>
        </div>
        {error ? <Notice kind="error" focus>{error}</Notice> : null}
      </form>
      {preview ? <ReturnPreview preview={preview} busy={busy} onConfirm={() => void confirm()} /> : null}
    </Page>
  );
}

function ReturnPreview({ preview, busy, onConfirm }: { preview: ReturnPlan; busy: boolean; onConfirm(): void }) {
  const refundedBy = preview.refund_to.refunded_by;
  return (
    <section aria-labelledby="preview-heading" className="card">
      <Notice kind="info" focus>
        <h2 id="preview-heading">3. Refund preview: {formatMoney(preview.total)}</h2>
      </Notice>
      <table data-testid="refund-preview">
        <caption className="visually-hidden">The refund line by line: discounts (promotions and rewards) and tax allocated to each</caption>
        <thead>
          <tr><th scope="col">Item</th><th scope="col" className="number">Qty</th><th scope="col" className="number">Price</th><th scope="col" className="number">Discounts and rewards</th><th scope="col" className="number">Tax</th><th scope="col" className="number">Fee</th><th scope="col" className="number">Refund</th><th scope="col" className="number">Points reversed</th><th scope="col">Goes to</th></tr>
        </thead>
        <tbody>
          {preview.lines.map((line) => (
            <tr key={line.order_line_id}>
              <th scope="row">{line.title}</th>
              <td className="number">{line.quantity}</td>
              <td className="number">{formatMoney(line.gross)}</td>
              <td className="number">{negative(line.discount)}</td>
              <td className="number">{formatMoney(line.tax)}</td>
              <td className="number">{line.restocking_fee.amount_minor > 0 ? negative(line.restocking_fee) : '—'}</td>
              <td className="number"><strong>{formatMoney(line.refund)}</strong></td>
              <td className="number">{line.points_reversed > 0 ? `−${line.points_reversed}` : '—'}</td>
              <td>{line.disposition === 'damaged' ? `Damaged, set aside at ${line.location_name ?? 'the store'}` : `Restocked at ${line.location_name ?? 'the store'}`}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr><th scope="row">Merchandise</th><td colSpan={8} className="number">{formatMoney(preview.merchandise)}</td></tr>
          <tr><th scope="row">Discounts and rewards</th><td colSpan={8} className="number">{negative(preview.discount)}</td></tr>
          <tr><th scope="row">Tax</th><td colSpan={8} className="number">{formatMoney(preview.tax)}</td></tr>
          {preview.shipping.amount_minor > 0 ? <tr><th scope="row">Shipping</th><td colSpan={8} className="number">{formatMoney(preview.shipping)}</td></tr> : null}
          {preview.restocking_fee.amount_minor > 0 ? <tr><th scope="row">Restocking fee</th><td colSpan={8} className="number">{negative(preview.restocking_fee)}</td></tr> : null}
          <tr className="total"><th scope="row">Refund</th><td colSpan={8} className="number">{formatMoney(preview.total)}</td></tr>
        </tfoot>
      </table>
      <ul className="plain-list">
        {preview.refund_to.original_payment.amount_minor > 0 ? <li>{formatMoney(preview.refund_to.original_payment)} back to the original payment{refundedBy === 'register' || refundedBy === null ? ' (give it back at the register)' : `, through ${sourceName(refundedBy)}`}.</li> : null}
        {preview.refund_to.store_credit.amount_minor > 0 ? <li>{formatMoney(preview.refund_to.store_credit)} as store credit.</li> : null}
        <li>Points: {formatPoints(preview.points.reversed)} taken back{preview.points.restored > 0 ? `, ${formatPoints(preview.points.restored)} she redeemed given back` : ''}.</li>
        {preview.order_discounts.length > 0 ? <li>The order's discounts ({preview.order_discounts.map((discount) => discount.code ?? humanize(discount.kind)).join(', ')}) are spread over its lines.</li> : null}
      </ul>
      <div className="actions">
        <button type="button" className="primary" onClick={onConfirm} disabled={busy}>{busy ? 'Taking the return…' : `Confirm the return and refund ${formatMoney(preview.total)}`}</button>
      </div>
    </section>
  );
}

function negative(money: Money): string {
  return money.amount_minor > 0 ? `−${formatMoney(money)}` : formatMoney(money);
}

function ReturnResult({ order, result, title }: { order: Order; result: ReturnRecord; title: string }) {
  const { locationName } = useConsole();
  const points = result.lines.reduce((sum, line) => sum + line.points_reversed, 0);
  const channelRefund = result.channel_refund.state === 'not_needed' ? 'Give the money back at the register.' : `The refund goes back through ${sourceName(order.source)} (${humanize(result.channel_refund.state)}).`;
  return (
    <Page title={title}>
      <Notice kind="success" focus>
        <h2>Return recorded</h2>
        <p data-testid="return-result">Refund {formatMoney(result.total)}{result.store_credit.amount_minor > 0 ? `, of which ${formatMoney(result.store_credit)} as store credit` : ''}. {channelRefund} {formatPoints(points)} taken back.</p>
      </Notice>
      <table>
        <thead><tr><th scope="col">Item</th><th scope="col" className="number">Qty</th><th scope="col" className="number">Refund</th><th scope="col">Went to</th></tr></thead>
        <tbody>
          {result.lines.map((line) => (
            <tr key={line.order_line_id}>
              <th scope="row">{order.lines.find((orderLine) => orderLine.id === line.order_line_id)?.title ?? line.order_line_id}</th>
              <td className="number">{line.quantity}</td>
              <td className="number">{formatMoney(line.refund)}</td>
              <td>{humanize(line.went_to)}{line.location_id ? ` at ${locationName(line.location_id) ?? 'a location'}` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">Return {result.id}</p>
      <p className="actions">
        {order.customer_id ? <Link to={`/staff/customers/${order.customer_id}`}>Back to the customer</Link> : null}
        <Link to="/staff/returns">Start another return</Link>
      </p>
    </Page>
  );
}
