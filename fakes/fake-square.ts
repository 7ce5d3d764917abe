/**
 * A fake Square API server for tests and the demo: node:http on 127.0.0.1, an ephemeral port, and
 * only the endpoints Continuum's client calls. It follows shared/reference/protocols.md section C and
 * Square's API reference:
 *
 * - RetrieveOrder `GET /v2/orders/{order_id}` → `{ order }`:
 *   https://developer.squareup.com/reference/square/orders-api/retrieve-order
 * - RetrieveCustomer `GET /v2/customers/{customer_id}` → `{ customer }`:
 *   https://developer.squareup.com/reference/square/customers-api/retrieve-customer
 * - BatchChangeInventory `POST /v2/inventory/changes/batch-create` (protocols.md C7): required
 *   `idempotency_key`, at most 100 changes, quantities as decimal strings, answers `counts[]`:
 *   https://developer.squareup.com/reference/square/inventory/batch-change-inventory
 * - BatchRetrieveInventoryCounts `POST /v2/inventory/counts/batch-retrieve`:
 *   https://developer.squareup.com/reference/square/inventory-api/batch-retrieve-inventory-counts
 * - BatchRetrieveInventoryChanges `POST /v2/inventory/changes/batch-retrieve`: filters
 *   `catalog_object_ids`, `location_ids`, `types` (default PHYSICAL_COUNT and ADJUSTMENT; TRANSFER is
 *   "not supported as a filter"), `updated_after`/`updated_before` against each change's `created_at`;
 *   sorted by `occurred_at`, oldest first; `cursor` pagination, `limit` 1 to 1000:
 *   https://developer.squareup.com/reference/square/inventory-api/batch-retrieve-inventory-changes
 * - RefundPayment `POST /v2/refunds`: `idempotency_key` (at most 45 characters), `payment_id`,
 *   `amount_money` (at most the payment's total less its refunds), optional `reason`; answers
 *   `{ refund }`, a PaymentRefund with status PENDING; an amount over what is left answers 400
 *   `REFUND_AMOUNT_INVALID` in category `REFUND_ERROR`:
 *   https://developer.squareup.com/reference/square/refunds-api/refund-payment,
 *   https://developer.squareup.com/reference/square/objects/PaymentRefund,
 *   https://developer.squareup.com/forums/t/refund-amount-invalid-error/9890 (the error as Square sends it).
 *   Payments are those the test gave (`setPayment`) or the tenders with a `payment_id` of the orders it
 *   gave, all COMPLETED. The fake's refund keeps the payment's `order_id`; whether Square names a
 *   return order there instead was not retrieved. A refund stays PENDING until `completeRefund`.
 * - Idempotency (protocols.md C6): the same key with the same request returns the original response;
 *   the same key with another request is an error: https://developer.squareup.com/docs/working-with-apis/idempotency
 * - Rate limits (protocols.md C8): HTTP 429, `category: RATE_LIMIT_ERROR`, `code: RATE_LIMITED`:
 *   https://developer.squareup.com/reference/square/objects/ErrorCategory. Square documents no
 *   `Retry-After`; the fake sends one only when a test asks (`rateLimitNext(n, { retryAfterSeconds })`).
 * - BatchChangeInventory changes the counts and answers them; it sends no notification by itself:
 *   a test delivers `countUpdatedNotification` when it wants Square's `inventory.count.updated`.
 * - Errors are `{ errors: [{ category, code, detail }] }`:
 *   https://developer.squareup.com/docs/build-basics/handling-errors
 *
 * Where the fake departs from Square or invents, it says so: it requires `Square-Version` (Square
 * falls back to the application's pinned version; the fake is stricter so the client is proven to
 * pin one); `IDEMPOTENCY_KEY_REUSED` is the believed, unverified code (protocols.md C6); the 5xx
 * bodies are invented; quantities are whole numbers only (Square allows up to 5 decimals); changes
 * are applied in `occurred_at` order and a physical count older than the last one held for its item,
 * location and state is ignored, a simplification of Square's timeline. The change log keeps every
 * change applied (BatchChangeInventory, `setCount`, `recordChange`, `recordRegisterSale`) with an id
 * `FAKE-CHANGE-n`; Square's ids look different. BatchRetrieveInventoryChanges' default `limit` is not
 * documented (the fake uses 100), and its `states` filter, whose meaning for adjustments the reference
 * leaves open, is refused rather than guessed.
 * Test code may rely on these; production code must not.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, delay, isRecord, listen, readBody, sendJson, stableStringify } from './fake-server-kit.ts';

export interface FakeSquareOptions {
  /** The access token the fake accepts as `Authorization: Bearer TOKEN`. */
  token?: string;
}

export type FakeSquareOutcome = 'executed' | 'replayed' | 'rate_limited' | 'failed' | 'unauthorized' | 'rejected' | 'not_found';

export interface FakeSquareRequest {
  method: string;
  path: string;
  squareVersion: string | null;
  idempotencyKey: string | null;
  status: number;
  outcome: FakeSquareOutcome;
}

export interface SquareMoneyJson {
  amount: number;
  currency: string;
}

/** A Square Order as RetrieveOrder returns it; the fake stores whatever the test gives it. */
export type SquareOrderJson = Record<string, unknown> & { id: string };
export type SquareCustomerJson = Record<string, unknown> & { id: string };

/** An InventoryChange as Square returns it: `{ type, physical_count | adjustment }`. */
export type SquareInventoryChangeJson = { type: 'PHYSICAL_COUNT' | 'ADJUSTMENT' } & Record<string, unknown>;

