import { createHash } from 'node:crypto';
import { announceCustomerChange, checkRewardLimits, exchangeOrder, priceAsCharged, recordPosSale, redeemOfflineReward, resolveEventCustomer, returnOrder, type PosSaleCommand, type ReturnOrderCommand, type SaleConflict } from '../../commands/index.ts';
import { findSurvivingCustomer } from '../../customers/index.ts';
import type { Db, Tx } from '../../db/index.ts';
import { findActiveReward, recordRewardHandover } from '../../loyalty/index.ts';
import type { Merchant } from '../../merchants/index.ts';
import { findOrderBySource, getOrder, type Order } from '../../orders/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { nowIso, toIso } from '../../shared/clock.ts';
import { emitMerchantEvent, raiseException } from '../../sync/index.ts';
import { findLoggedOfflineOp, logOfflineOp, type LoggedOfflineOp } from './offline-op-log.ts';
import { offlineCustomerClaim, orderOfflineOps, registerSaleRef, toChargedExchange, toChargedSale, toExchangeCommand, toPosSaleCommand, toReturnCommand } from './translate.ts';
import type { OfflineCustomer, OfflineExchangeOp, OfflineNote, OfflineOp, OfflineOpResult, OfflineRewardRedemptionOp, OfflineReturnOp, OfflineSaleOp, OfflineUpload } from './types.ts';

// Store-and-forward for registers that talk to Continuum directly (docs/pos-offline.md). A register
// that lost its connection keeps selling, taking returns and handing out rewards; when it is back it
// uploads what it did. Each operation is applied once, in the order it happened, in a transaction
// of its own, and answered with its outcome. What already happened is never refused: a conflict
// with what happened meanwhile (the last unit sold online, the same points spent at another
// register, a merge, a promotion's limit) is applied as it happened and raised for a person.

export interface OfflineUploadOutcome {
  registerId: string;
  /** One per operation, in the order they were applied (the order they happened). */
  results: OfflineOpResult[];
}

/** The return refusals a manager could override at the register; offline, the associate already decided. */
const OVERRIDABLE_RETURN_CODES: ReadonlySet<string> = new Set(['returns.window_closed', 'returns.final_sale']);

type ReturnConflict = { kind: 'return_outside_policy'; code: string; message: string };
type OfflineConflict = SaleConflict | ReturnConflict;

interface AppliedOp {
  result: Omit<OfflineOpResult, 'op_id' | 'type' | 'status' | 'occurred_at' | 'sequence' | 'conflicts' | 'notes'>;
  conflicts: OfflineConflict[];
  notes: OfflineNote[];
  /** What the exception for the operation is about: the order, or the customer of a redemption. */
  subject: string;
}

/**
 * Applies an offline register's upload: every operation once, oldest first. An operation already
 * applied (this upload sent twice, or an earlier upload that lost its answer) answers its first
 * result; one that fails writes nothing, is answered with its error and raised for a person, and
 * is tried again when uploaded again.
 */
export async function applyOfflineUpload(db: Db, merchant: Merchant, upload: OfflineUpload): Promise<OfflineUploadOutcome> {
  const results: OfflineOpResult[] = [];
  for (const op of orderOfflineOps(upload.ops)) results.push(await applyOfflineOpOnce(db, merchant, upload, op));
  return { registerId: upload.register_id, results };
}

/** sha256 of the operation as parsed (zod emits keys in the schema's order, so equal operations hash alike). */
function fingerprintOf(op: OfflineOp): string {
  return createHash('sha256').update(JSON.stringify(op)).digest('hex');
}

function resultBase(op: OfflineOp): Pick<OfflineOpResult, 'op_id' | 'type' | 'occurred_at' | 'sequence'> {
  return { op_id: op.op_id, type: op.type, occurred_at: toIso(op.occurred_at), sequence: op.sequence };
}

/** The first answer again; the same id with other contents is refused, and the first stands. */
function replayOf(logged: LoggedOfflineOp, fingerprint: string, op: OfflineOp): OfflineOpResult {
  if (logged.fingerprint === fingerprint) return { ...logged.result, status: 'replayed' };
  const error = new AppError('pos.op_id_reused', `Operation ${op.op_id} was uploaded before with other contents; the first one stands`, { op_id: op.op_id, first: { type: logged.result.type, occurred_at: logged.result.occurred_at } });
  return { ...resultBase(op), status: 'failed', conflicts: [], notes: [], error: { code: error.code, message: error.message, details: error.details } };
}

