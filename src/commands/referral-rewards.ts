import type { Db, Queryable, Tx } from '../db/index.ts';
import { earnPoints, getReferral, findReferralOfFriend, listQualifiedReferrals, moveReferral, type Referral } from '../loyalty/index.ts';
import { getMerchant, type Merchant } from '../merchants/index.ts';
import { getOrder, type Order } from '../orders/index.ts';
import { assert } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';

const dayMs = 86_400_000;
const mergeHopsMax = 10;
/** Referrals settled per run of the scheduled job; the rest wait for the next run. */
export const referralSettlementBatchMax = 200;
export const firstOrderReturnedReason = 'first order returned';
const referrerGoneReason = 'the referrer is no longer a member';

/** The active profile an id names, following merges to the survivor; undefined when erased. */
export async function findActiveCustomerId(db: Queryable, merchantId: string, customerId: string): Promise<string | undefined> {
  let row = await db.selectFrom('customers').select(['id', 'state', 'merged_into']).where('merchant_id', '=', merchantId).where('id', '=', customerId).executeTakeFirst();
  for (let hops = 0; row && row.state === 'merged' && row.merged_into && hops < mergeHopsMax; hops += 1) {
    row = await db.selectFrom('customers').select(['id', 'state', 'merged_into']).where('merchant_id', '=', merchantId).where('id', '=', row.merged_into).executeTakeFirst();
  }
  return row?.state === 'active' ? row.id : undefined;
}

/**
 * The friend's first order starts the return window: she gets her reward at once, and the
 * referrer's payment waits until the window closes (placed + the program's pending days; at once
 * when the program has none). Moves the referral once; a second call does nothing.
 */
export async function startReferralReturnWindow(tx: Tx, merchant: Merchant, referral: Referral, order: Pick<Order, 'id' | 'placedAt' | 'orderNumber' | 'sourceRef'>): Promise<boolean> {
  const placedAtMs = Date.parse(order.placedAt);
  assert(Number.isFinite(placedAtMs), `order ${order.id} has a placed time`);
  const loyalty = merchant.settings.loyalty;
  const qualifiesAt = new Date(placedAtMs + loyalty.pendingDays * dayMs).toISOString();
  if (!(await moveReferral(tx, merchant.id, referral.id, 'pending', { state: 'awaiting_return_window', orderId: order.id, qualifiesAt }))) return false;
  const points = loyalty.referral.friendPoints;
  // No order id on the posting: a refund of the order takes back the order's own lots first, and
  // the reward is not the order's to lose (only the referrer's payment depends on the return).
  if (points > 0) {
    await earnPoints(tx, merchant.id, loyalty.baseTier, { customerId: referral.friendId, points, idempotencyKey: `referral:${referral.id}:friend`, memo: `Referral reward on first order ${order.orderNumber ?? order.sourceRef}` }, { pendingDays: 0, expiryMonths: loyalty.lotExpiryMonths, kind: 'bonus' });
  }
  return true;
}

/**
 * Called in the transaction of every new order: when the shopper was referred and her referral
 * still waits for a first order, this order is it. An order that arrives already cancelled does
 * not count.
 */
export async function applyReferralOnOrder(tx: Tx, merchant: Merchant, order: Order): Promise<void> {
  if (!order.customerId || order.status === 'cancelled') return;
  const referral = await findReferralOfFriend(tx, merchant.id, order.customerId);
  if (!referral || referral.state !== 'pending') return;
  await startReferralReturnWindow(tx, merchant, referral, order);
}

/** A first order cancelled or refunded in full no longer proves a new customer; a partial refund still does. */
function isReturned(order: Order): boolean {
  const units = order.lines.reduce((sum, line) => sum + line.quantity, 0);
  const returnedUnits = order.lines.reduce((sum, line) => sum + line.returnedQuantity, 0);
  return order.status === 'cancelled' || (order.totalMinor > 0 && order.refundedMinor >= order.totalMinor) || (units > 0 && returnedUnits >= units);
}

/** Settles one referral whose return window has closed: the referrer is paid once, or the referral is refused. */
async function settleReferral(tx: Tx, merchant: Merchant, referralId: string, now: string): Promise<boolean> {
  const referral = await getReferral(tx, merchant.id, referralId);
  if (referral.state !== 'awaiting_return_window' || referral.qualifiesAt === null || referral.qualifiesAt > now) return false;
  assert(referral.orderId, `referral ${referral.id} awaiting a return window names its order`);
  const order = await getOrder(tx, merchant.id, referral.orderId);
  if (isReturned(order)) return moveReferral(tx, merchant.id, referral.id, 'awaiting_return_window', { state: 'refused', reason: firstOrderReturnedReason, closed: true });
  const referrerId = await findActiveCustomerId(tx, merchant.id, referral.referrerId);
  if (!referrerId) return moveReferral(tx, merchant.id, referral.id, 'awaiting_return_window', { state: 'refused', reason: referrerGoneReason, closed: true });
  if (!(await moveReferral(tx, merchant.id, referral.id, 'awaiting_return_window', { state: 'paid', closed: true }))) return false;
  const loyalty = merchant.settings.loyalty;
  if (loyalty.referral.referrerPoints > 0) {
    await earnPoints(tx, merchant.id, loyalty.baseTier, { customerId: referrerId, points: loyalty.referral.referrerPoints, idempotencyKey: `referral:${referral.id}:referrer`, memo: `Referral paid: first order ${order.orderNumber ?? order.sourceRef} of a friend cleared its return window` }, { pendingDays: 0, expiryMonths: loyalty.lotExpiryMonths, kind: 'bonus' });
  }
  return true;
}

/**
 * The scheduled job: referrals whose friend's first order has cleared its return window pay the
 * referrer (or are refused when the order came back), in bounded batches, one transaction each.
 * Returns how many it settled.
 */
export async function payQualifiedReferrals(db: Db, now = nowIso()): Promise<number> {
  const due = await listQualifiedReferrals(db, now, referralSettlementBatchMax);
  const merchants = new Map<string, Merchant>();
  const failures: unknown[] = [];
  let settled = 0;
  for (const { merchantId, id } of due) {
    try {
      const merchant = merchants.get(merchantId) ?? await getMerchant(db, merchantId);
      merchants.set(merchantId, merchant);
      if (await db.transaction().execute((tx) => settleReferral(tx, merchant, id, now))) settled += 1;
    } catch (error) {
      failures.push(error);
    }
  }
  // A referral that cannot be settled (a bug) must not hold up the ones behind it in the batch;
  // the run still fails loudly, so the scheduler logs it.
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} of ${due.length} due referrals could not be settled (${settled} settled)`);
  return settled;
}