export type FakeInventoryChangeInput = {
  catalog_object_id: string;
  location_id: string;
  quantity: number;
  /** Default now. */
  occurred_at?: string;
  /** When Square received it; default now. A test may set it to place the change in time. */
  created_at?: string;
  reference_id?: string;
} & ({ type: 'PHYSICAL_COUNT'; state?: string } | { type: 'ADJUSTMENT'; from_state: string; to_state: string });

/** A Payment as the fake holds it (https://developer.squareup.com/reference/square/objects/Payment). */
export interface SquarePaymentJson {
  id: string;
  status: string;
  order_id?: string;
  location_id?: string;
  amount_money: SquareMoneyJson;
}

/** A PaymentRefund as RefundPayment answers it and `refund.*` notifications carry it. */
export interface SquareRefundJson {
  id: string;
  status: 'PENDING' | 'COMPLETED' | 'REJECTED' | 'FAILED';
  amount_money: SquareMoneyJson;
  payment_id: string;
  order_id?: string;
  location_id?: string;
  reason?: string;
  created_at: string;
  updated_at: string;
}

export interface FakeSquare {
  /** The API base URL, `http://127.0.0.1:<port>`; paths start with `/v2/`. */
  url: string;
  token: string;
  /** Every request received, in order, including failed, rate-limited and unauthorized ones. */
  requests: FakeSquareRequest[];
  setOrder(order: SquareOrderJson): void;
  setCustomer(customer: SquareCustomerJson): void;
  /** A payment RefundPayment can refund; orders given with tenders naming a `payment_id` add theirs. */
  setPayment(payment: SquarePaymentJson): void;
  /** Every refund made, oldest first, as Square holds it now. */
  refunds(): SquareRefundJson[];
  /** Square finishing a refund: COMPLETED (the money reached the buyer), or REJECTED / FAILED. */
  completeRefund(refundId: string, status?: 'COMPLETED' | 'REJECTED' | 'FAILED'): SquareRefundJson;
  /** A `refund.created` / `refund.updated` notification (protocols.md C4) carrying the refund as the fake holds it. */
  refundNotification(input: { merchantId: string; eventId: string; refundId: string; type: 'refund.created' | 'refund.updated' }): Record<string, unknown>;
  /** Sets the count of a catalog object (item variation) at a location, IN_STOCK by default: a physical count in the change log. */
  setCount(catalogObjectId: string, locationId: string, quantity: number, state?: string): void;
  /**
   * A change made in Square (a count in the Dashboard, damage written off, a sale at the register):
   * applied to the counts and appended to the change log, as BatchChangeInventory would. Returns the
   * InventoryChange as BatchRetrieveInventoryChanges answers it. A physical count older than the last
   * one is refused (the fake would ignore it).
   */
  recordChange(change: FakeInventoryChangeInput): SquareInventoryChangeJson;
  /**
   * A sale at the register: the order (RetrieveOrder finds it) and one ADJUSTMENT IN_STOCK → SOLD per
   * line with a catalog object. The payment and inventory notifications are the test's to deliver.
   */
  recordRegisterSale(order: SquareOrderJson): SquareInventoryChangeJson[];
  /** The change log, oldest first. */
  changes(): SquareInventoryChangeJson[];
  /**
   * An `inventory.count.updated` notification (protocols.md C4) with the counts held for these items at
   * this location, in every state held (a state change sends two counts).
   */
  countUpdatedNotification(input: { merchantId: string; eventId: string; catalogObjectIds: string[]; locationId: string }): Record<string, unknown>;
  count(catalogObjectId: string, locationId: string, state?: string): number;
  /** The next `count` requests (to `only.path`, when given) answer `status` (500 or 503) without being executed. */
  failNext(count: number, status?: number, only?: { path?: string }): void;
  /**
   * The next `count` requests (to `path`, when given) answer 429 RATE_LIMITED without being executed,
   * with a `Retry-After` of `retryAfterSeconds` when given. Square does not document that header
   * (protocols.md C8); the knob proves the client reads it if Square ever sends it.
   */
  rateLimitNext(count: number, options?: { path?: string; retryAfterSeconds?: number }): void;
  /** The next `count` requests are delayed by `delayMs` before being handled (and still executed). */
  slowNext(count: number, delayMs: number): void;
  close(): Promise<void>;
}

const DEFAULT_TOKEN = 'EAAA_TEST_ONLY_fake_square_token';
const REQUEST_BODY_BYTES_MAX = 1_000_000;
/** protocols.md C7: a BatchChangeInventory request holds at most 100 changes. */
const INVENTORY_CHANGES_MAX = 100;
/** protocols.md C6 believes 128 for BatchChangeInventory [unverified]. */
const IDEMPOTENCY_KEY_LENGTH_MAX = 128;
/** RefundPaymentRequest: "Keys are limited to a max of 45 characters". */
const REFUND_IDEMPOTENCY_KEY_LENGTH_MAX = 45;
/** Refunds that hold back money of their payment: all but those Square gave up on. */
const UNREFUNDED_STATUSES = new Set(['REJECTED', 'FAILED']);
const RETRIEVE_COUNTS_LIMIT_DEFAULT = 100;
const RETRIEVE_COUNTS_LIMIT_MAX = 1000;
/** BatchRetrieveInventoryChanges: `limit` 1 to 1000; the default is not documented, the fake's is 100. */
const RETRIEVE_CHANGES_LIMIT_DEFAULT = 100;
const RETRIEVE_CHANGES_LIMIT_MAX = 1000;
const RETRIEVABLE_CHANGE_TYPES = new Set(['PHYSICAL_COUNT', 'ADJUSTMENT']);
const SQUARE_VERSION_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const WHOLE_QUANTITY_PATTERN = /^-?\d+$/;
const INVENTORY_STATES = new Set(['IN_STOCK', 'SOLD', 'RETURNED_BY_CUSTOMER', 'RESERVED_FOR_SALE', 'SOLD_ONLINE', 'ORDERED_FROM_VENDOR', 'RECEIVED_FROM_VENDOR', 'IN_TRANSIT_TO', 'NONE', 'WASTE', 'UNLINKED_RETURN', 'COMPOSED', 'DECOMPOSED', 'SUPPORTED_BY_NEWER_VERSION', 'IN_TRANSIT']);