async function applyOfflineOpOnce(db: Db, merchant: Merchant, upload: OfflineUpload, op: OfflineOp): Promise<OfflineOpResult> {
  const fingerprint = fingerprintOf(op);
  try {
    return await db.transaction().execute(async (tx) => {
      const logged = await findLoggedOfflineOp(tx, merchant.id, upload.register_id, op.op_id);
      if (logged) return replayOf(logged, fingerprint, op);
      const applied = await applyOfflineOp(tx, merchant, upload, op);
      const result: OfflineOpResult = { ...resultBase(op), status: 'applied', ...applied.result, conflicts: applied.conflicts, notes: applied.notes };
      if (applied.conflicts.length > 0) await raiseOfflineConflict(tx, merchant.id, upload, op, applied.subject, { conflicts: applied.conflicts, ...applied.result });
      await logOfflineOp(tx, merchant.id, upload.register_id, op, fingerprint, result);
      return result;
    });
  } catch (error) {
    // The same operation uploaded twice at once: the other upload applied it first.
    const logged = await findLoggedOfflineOp(db, merchant.id, upload.register_id, op.op_id);
    if (logged) return replayOf(logged, fingerprint, op);
    if (!(error instanceof AppError)) throw error;
    const failure = { code: error.code, message: error.message, details: error.details };
    await raiseOfflineConflict(db, merchant.id, upload, op, op.op_id, { error: failure }, ':failed');
    return { ...resultBase(op), status: 'failed', conflicts: [], notes: [], error: failure };
  }
}

/** One `offline_conflict` per operation (and one per failure), raised once however often it is uploaded. */
async function raiseOfflineConflict(db: Db | Tx, merchantId: string, upload: OfflineUpload, op: OfflineOp, subject: string, details: Record<string, unknown>, keySuffix = ''): Promise<void> {
  await raiseException(db, merchantId, {
    kind: 'offline_conflict', dedupeKey: `offline:${upload.register_id}:${op.op_id}${keySuffix}`, subject,
    details: { register_id: upload.register_id, op_id: op.op_id, op_type: op.type, occurred_at: toIso(op.occurred_at), uploaded_at: nowIso(), location_id: op.location_id ?? upload.location_id, ...details },
  });
}

function applyOfflineOp(tx: Tx, merchant: Merchant, upload: OfflineUpload, op: OfflineOp): Promise<AppliedOp> {
  switch (op.type) {
    case 'sale':
      return applyOfflineSale(tx, merchant, upload, op);
    case 'return':
      return applyOfflineReturn(tx, merchant, upload, op);
    case 'exchange':
      return applyOfflineExchange(tx, merchant, upload, op);
    case 'reward_redemption':
      return applyOfflineRedemption(tx, merchant, upload, op);
  }
}

/**
 * The customer an operation names. A profile id the register found before it went offline may
 * have been merged since: the survivor takes the operation, and a note says so. A profile no longer
 * active (erased) takes nothing: the operation goes on without a customer.
 */
async function resolveOfflineCustomer(tx: Tx, merchant: Merchant, customer: OfflineCustomer | undefined, eventRef: string): Promise<{ customer: PosSaleCommand['customer']; customerId: string | null; notes: OfflineNote[] }> {
  if (!customer) return { customer: null, customerId: null, notes: [] };
  if (customer.customer_id) {
    const survivor = await findSurvivingCustomer(tx, merchant.id, customer.customer_id);
    if (survivor.state !== 'active') return { customer: null, customerId: null, notes: [{ kind: 'customer_not_active', named_customer_id: customer.customer_id, state: survivor.state }] };
    const notes: OfflineNote[] = survivor.mergedFrom.length > 0 ? [{ kind: 'customer_merged', named_customer_id: customer.customer_id, customer_id: survivor.customerId, merged_from: survivor.mergedFrom }] : [];
    return { customer: { customerId: survivor.customerId, ...offlineCustomerClaim(customer) }, customerId: survivor.customerId, notes };
  }
  const claim = offlineCustomerClaim(customer);
  return { customer: claim, customerId: await resolveEventCustomer(tx, merchant, claim, eventRef), notes: [] };
}

async function applyOfflineSale(tx: Tx, merchant: Merchant, upload: OfflineUpload, op: OfflineSaleOp): Promise<AppliedOp> {
  const who = await resolveOfflineCustomer(tx, merchant, op.customer, `pos:offline:${upload.register_id}:${op.op_id}`);
  // A claim without a profile id was resolved above; the sale takes the profile it resolved to.
  const customer = who.customerId ? { customerId: who.customerId } : null;
  const charged = await priceAsCharged(tx, merchant, toChargedSale(op));
  const sale = await recordPosSale(tx, merchant, toPosSaleCommand(upload, op, customer, charged));
  const notes = [...who.notes, ...(sale.created ? [] : [{ kind: 'already_recorded' as const, order_id: sale.order.id }])];
  return {
    result: { order_id: sale.order.id, customer_id: sale.order.customerId, points_earned: sale.pointsEarned, points_redeemed: sale.pointsRedeemed },
    conflicts: sale.conflicts ?? [], notes, subject: sale.order.id,
  };
}

async function findReturnedOrder(tx: Tx, merchantId: string, upload: OfflineUpload, op: OfflineReturnOp | OfflineExchangeOp): Promise<Order> {
  if (op.order_id) return getOrder(tx, merchantId, op.order_id);
  if (!op.sale) throw new AppError('returns.order_required', 'A return names the order (order_id) or the register sale (sale) it takes back', { field: 'order_id' });
  const order = await findOrderBySource(tx, merchantId, 'pos', registerSaleRef(upload, op.sale));
  if (!order) throw new AppError('orders.not_found', `No register sale ${op.sale.sale_id} of register ${op.sale.register_id ?? upload.register_id}`, { field: 'sale', sale_id: op.sale.sale_id });
  return order;
}

