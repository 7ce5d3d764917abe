import { useState } from 'react';
import { describeError, getData, newActionId, request, type Envelope } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { formatDate, formatDateTime, formatMinor, formatMoney, formatNumber, formatPoints, humanize, orderPlace, sourceName } from '../format.ts';
import { Link } from '../router.tsx';
import type { CustomerProfile as Profile, LoyaltyView, Reward, RewardCode } from '../types.ts';
import { Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

interface ProfileData {
  customer: Profile;
  loyalty: LoyaltyView;
  rewards: Reward[];
  rewardCodes: RewardCode[];
}

async function loadProfile(id: string, signal: AbortSignal): Promise<ProfileData> {
  const path = `/v1/customers/${encodeURIComponent(id)}`;
  const [customer, loyalty, rewards, rewardCodes] = await Promise.all([
    getData<Profile>(path, signal), getData<LoyaltyView>(`${path}/loyalty`, signal), getData<Reward[]>('/v1/rewards', signal), getData<RewardCode[]>(`${path}/reward-codes`, signal),
  ]);
  return { customer, loyalty, rewards, rewardCodes };
}

interface Redemption {
  reward_code: RewardCode;
  points_redeemed: number;
  loyalty: { available: number; pending: number; tier: string | null };
}

/** One shopper: tier, points and their expiry, rewards she can afford, and every purchase in every channel. */
export default function CustomerProfile({ params }: { params: Record<string, string> }) {
  const id = params['id'] ?? '';
  const profile = useResource((signal) => loadProfile(id, signal), [id]);
  if (!profile.data) {
    return <Page title="Customer">{profile.error ? <Notice kind="error">{profile.error}</Notice> : <Loading what="the customer" />}</Page>;
  }
  const { customer, loyalty, rewards, rewardCodes } = profile.data;
  return (
    <Page title={customer.name || 'Customer without a name'}>
      {customer.state === 'merged' && customer.merged_into ? (
        <Notice kind="info">This profile was merged. <Link to={`/staff/customers/${customer.merged_into}`}>Open the profile it was merged into</Link>.</Notice>
      ) : null}
      <div className="columns">
        <LoyaltySummary customer={customer} loyalty={loyalty} />
        <RewardsSection customerId={customer.id} available={loyalty.available} rewards={rewards} onRedeemed={profile.reload} />
      </div>
      <PointsLots loyalty={loyalty} />
      <div className="columns">
        <ContactSection customer={customer} loyalty={loyalty} />
        <RewardCodesSection codes={rewardCodes} />
      </div>
      <PurchaseHistory customer={customer} />
    </Page>
  );
}

function LoyaltySummary({ customer, loyalty }: { customer: Profile; loyalty: LoyaltyView }) {
  const { session } = useConsole();
  const tier = loyalty.tier;
  const next = tier?.next_tier ?? null;
  const asAmount = (value: number) => (tier?.metric === 'spend' ? formatMinor(value, session.merchant.currency) : formatNumber(value));
  return (
    <section className="card" aria-labelledby="loyalty-heading">
      <h2 id="loyalty-heading">Loyalty</h2>
      <dl className="facts">
        <div><dt>Tier</dt><dd>{tier?.name ?? 'No tier'}</dd></div>
        <div><dt>Points available</dt><dd className="big" data-testid="points-available">{formatPoints(loyalty.available)}</dd></div>
        <div><dt>Points pending</dt><dd>{formatPoints(loyalty.pending)}</dd></div>
        <div><dt>Loyalty code</dt><dd><code>{customer.loyalty_code ?? '—'}</code></dd></div>
      </dl>
      {tier && next ? (
        <div className="progress">
          <label htmlFor="tier-progress">Progress to {next.name}: {asAmount(next.threshold - next.remaining)} of {asAmount(next.threshold)} ({asAmount(next.remaining)} to go)</label>
          <progress id="tier-progress" max={next.threshold} value={Math.max(0, next.threshold - next.remaining)} />
        </div>
      ) : tier ? <p>{tier.name} is the highest tier.</p> : null}
    </section>
  );
}

function RewardsSection({ customerId, available, rewards, onRedeemed }: { customerId: string; available: number; rewards: Reward[]; onRedeemed(): void }) {
  const { session } = useConsole();
  const [busyReward, setBusyReward] = useState<string | null>(null);
  const [redeemed, setRedeemed] = useState<Redemption | null>(null);
  const [error, setError] = useState<string | null>(null);
  const affordable = rewards.filter((reward) => reward.active && reward.pointsCost <= available);
  const other = rewards.filter((reward) => reward.active && reward.pointsCost > available);

  const redeem = async (reward: Reward) => {
    setBusyReward(reward.id);
    setError(null);
    setRedeemed(null);
    try {
      const answer = await request<Envelope<Redemption>>(`/v1/customers/${encodeURIComponent(customerId)}/rewards/${encodeURIComponent(reward.id)}/redeem`, { method: 'POST', idempotencyKey: newActionId('redeem') });
      setRedeemed(answer.data);
      onRedeemed();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusyReward(null);
    }
  };

  const value = (reward: Reward) => {
    if (reward.amountOffMinor !== null) return `${formatMinor(reward.amountOffMinor, session.merchant.currency)} off`;
    if (reward.percentOffBps !== null) return `${reward.percentOffBps / 100} % off`;
    if (reward.freeSku) return `a free ${reward.freeSku}`;
    return humanize(reward.kind);
  };

  return (
    <section className="card" aria-labelledby="rewards-heading">
      <h2 id="rewards-heading">Rewards she can use</h2>
      {redeemed ? (
        <Notice kind="success" focus>
          <p><strong>Reward code <code className="reward-code" data-testid="reward-code">{redeemed.reward_code.code}</code></strong> — {redeemed.reward_code.reward.name}.</p>
          <p>Enter or scan it at the register for this sale. {formatPoints(redeemed.points_redeemed)} spent; {formatPoints(redeemed.loyalty.available)} left.</p>
        </Notice>
      ) : null}
      {error ? <Notice kind="error" focus>{error}</Notice> : null}
      {affordable.length === 0 ? <p>No reward is within her {formatPoints(available)} yet.</p> : (
        <ul className="plain-list">
          {affordable.map((reward) => (
            <li key={reward.id} className="reward">
              <span><strong>{reward.name}</strong> · {value(reward)} · {formatPoints(reward.pointsCost)}</span>
              <button type="button" onClick={() => void redeem(reward)} disabled={busyReward !== null} aria-describedby="rewards-heading">
                {busyReward === reward.id ? 'Redeeming…' : `Redeem ${reward.name} for this sale`}
              </button>
            </li>
          ))}
        </ul>
      )}
      {other.length > 0 ? <p className="muted">Not yet: {other.map((reward) => `${reward.name} (${formatPoints(reward.pointsCost)})`).join(', ')}.</p> : null}
    </section>
  );
}

function PointsLots({ loyalty }: { loyalty: LoyaltyView }) {
  const lots = loyalty.lots.filter((lot) => lot.remaining > 0);
  return (
    <section aria-labelledby="lots-heading">
      <h2 id="lots-heading">Points and when they expire</h2>
      {lots.length === 0 ? <p>No points held.</p> : (
        <table>
          <thead><tr><th scope="col">Earned</th><th scope="col" className="number">Points left</th><th scope="col">Status</th><th scope="col">Expires</th></tr></thead>
          <tbody>
            {lots.map((lot) => (
              <tr key={lot.id}>
                <th scope="row">{formatDate(lot.earned_at)}</th>
                <td className="number">{formatNumber(lot.remaining)} of {formatNumber(lot.points)}</td>
                <td>{lot.pending ? `Pending until ${formatDate(lot.available_at)}` : 'Available'}</td>
                <td>{lot.expires_at ? formatDate(lot.expires_at) : 'Never'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ContactSection({ customer, loyalty }: { customer: Profile; loyalty: LoyaltyView }) {
  const preferences = Object.entries(customer.preferences ?? {});
  return (
    <section className="card" aria-labelledby="contact-heading">
      <h2 id="contact-heading">Contact, memberships and preferences</h2>
      <dl className="facts">
        <div><dt>Email</dt><dd>{customer.emails.join(', ') || '—'}</dd></div>
        <div><dt>Phone</dt><dd>{customer.phones.join(', ') || '—'}</dd></div>
        <div><dt>Address</dt><dd>{customer.addresses[0] ? [customer.addresses[0].line1, customer.addresses[0].city, customer.addresses[0].region, customer.addresses[0].postal_code].filter(Boolean).join(', ') : '—'}</dd></div>
        <div><dt>Memberships</dt><dd>{loyalty.memberships.length === 0 ? 'None' : loyalty.memberships.map((membership) => `${membership.name} (${membership.kind}${membership.ends_at ? `, until ${formatDate(membership.ends_at)}` : ''})`).join('; ')}</dd></div>
        <div><dt>Marketing consent</dt><dd>{customer.consents.length === 0 ? 'Not given' : customer.consents.map((consent) => `${humanize(consent.topic)}: ${humanize(consent.state)}`).join('; ')}</dd></div>
        <div><dt>Preferences</dt><dd>{preferences.length === 0 ? 'None recorded' : preferences.map(([key, value]) => `${humanize(key)}: ${String(value)}`).join('; ')}</dd></div>
        <div><dt>Notes</dt><dd>{customer.note ?? 'None'}</dd></div>
        <div><dt>Customer since</dt><dd>{formatDate(customer.created_at)}</dd></div>
      </dl>
    </section>
  );
}

function RewardCodesSection({ codes }: { codes: RewardCode[] }) {
  return (
    <section className="card" aria-labelledby="codes-heading">
      <h2 id="codes-heading">Her reward codes</h2>
      {codes.length === 0 ? <p>None issued.</p> : (
        <table>
          <thead><tr><th scope="col">Code</th><th scope="col">Reward</th><th scope="col">State</th><th scope="col">Issued</th></tr></thead>
          <tbody>
            {codes.map((code) => (
              <tr key={code.id}><th scope="row"><code>{code.code}</code></th><td>{code.reward.name}</td><td>{humanize(code.state)}</td><td>{formatDateTime(code.created_at)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function PurchaseHistory({ customer }: { customer: Profile }) {
  const { locationName } = useConsole();
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">Purchases in every channel</h2>
      {customer.orders.length === 0 ? <p>No purchases yet.</p> : (
        <table data-testid="purchase-history">
          <thead>
            <tr><th scope="col">Order</th><th scope="col">Where</th><th scope="col">Through</th><th scope="col">Placed</th><th scope="col" className="number">Total</th><th scope="col" className="number">Refunded</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {customer.orders.map((order) => {
              const place = orderPlace(order, locationName);
              return (
                <tr key={order.id}>
                  <th scope="row">{order.order_number ?? order.id}</th>
                  <td><span className={`badge ${order.channel === 'online' ? 'badge-online' : 'badge-store'}`}>{place}</span></td>
                  <td>{sourceName(order.source)}</td>
                  <td>{formatDateTime(order.placed_at)}</td>
                  <td className="number">{formatMoney(order.total)}</td>
                  <td className="number">{order.refunded.amount_minor > 0 ? formatMoney(order.refunded) : '—'}</td>
                  <td><Link to={`/staff/returns/${order.id}`} aria-label={`Start a return for order ${order.order_number ?? order.id}`}>Start a return</Link></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