interface SquareErrorJson {
  category: string;
  code: string;
  detail?: string;
  field?: string;
}

interface HeldCount {
  catalogObjectId: string;
  locationId: string;
  state: string;
  quantity: number;
  calculatedAt: string;
  /** The occurred_at of the last physical count applied, to ignore older ones. */
  lastPhysicalCountAt: string | null;
}

interface FakeState {
  orders: Map<string, SquareOrderJson>;
  customers: Map<string, SquareCustomerJson>;
  payments: Map<string, SquarePaymentJson>;
  refunds: Map<string, SquareRefundJson>;
  counts: Map<string, HeldCount>;
  idempotentResponses: Map<string, { fingerprint: string; reply: Reply }>;
  sequence: number;
  /** Every change applied, in the order applied. */
  changeLog: LoggedChange[];
}

interface LoggedChange {
  type: 'PHYSICAL_COUNT' | 'ADJUSTMENT';
  catalogObjectId: string;
  locationId: string;
  occurredAt: string;
  createdAt: string;
  sequence: number;
  json: SquareInventoryChangeJson;
}

interface Injections {
  failures: { count: number; status: number; path: string | null };
  rateLimits: { count: number; path: string | null; retryAfterSeconds: number | null };
  delays: { count: number; delayMs: number };
}

interface Reply {
  status: number;
  body: unknown;
  outcome: FakeSquareOutcome;
  headers?: Record<string, string>;
}

interface HandlerContext {
  token: string;
  state: FakeState;
  injections: Injections;
  requests: FakeSquareRequest[];
}

export async function startFakeSquare(options: FakeSquareOptions = {}): Promise<FakeSquare> {
  const token = options.token ?? DEFAULT_TOKEN;
  const state: FakeState = { orders: new Map(), customers: new Map(), payments: new Map(), refunds: new Map(), counts: new Map(), idempotentResponses: new Map(), sequence: 0, changeLog: [] };
  const injections: Injections = { failures: { count: 0, status: 500, path: null }, rateLimits: { count: 0, path: null, retryAfterSeconds: null }, delays: { count: 0, delayMs: 0 } };
  const requests: FakeSquareRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const context: HandlerContext = { token, state, injections, requests };

  const server = createServer((request, response) => {
    void handleHttpRequest(context, request, response, timers).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { errors: [{ category: 'API_ERROR', code: 'INTERNAL_SERVER_ERROR', detail: String(error) }] });
    });
  });
  const port = await listen(server);

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    setOrder: (order) => storeOrder(state, order),
    setCustomer: (customer) => {
      state.customers.set(customer.id, structuredClone(customer));
    },
    setPayment: (payment) => {
      state.payments.set(payment.id, structuredClone(payment));
    },
    refunds: () => [...state.refunds.values()].map((refund) => structuredClone(refund)),
    completeRefund: (refundId, status = 'COMPLETED') => {
      const refund = state.refunds.get(refundId);
      if (refund === undefined) throw new Error(`fake Square: no refund ${refundId}`);
      refund.status = status;
      refund.updated_at = new Date().toISOString();
      return structuredClone(refund);
    },
    refundNotification: ({ merchantId, eventId, refundId, type }) => {
      const refund = state.refunds.get(refundId);
      if (refund === undefined) throw new Error(`fake Square: no refund ${refundId}`);
      return { merchant_id: merchantId, type, event_id: eventId, created_at: new Date().toISOString(), data: { type: 'refund', id: refundId, object: { refund: structuredClone(refund) } } };
    },
    setCount: (catalogObjectId, locationId, quantity, countState = 'IN_STOCK') => {
      // A count set in the Dashboard is a physical count in Square's log; it is recorded even when unchanged.
      recordTestChange(state, { type: 'PHYSICAL_COUNT', catalog_object_id: catalogObjectId, location_id: locationId, quantity, state: countState }, false);
    },
    recordChange: (change) => recordTestChange(state, change, false),
    recordRegisterSale: (order) => {
      storeOrder(state, order);
      const lines = Array.isArray(order['line_items']) ? (order['line_items'] as Record<string, unknown>[]) : [];
      const locationId = String(order['location_id']);
      return lines
        .filter((line) => typeof line['catalog_object_id'] === 'string')
        .map((line) => recordTestChange(state, { type: 'ADJUSTMENT', from_state: 'IN_STOCK', to_state: 'SOLD', catalog_object_id: String(line['catalog_object_id']), location_id: locationId, quantity: Number(line['quantity']) }, false));
    },
    changes: () => state.changeLog.map((logged) => structuredClone(logged.json)),
    countUpdatedNotification: ({ merchantId, eventId, catalogObjectIds, locationId }) => {
      const counts = [...state.counts.values()].filter((held) => held.locationId === locationId && catalogObjectIds.includes(held.catalogObjectId)).map(countJson);
      return { merchant_id: merchantId, type: 'inventory.count.updated', event_id: eventId, created_at: new Date().toISOString(), data: { type: 'inventory', id: eventId, object: { inventory_counts: counts } } };
    },
    count: (catalogObjectId, locationId, countState = 'IN_STOCK') => state.counts.get(countKey(catalogObjectId, locationId, countState))?.quantity ?? 0,
    failNext: (count, status = 500, only = {}) => {
      injections.failures = { count, status, path: only.path ?? null };
    },
    rateLimitNext: (count, options = {}) => {
      injections.rateLimits = { count, path: options.path ?? null, retryAfterSeconds: options.retryAfterSeconds ?? null };
    },
    slowNext: (count, delayMs) => {
      injections.delays = { count, delayMs };
    },
    close: () => closeServer(server, timers),
  };
}