/**
 * A return taken offline: judged at the time it happened. A refusal a manager could override (the
 * window, a final-sale line) was the associate's call at the register: it is applied with the
 * override and raised. Anything else that cannot be returned (more than was bought) fails.
 */
async function applyOfflineReturn(tx: Tx, merchant: Merchant, upload: OfflineUpload, op: OfflineReturnOp): Promise<AppliedOp> {
  const order = await findReturnedOrder(tx, merchant.id, upload, op);
  const conflicts: OfflineConflict[] = [];
  let command: ReturnOrderCommand = toReturnCommand(upload, op, order, false);
  let returned;
  try {
    returned = await returnOrder(tx, merchant, command);
  } catch (error) {
    // returnOrder refuses before it writes anything (planReturn reads only), so the transaction goes on.
    if (!(error instanceof AppError && OVERRIDABLE_RETURN_CODES.has(error.code))) throw error;
    conflicts.push({ kind: 'return_outside_policy', code: error.code, message: error.message });
    command = toReturnCommand(upload, op, order, true);
    returned = await returnOrder(tx, merchant, command);
  }
  const notes: OfflineNote[] = returned.created ? [] : [{ kind: 'already_recorded', return_id: returned.returnId }];
  return { result: { order_id: order.id, return_id: returned.returnId, customer_id: order.customerId }, conflicts, notes, subject: order.id };
}

/**
 * An exchange made offline: the goods taken back by the same rules as an offline return (a refusal
 * a manager could override was the associate's call: applied with the override and raised), and
 * the new goods recorded as the register charged them, paid first by the returned goods' value and
 * carrying their points, as a live exchange. An empty shelf for the new goods is a conflict too.
 */
async function applyOfflineExchange(tx: Tx, merchant: Merchant, upload: OfflineUpload, op: OfflineExchangeOp): Promise<AppliedOp> {
  const order = await findReturnedOrder(tx, merchant.id, upload, op);
  const charged = await priceAsCharged(tx, merchant, toChargedExchange(op));
  const conflicts: OfflineConflict[] = [];
  let exchanged;
  try {
    exchanged = await exchangeOrder(tx, merchant, toExchangeCommand(upload, op, order, charged, false));
  } catch (error) {
    // The return is planned before anything is written (exchangeOrder plans, then records), so the transaction goes on.
    if (!(error instanceof AppError && OVERRIDABLE_RETURN_CODES.has(error.code))) throw error;
    conflicts.push({ kind: 'return_outside_policy', code: error.code, message: error.message });
    exchanged = await exchangeOrder(tx, merchant, toExchangeCommand(upload, op, order, charged, true));
  }
  conflicts.push(...exchanged.conflicts);
  const notes: OfflineNote[] = exchanged.created ? [] : [{ kind: 'already_recorded', order_id: exchanged.newOrder.id, return_id: exchanged.returnId }];
  return {
    result: { order_id: exchanged.newOrder.id, return_id: exchanged.returnId, customer_id: order.customerId, points_carried: exchanged.pointsCarried, difference_minor: exchanged.differenceMinor },
    conflicts, notes, subject: order.id,
  };
}

/**
 * A reward handed over at the register without a sale: its points are spent as for an offline
 * sale's reward (never refused; an overdraw or a limit passed is a conflict), and the handover is
 * kept so the reward's limits count it.
 */
async function applyOfflineRedemption(tx: Tx, merchant: Merchant, upload: OfflineUpload, op: OfflineRewardRedemptionOp): Promise<AppliedOp> {
  const who = await resolveOfflineCustomer(tx, merchant, op.customer, `pos:offline:${upload.register_id}:${op.op_id}`);
  if (!who.customerId) throw new AppError('loyalty.customer_required', 'Redeeming a reward needs a customer', { field: 'customer', notes: who.notes });
  const reward = await findActiveReward(tx, merchant.id, op.reward);
  const conflicts: OfflineConflict[] = await checkRewardLimits(tx, merchant.id, who.customerId, [{ reward, rewardCode: null }], true);
  const locationId = op.location_id ?? upload.location_id;
  await recordRewardHandover(tx, merchant.id, { customerId: who.customerId, rewardId: reward.id, locationId, registerId: upload.register_id, opId: op.op_id, handedOverAt: toIso(op.occurred_at) });
  const posting = { customerId: who.customerId, points: reward.pointsCost, idempotencyKey: `pos:${upload.register_id}:${op.op_id}:redeem`, memo: `Redeemed ${reward.name} at register ${upload.register_id} (offline)` };
  conflicts.push(...(await redeemOfflineReward(tx, merchant, reward, posting)));
  await emitMerchantEvent(tx, merchant.id, 'loyalty.reward_redeemed', { customer_id: who.customerId, reward: reward.code, points: reward.pointsCost, channel: 'store', location_id: locationId });
  await announceCustomerChange(tx, merchant.id, who.customerId);
  return { result: { customer_id: who.customerId, points_redeemed: reward.pointsCost }, conflicts, notes: who.notes, subject: who.customerId };
}