async function handleHttpRequest(context: HandlerContext, request: IncomingMessage, response: ServerResponse, timers: Set<NodeJS.Timeout>): Promise<void> {
  const bodyText = await readBody(request, REQUEST_BODY_BYTES_MAX);
  const { delays } = context.injections;
  if (delays.count > 0) {
    delays.count -= 1;
    await delay(delays.delayMs, timers);
  }
  const path = new URL(request.url ?? '/', 'http://fake').pathname;
  const record: FakeSquareRequest = { method: request.method ?? 'GET', path, squareVersion: headerOf(request, 'square-version'), idempotencyKey: null, status: 0, outcome: 'rejected' };
  context.requests.push(record);
  const reply = decideReply(context, request, path, bodyText, record);
  record.status = reply.status;
  record.outcome = reply.outcome;
  if (!response.destroyed) {
    for (const [name, value] of Object.entries(reply.headers ?? {})) response.setHeader(name, value);
    sendJson(response, reply.status, reply.body);
  }
}

/** The order of checks mirrors what a client can observe: injected faults, auth, version, route. */
function decideReply(context: HandlerContext, request: IncomingMessage, path: string, bodyText: string, record: FakeSquareRequest): Reply {
  const { failures, rateLimits } = context.injections;
  if (failures.count > 0 && (failures.path === null || failures.path === path)) {
    failures.count -= 1;
    // Square's 5xx bodies were not retrieved; these are invented in Square's error shape.
    const code = failures.status === 503 ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
    return errorReply(failures.status, 'failed', { category: 'API_ERROR', code, detail: 'Injected failure' });
  }
  if (rateLimits.count > 0 && (rateLimits.path === null || rateLimits.path === path)) {
    rateLimits.count -= 1;
    const limited = errorReply(429, 'rate_limited', { category: 'RATE_LIMIT_ERROR', code: 'RATE_LIMITED', detail: 'Rate limit exceeded.' });
    return rateLimits.retryAfterSeconds === null ? limited : { ...limited, headers: { 'retry-after': String(rateLimits.retryAfterSeconds) } };
  }
  if (headerOf(request, 'authorization') !== `Bearer ${context.token}`) {
    return errorReply(401, 'unauthorized', { category: 'AUTHENTICATION_ERROR', code: 'UNAUTHORIZED', detail: 'This request could not be authorized.' });
  }
  const version = record.squareVersion;
  if (version === null || !SQUARE_VERSION_PATTERN.test(version)) {
    return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'INVALID_VALUE', field: 'Square-Version', detail: 'The fake requires a Square-Version header (YYYY-MM-DD).' });
  }
  return route(context, request.method ?? 'GET', path, bodyText, record);
}

function route(context: HandlerContext, method: string, path: string, bodyText: string, record: FakeSquareRequest): Reply {
  const orderMatch = /^\/v2\/orders\/([^/]+)$/.exec(path);
  if (method === 'GET' && orderMatch?.[1] !== undefined) return retrieveOrder(context.state, decodeURIComponent(orderMatch[1]));
  const customerMatch = /^\/v2\/customers\/([^/]+)$/.exec(path);
  if (method === 'GET' && customerMatch?.[1] !== undefined) return retrieveCustomer(context.state, decodeURIComponent(customerMatch[1]));
  if (method === 'POST' && path === '/v2/inventory/changes/batch-create') return withJsonBody(bodyText, (body) => batchChangeInventory(context.state, body, record));
  if (method === 'POST' && path === '/v2/inventory/counts/batch-retrieve') return withJsonBody(bodyText, (body) => batchRetrieveCounts(context.state, body));
  if (method === 'POST' && path === '/v2/inventory/changes/batch-retrieve') return withJsonBody(bodyText, (body) => batchRetrieveChanges(context.state, body));
  if (method === 'POST' && path === '/v2/refunds') return withJsonBody(bodyText, (body) => refundPayment(context.state, body, record));
  return errorReply(404, 'not_found', { category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND', detail: `API endpoint for URL path \`${path}\` and HTTP method \`${method}\` is not found.` });
}

/** Keeps an order for RetrieveOrder, and the payment of each tender that names one (COMPLETED: the sale was paid). */
function storeOrder(state: FakeState, order: SquareOrderJson): void {
  state.orders.set(order.id, structuredClone(order));
  const tenders = Array.isArray(order['tenders']) ? (order['tenders'] as Record<string, unknown>[]) : [];
  for (const tender of tenders) {
    if (typeof tender['payment_id'] !== 'string' || !isRecord(tender['amount_money'])) continue;
    const amount = tender['amount_money'] as unknown as SquareMoneyJson;
    state.payments.set(tender['payment_id'], { id: tender['payment_id'], status: 'COMPLETED', order_id: order.id, location_id: String(order['location_id']), amount_money: { amount: amount.amount, currency: amount.currency } });
  }
}

/**
 * RefundPayment. A request that fails validation is not kept under its key; a refund made is, so a
 * retry with the same key and body answers the same refund and refunds nothing more.
 */
function refundPayment(state: FakeState, body: Record<string, unknown>, record: FakeSquareRequest): Reply {
  const invalid = (field: string, detail: string, code = 'INVALID_VALUE') => errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code, field, detail });
  const key = body['idempotency_key'];
  if (typeof key !== 'string' || key.length === 0) return invalid('idempotency_key', 'Field must be set', 'MISSING_REQUIRED_PARAMETER');
  record.idempotencyKey = key;
  if (key.length > REFUND_IDEMPOTENCY_KEY_LENGTH_MAX) return invalid('idempotency_key', `Must be at most ${REFUND_IDEMPOTENCY_KEY_LENGTH_MAX} characters.`, 'VALUE_TOO_LONG');
  const fingerprint = `refund:${stableStringify(body)}`;
  const stored = state.idempotentResponses.get(key);
  if (stored !== undefined) {
    // protocols.md C6: "believed to be IDEMPOTENCY_KEY_REUSED" [unverified]; the detail is the one a
    // developer quotes for RefundPayment (https://developer.squareup.com/forums/t/multiple-refunds-on-same-payment-id/13153).
    if (stored.fingerprint !== fingerprint) return invalid('idempotency_key', 'Refund request idempotency key was previously used for a different amount', 'IDEMPOTENCY_KEY_REUSED');
    return { ...stored.reply, outcome: 'replayed' };
  }
  const paymentId = body['payment_id'];
  if (typeof paymentId !== 'string' || paymentId.length === 0) return invalid('payment_id', 'Field must be set', 'MISSING_REQUIRED_PARAMETER');
  const payment = state.payments.get(paymentId);
  if (payment === undefined) return errorReply(404, 'not_found', { category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND', detail: `Could not find payment with id \`${paymentId}\`.` });
  const money = isRecord(body['amount_money']) ? body['amount_money'] : {};
  const amount = money['amount'];
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) return invalid('amount_money.amount', 'Expected a positive integer amount in the smallest unit.');
  if (money['currency'] !== payment.amount_money.currency) return invalid('amount_money.currency', `Expected ${payment.amount_money.currency}, the currency of the payment.`, 'INVALID_CURRENCY');
  if (payment.status !== 'COMPLETED') return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'PAYMENT_NOT_REFUNDABLE', detail: `Payment ${paymentId} is ${payment.status}; only a COMPLETED payment can be refunded.` });
  const refundedAmount = [...state.refunds.values()].filter((refund) => refund.payment_id === paymentId && !UNREFUNDED_STATUSES.has(refund.status)).reduce((sum, refund) => sum + refund.amount_money.amount, 0);
  if (amount > payment.amount_money.amount - refundedAmount) {
    return errorReply(400, 'rejected', { category: 'REFUND_ERROR', code: 'REFUND_AMOUNT_INVALID', detail: 'The requested refund amount exceeds the amount available to refund.' });
  }
  state.sequence += 1;
  const now = new Date().toISOString();
  const refund: SquareRefundJson = {
    id: `FAKE-REFUND-${state.sequence}`, status: 'PENDING', amount_money: { amount, currency: payment.amount_money.currency }, payment_id: paymentId,
    ...(payment.order_id ? { order_id: payment.order_id } : {}), ...(payment.location_id ? { location_id: payment.location_id } : {}),
    ...(typeof body['reason'] === 'string' ? { reason: body['reason'] } : {}), created_at: now, updated_at: now,
  };
  state.refunds.set(refund.id, refund);
  const reply: Reply = { status: 200, body: { refund: structuredClone(refund) }, outcome: 'executed' };
  state.idempotentResponses.set(key, { fingerprint, reply });
  return reply;
}

function retrieveOrder(state: FakeState, orderId: string): Reply {
  const order = state.orders.get(orderId);
  if (order === undefined) return errorReply(404, 'not_found', { category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND', detail: `Could not find order with id \`${orderId}\`.` });
  return { status: 200, body: { order }, outcome: 'executed' };
}

function retrieveCustomer(state: FakeState, customerId: string): Reply {
  const customer = state.customers.get(customerId);
  if (customer === undefined) return errorReply(404, 'not_found', { category: 'INVALID_REQUEST_ERROR', code: 'NOT_FOUND', detail: `Customer with ID \`${customerId}\` not found.` });
  return { status: 200, body: { customer }, outcome: 'executed' };
}

function withJsonBody(bodyText: string, handle: (body: Record<string, unknown>) => Reply): Reply {
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'INVALID_CONTENT_TYPE', detail: 'The request body is not valid JSON.' });
  }
  if (!isRecord(body)) return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'EXPECTED_OBJECT', detail: 'The request body must be a JSON object.' });
  return handle(body);
}

/** A change validated and ready to apply; validation of the whole batch comes first, so a bad change applies nothing. */
interface ValidChange {
  type: 'PHYSICAL_COUNT' | 'ADJUSTMENT';
  catalogObjectId: string;
  locationId: string;
  fromState: string | null;
  toState: string;
  quantity: number;
  occurredAt: string;
  raw: Record<string, unknown>;
}

class InvalidRequest extends Error {
  readonly field: string;
  readonly code: string;
  constructor(field: string, detail: string, code = 'INVALID_VALUE') {
    super(detail);
    this.field = field;
    this.code = code;
  }
}

function batchChangeInventory(state: FakeState, body: Record<string, unknown>, record: FakeSquareRequest): Reply {
  const key = body['idempotency_key'];
  if (typeof key !== 'string' || key.length === 0) return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'MISSING_REQUIRED_PARAMETER', field: 'idempotency_key', detail: 'Field must be set' });
  record.idempotencyKey = key;
  if (key.length > IDEMPOTENCY_KEY_LENGTH_MAX) return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'VALUE_TOO_LONG', field: 'idempotency_key', detail: `Must be at most ${IDEMPOTENCY_KEY_LENGTH_MAX} characters.` });
  const fingerprint = stableStringify(body);
  const stored = state.idempotentResponses.get(key);
  if (stored !== undefined) {
    if (stored.fingerprint !== fingerprint) {
      // protocols.md C6: "believed to be IDEMPOTENCY_KEY_REUSED" [unverified].
      return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'IDEMPOTENCY_KEY_REUSED', field: 'idempotency_key', detail: 'The idempotency key was already used with a different request.' });
    }
    return { ...stored.reply, outcome: 'replayed' };
  }
  let changes: ValidChange[];
  try {
    changes = validateChanges(body['changes']);
  } catch (error) {
    if (!(error instanceof InvalidRequest)) throw error;
    return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: error.code, field: error.field, detail: error.message });
  }
  const ignoreUnchangedCounts = body['ignore_unchanged_counts'] !== false;
  const reply = applyChanges(state, changes, ignoreUnchangedCounts);
  state.idempotentResponses.set(key, { fingerprint, reply });
  return reply;
}

function validateChanges(value: unknown): ValidChange[] {
  if (!Array.isArray(value) || value.length === 0) throw new InvalidRequest('changes', 'At least one change is required.', 'MISSING_REQUIRED_PARAMETER');
  if (value.length > INVENTORY_CHANGES_MAX) throw new InvalidRequest('changes', `At most ${INVENTORY_CHANGES_MAX} changes per request.`, 'ARRAY_LENGTH_TOO_LONG');
  return value.map((change, index) => validateChange(change, `changes[${index}]`));
}

function validateChange(change: unknown, field: string): ValidChange {
  if (!isRecord(change)) throw new InvalidRequest(field, 'Expected an object.', 'EXPECTED_OBJECT');
  const type = change['type'];
  if (type === 'PHYSICAL_COUNT') {
    const count = requireRecord(change['physical_count'], `${field}.physical_count`);
    return { type, ...placeOf(count, `${field}.physical_count`), fromState: null, toState: requireState(count['state'], `${field}.physical_count.state`), quantity: requireQuantity(count['quantity'], `${field}.physical_count.quantity`), raw: count };
  }
  if (type === 'ADJUSTMENT') {
    const adjustment = requireRecord(change['adjustment'], `${field}.adjustment`);
    const fromState = requireState(adjustment['from_state'], `${field}.adjustment.from_state`);
    const toState = requireState(adjustment['to_state'], `${field}.adjustment.to_state`);
    const quantity = requireQuantity(adjustment['quantity'], `${field}.adjustment.quantity`);
    if (quantity <= 0) throw new InvalidRequest(`${field}.adjustment.quantity`, 'An adjustment quantity must be positive.');
    return { type, ...placeOf(adjustment, `${field}.adjustment`), fromState, toState, quantity, raw: adjustment };
  }
  throw new InvalidRequest(`${field}.type`, 'Expected PHYSICAL_COUNT or ADJUSTMENT (the fake supports no other change type).', 'INVALID_ENUM_VALUE');
}

function placeOf(change: Record<string, unknown>, field: string): { catalogObjectId: string; locationId: string; occurredAt: string } {
  const occurredAt = requireString(change['occurred_at'], `${field}.occurred_at`);
  if (Number.isNaN(Date.parse(occurredAt))) throw new InvalidRequest(`${field}.occurred_at`, 'Expected an RFC 3339 timestamp.', 'INVALID_TIME');
  return { catalogObjectId: requireString(change['catalog_object_id'], `${field}.catalog_object_id`), locationId: requireString(change['location_id'], `${field}.location_id`), occurredAt: new Date(occurredAt).toISOString() };
}

function applyChanges(state: FakeState, changes: ValidChange[], ignoreUnchangedCounts: boolean): Reply {
  const touched = new Map<string, HeldCount>();
  const applied: Record<string, unknown>[] = [];
  const calculatedAt = new Date().toISOString();
  const ordered = [...changes].sort((left, right) => left.occurredAt.localeCompare(right.occurredAt));
  for (const change of ordered) {
    const logged = applyChange(state, change, { ignoreUnchangedCounts, calculatedAt, createdAt: calculatedAt, touched });
    if (logged) applied.push(logged.json);
  }
  return { status: 200, body: { counts: [...touched.values()].map(countJson), changes: applied }, outcome: 'executed' };
}

/** Applies one change to the held counts and appends it to the change log; null when the fake ignores it. */
function applyChange(state: FakeState, change: ValidChange, options: { ignoreUnchangedCounts: boolean; calculatedAt: string; createdAt: string; touched?: Map<string, HeldCount> }): LoggedChange | null {
  const touch = (held: HeldCount) => {
    held.calculatedAt = options.calculatedAt;
    options.touched?.set(countKey(held.catalogObjectId, held.locationId, held.state), held);
  };
  if (change.type === 'PHYSICAL_COUNT') {
    const held = heldCount(state, change.catalogObjectId, change.locationId, change.toState);
    if (held.lastPhysicalCountAt !== null && change.occurredAt < held.lastPhysicalCountAt) return null;
    if (options.ignoreUnchangedCounts && held.quantity === change.quantity) return null;
    held.quantity = change.quantity;
    held.lastPhysicalCountAt = change.occurredAt;
    touch(held);
  } else {
    for (const [countState, delta] of [[change.fromState ?? 'NONE', -change.quantity], [change.toState, change.quantity]] as const) {
      if (countState === 'NONE') continue;
      const held = heldCount(state, change.catalogObjectId, change.locationId, countState);
      held.quantity += delta;
      touch(held);
    }
  }
  state.sequence += 1;
  const key = change.type === 'PHYSICAL_COUNT' ? 'physical_count' : 'adjustment';
  const json: SquareInventoryChangeJson = { type: change.type, [key]: { id: `FAKE-CHANGE-${state.sequence}`, ...change.raw, catalog_object_type: 'ITEM_VARIATION', occurred_at: change.occurredAt, created_at: options.createdAt } };
  const logged: LoggedChange = { type: change.type, catalogObjectId: change.catalogObjectId, locationId: change.locationId, occurredAt: change.occurredAt, createdAt: options.createdAt, sequence: state.sequence, json };
  state.changeLog.push(logged);
  return logged;
}

/** A test's change, validated like a BatchChangeInventory change, then applied and logged. */
function recordTestChange(state: FakeState, input: FakeInventoryChangeInput, ignoreUnchangedCounts: boolean): SquareInventoryChangeJson {
  const now = new Date().toISOString();
  const place = { catalog_object_id: input.catalog_object_id, location_id: input.location_id, quantity: String(input.quantity), occurred_at: input.occurred_at ?? now, ...(input.reference_id ? { reference_id: input.reference_id } : {}) };
  const raw = input.type === 'PHYSICAL_COUNT'
    ? { type: 'PHYSICAL_COUNT', physical_count: { ...place, state: input.state ?? 'IN_STOCK' } }
    : { type: 'ADJUSTMENT', adjustment: { ...place, from_state: input.from_state, to_state: input.to_state } };
  const logged = applyChange(state, validateChange(raw, 'change'), { ignoreUnchangedCounts, calculatedAt: now, createdAt: input.created_at ? new Date(input.created_at).toISOString() : now });
  if (logged === null) throw new Error(`fake Square: the physical count of ${input.catalog_object_id} at ${input.occurred_at} is older than the last one and would be ignored`);
  return structuredClone(logged.json);
}

/** BatchRetrieveInventoryChanges: the logged changes matching the filters, oldest occurred_at first. */
function batchRetrieveChanges(state: FakeState, body: Record<string, unknown>): Reply {
  const invalid = (field: string, detail: string, code = 'INVALID_VALUE') => errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code, field, detail });
  const catalogObjectIds = optionalStrings(body['catalog_object_ids']);
  const locationIds = optionalStrings(body['location_ids']);
  const types = optionalStrings(body['types']) ?? ['PHYSICAL_COUNT', 'ADJUSTMENT'];
  if (!types.every((type) => RETRIEVABLE_CHANGE_TYPES.has(type))) return invalid('types', 'Only PHYSICAL_COUNT and ADJUSTMENT can be a filter (TRANSFER is not supported as a filter).', 'INVALID_ENUM_VALUE');
  if (body['states'] !== undefined && body['states'] !== null) return invalid('states', 'The fake does not implement the states filter (see its header).');
  const limit = typeof body['limit'] === 'number' ? body['limit'] : RETRIEVE_CHANGES_LIMIT_DEFAULT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > RETRIEVE_CHANGES_LIMIT_MAX) return invalid('limit', `Expected 1 to ${RETRIEVE_CHANGES_LIMIT_MAX}.`);
  const bounds: { after: string | null; before: string | null } = { after: null, before: null };
  for (const [field, bound] of [['updated_after', 'after'], ['updated_before', 'before']] as const) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) return invalid(field, 'Expected an RFC 3339 timestamp.', 'INVALID_TIME');
    bounds[bound] = new Date(value).toISOString();
  }
  const offset = typeof body['cursor'] === 'string' ? Number(body['cursor']) : 0;
  if (!Number.isSafeInteger(offset) || offset < 0) return invalid('cursor', 'Invalid cursor.', 'INVALID_CURSOR');
  const matching = state.changeLog
    .filter((change) => (catalogObjectIds === null || catalogObjectIds.includes(change.catalogObjectId)) && (locationIds === null || locationIds.includes(change.locationId)) && types.includes(change.type))
    .filter((change) => (bounds.after === null || change.createdAt > bounds.after) && (bounds.before === null || change.createdAt < bounds.before))
    .sort((left, right) => left.occurredAt.localeCompare(right.occurredAt) || left.sequence - right.sequence);
  const page = matching.slice(offset, offset + limit);
  const next = offset + limit < matching.length ? { cursor: String(offset + limit) } : {};
  return { status: 200, body: { changes: page.map((change) => structuredClone(change.json)), ...next }, outcome: 'executed' };
}

function batchRetrieveCounts(state: FakeState, body: Record<string, unknown>): Reply {
  const catalogObjectIds = optionalStrings(body['catalog_object_ids']);
  const locationIds = optionalStrings(body['location_ids']);
  const states = optionalStrings(body['states']);
  const limit = typeof body['limit'] === 'number' ? body['limit'] : RETRIEVE_COUNTS_LIMIT_DEFAULT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > RETRIEVE_COUNTS_LIMIT_MAX) {
    return errorReply(400, 'rejected', { category: 'INVALID_REQUEST_ERROR', code: 'INVALID_VALUE', field: 'limit', detail: `Expected 1 to ${RETRIEVE_COUNTS_LIMIT_MAX}.` });
  }
  const offset = typeof body['cursor'] === 'string' ? Number(body['cursor']) : 0;
  const matching = [...state.counts.values()]
    .filter((held) => (catalogObjectIds === null || catalogObjectIds.includes(held.catalogObjectId)) && (locationIds === null || locationIds.includes(held.locationId)) && (states === null || states.includes(held.state)))
    .sort((left, right) => countKey(left.catalogObjectId, left.locationId, left.state).localeCompare(countKey(right.catalogObjectId, right.locationId, right.state)));
  const page = matching.slice(offset, offset + limit);
  const next = offset + limit < matching.length ? { cursor: String(offset + limit) } : {};
  return { status: 200, body: { counts: page.map(countJson), ...next }, outcome: 'executed' };
}

/** An InventoryCount as Square returns it: quantity as a decimal string. */
function countJson(held: HeldCount): Record<string, unknown> {
  return { catalog_object_id: held.catalogObjectId, catalog_object_type: 'ITEM_VARIATION', state: held.state, location_id: held.locationId, quantity: String(held.quantity), calculated_at: held.calculatedAt };
}

function heldCount(state: FakeState, catalogObjectId: string, locationId: string, countState: string): HeldCount {
  const key = countKey(catalogObjectId, locationId, countState);
  let held = state.counts.get(key);
  if (held === undefined) {
    held = { catalogObjectId, locationId, state: countState, quantity: 0, calculatedAt: new Date().toISOString(), lastPhysicalCountAt: null };
    state.counts.set(key, held);
  }
  return held;
}

function countKey(catalogObjectId: string, locationId: string, countState: string): string {
  return `${catalogObjectId}\u0000${locationId}\u0000${countState}`;
}

export interface FakeOrderLineInput {
  uid: string;
  name: string;
  catalogObjectId: string | null;
  quantity: number;
  unitAmount: number;
  discountAmount?: number;
  taxAmount?: number;
}

/**
 * Builds a Square Order whose amounts add up the way Square computes them for additive taxes:
 * gross sales = base price × quantity; line total = gross − discounts + taxes; the order's totals are
 * the sums of its lines. One CARD tender pays the total unless `tenders` says otherwise.
 */
export function buildSquareOrder(input: {
  id: string;
  locationId: string;
  currency?: string;
  customerId?: string | null;
  lines: FakeOrderLineInput[];
  /** `paymentId`: the Payment the tender corresponds to (its `payment_id`); RefundPayment can then refund it. */
  tenders?: { type: 'CARD' | 'CASH'; amount: number; paymentId?: string }[];
  state?: 'OPEN' | 'COMPLETED' | 'CANCELED';
  createdAt?: string;
}): SquareOrderJson {
  const currency = input.currency ?? 'USD';
  const money = (amount: number): SquareMoneyJson => ({ amount, currency });
  const lineItems = input.lines.map((line) => {
    const gross = line.unitAmount * line.quantity;
    const discount = line.discountAmount ?? 0;
    const tax = line.taxAmount ?? 0;
    return {
      uid: line.uid, name: line.name, quantity: String(line.quantity), item_type: 'ITEM',
      ...(line.catalogObjectId ? { catalog_object_id: line.catalogObjectId, catalog_version: 1 } : {}),
      base_price_money: money(line.unitAmount), variation_total_price_money: money(gross), gross_sales_money: money(gross),
      total_tax_money: money(tax), total_discount_money: money(discount), total_money: money(gross - discount + tax),
    };
  });
  const sum = (pick: (line: FakeOrderLineInput) => number) => input.lines.reduce((total, line) => total + pick(line), 0);
  const totalDiscount = sum((line) => line.discountAmount ?? 0);
  const totalTax = sum((line) => line.taxAmount ?? 0);
  const total = sum((line) => line.unitAmount * line.quantity) - totalDiscount + totalTax;
  const createdAt = input.createdAt ?? '2026-11-20T15:04:05.123Z';
  const tenders = (input.tenders ?? [{ type: 'CARD', amount: total }]).map((tender, index) => ({
    id: `${input.id}-T${index + 1}`, location_id: input.locationId, created_at: createdAt, amount_money: money(tender.amount), type: tender.type, ...(tender.paymentId ? { payment_id: tender.paymentId } : {}),
  }));
  return {
    id: input.id, location_id: input.locationId, source: { name: 'Square Point of Sale' }, state: input.state ?? 'COMPLETED', version: 4,
    ...(input.customerId ? { customer_id: input.customerId } : {}),
    line_items: lineItems,
    discounts: totalDiscount > 0 ? [{ uid: `${input.id}-D1`, name: 'Store discount', type: 'FIXED_AMOUNT', applied_money: money(totalDiscount), scope: 'LINE_ITEM' }] : [],
    taxes: totalTax > 0 ? [{ uid: `${input.id}-X1`, name: 'HST', percentage: '13', type: 'ADDITIVE', applied_money: money(totalTax), scope: 'ORDER' }] : [],
    tenders,
    total_money: money(total), total_tax_money: money(totalTax), total_discount_money: money(totalDiscount), total_tip_money: money(0), total_service_charge_money: money(0),
    created_at: createdAt, updated_at: createdAt, closed_at: createdAt,
  };
}

function errorReply(status: number, outcome: FakeSquareOutcome, error: SquareErrorJson): Reply {
  return { status, body: { errors: [error] }, outcome };
}

function headerOf(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

function requireRecord(value: unknown, field: string): Record<string, unknown> {
  if (!isRecord(value)) throw new InvalidRequest(field, 'Expected an object.', 'EXPECTED_OBJECT');
  return value;
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidRequest(field, 'Expected a non-empty string.', 'EXPECTED_STRING');
  return value;
}

function requireState(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (!INVENTORY_STATES.has(text)) throw new InvalidRequest(field, `Unknown inventory state ${text}.`, 'INVALID_ENUM_VALUE');
  return text;
}

/** Square sends quantities as decimal strings; the fake holds whole numbers only (see the header). */
function requireQuantity(value: unknown, field: string): number {
  const text = requireString(value, field);
  if (!WHOLE_QUANTITY_PATTERN.test(text) || !Number.isSafeInteger(Number(text))) throw new InvalidRequest(field, 'Expected a whole-number decimal string.', 'INVALID_VALUE');
  return Number(text);
}

function optionalStrings(value: unknown): string[] | null {
  if (!Array.isArray(value)) return null;
  return value.filter((item): item is string => typeof item === 'string');
}

