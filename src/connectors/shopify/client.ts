/**
 * The Shopify Admin GraphQL client used by the outbox dispatcher. Facts it relies on are in
 * shared/reference/protocols.md section B:
 * - rate limits (leaky bucket reported in `extensions.cost`, THROTTLED with status 200 or 429):
 *   https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits
 * - inventorySetQuantities with mandatory `changeFromQuantity` and `@idempotent` from 2026-04:
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities,
 *   https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities,
 *   https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations
 * - single-use reward codes (issue #4): discountCodeBasicCreate / discountCodeFreeShippingCreate take
 *   `code`, `title`, `startsAt`, `context` (which buyers; it replaces the deprecated
 *   `customerSelection`), `customerGets` {value: percentage 0–1 | discountAmount {amount,
 *   appliesOnEachItem}; items: all | products.productVariantsToAdd}, `usageLimit` and
 *   `appliesOncePerCustomer`, and answer {codeDiscountNode {id}, userErrors}; codeDiscountNodeByCode
 *   finds a code case-insensitively; discountCodeDeactivate(id) stops it and keeps its history:
 *   https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/DiscountCodeBasicInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/discountcontextinput,
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/DiscountCustomerGetsInput,
 *   https://shopify.dev/docs/api/admin-graphql/2025-04/input-objects/DiscountCustomerGetsValueInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DiscountCodeFreeShippingInput.md,
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/queries/codeDiscountNodeByCode,
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeDeactivate.md
 * - refunds of returns made in Continuum (issue #6): refundCreate(input: RefundInput!) takes orderId,
 *   note, notify, refundLineItems [{lineItemId, quantity, restockType}], shipping {amount | fullRefund}
 *   and transactions [OrderTransactionInput {orderId, parentId, kind, gateway, amount}], where a refund's
 *   parent is the SALE or CAPTURE it pays back; it answers {refund {id note}, userErrors {field message}}
 *   (UserError has no code). `@idempotent(key:)` is mandatory for it from 2026-04:
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/refundCreate,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/RefundInput,
 *   https://shopify.dev/docs/api/admin-graphql/2025-04/input-objects/RefundLineItemInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/enums/RefundLineItemRestockType.md,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/OrderTransactionInput.md,
 *   https://shopify.dev/docs/api/admin-graphql/latest/payloads/RefundCreatePayload.md,
 *   https://shopify.dev/changelog/adding-idempotency-for-inventory-adjustments-and-refund-mutations.
 *   The order's transactions (kind SALE, CAPTURE, REFUND…, status SUCCESS, PENDING, FAILURE…, gateway,
 *   amountSet, parentTransaction) and refunds (id, note) are read first:
 *   https://shopify.dev/docs/api/admin-graphql/latest/objects/OrderTransaction,
 *   https://shopify.dev/docs/api/admin-graphql/latest/enums/ordertransactionstatus.md.
 *
 * The client waits out throttling itself, because Shopify says how long to wait; every other failure
 * is thrown as an AppError and the outbox decides whether to retry.
 */
import { z } from 'zod';
import { AppError, assert } from '../../shared/app-error.ts';
import { parseJsonSafely } from '../../shared/json.ts';

/** Attempts of one request while Shopify answers THROTTLED, the first included. */
export const THROTTLED_ATTEMPTS_MAX = 5;
/** Compare-and-swap writes of one pushAvailable call, the first included. */
export const STALE_ATTEMPTS_MAX = 3;
export const REQUEST_TIMEOUT_MS = 10_000;
/** Input arrays hold at most 250 items (protocols.md B1, https://shopify.dev/api/usage/limits). */
export const SET_QUANTITIES_ITEMS_MAX = 250;
/**
 * Customers per metafieldsSet call: Shopify sets at most 25 metafields a call, atomically, and each
 * customer has two (points and tier). https://shopify.dev/docs/api/admin-graphql/latest/mutations/metafieldsSet
 */
export const METAFIELDS_CUSTOMERS_MAX = 12;
/** Reads of levels never pushed that pushAvailableMany sends at once. */
const READS_AT_ONCE_MAX = 10;
const THROTTLE_WAIT_SECONDS_MIN = 1;
/** A bucket of 2000 points restoring 100 per second is full again after 20 s; wait no longer than 60 s. */
const THROTTLE_WAIT_SECONDS_MAX = 60;
const METAFIELD_NAMESPACE = 'continuum';
const SETTABLE_REASON = 'correction';

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface ShopifyAdminClientOptions {
  /** Full endpoint, e.g. `https://shop.myshopify.com/admin/api/2026-04/graphql.json`. */
  adminApiUrl: string;
  accessToken: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Attempts while throttled; default THROTTLED_ATTEMPTS_MAX. */
  maxAttempts?: number;
  /** Per-request timeout; default REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Clock in milliseconds for pacing by the bucket's restore rate; tests share one with the fake. */
  nowMs?: () => number;
}

export interface InventoryLevelReference {
  inventoryItemId: string;
  locationId: string;
}

export interface SetAvailableInput extends InventoryLevelReference {
  quantity: number;
  changeFromQuantity: number;
  idempotencyKey: string;
  referenceDocumentUri: string;
}

export interface PushAvailableInput extends InventoryLevelReference {
  quantity: number;
  /** The quantity Shopify last reported to us, or null to read it first. */
  lastKnown: number | null;
  idempotencyKey: string;
  referenceDocumentUri: string;
}

/** Several levels' `available` set by one inventorySetQuantities call (protocols.md B2: `quantities` is a list). */
export interface PushAvailableManyInput {
  /** At most SET_QUANTITIES_ITEMS_MAX; each with the quantity Shopify last reported to us, or null to read it first. */
  items: (InventoryLevelReference & { quantity: number; lastKnown: number | null })[];
  idempotencyKey: string;
  referenceDocumentUri: string;
}

export interface CustomerMetafieldsInput {
  customerId: string;
  points: number;
  tier: string;
}

interface CodeDiscountBase {
  /** The title merchants see in the Shopify admin. */
  title: string;
  /** What the shopper types; Shopify matches it case-insensitively. */
  code: string;
  /** ISO-8601; required when creating. */
  startsAt: string;
  /** The one customer (id or GID) who may use it, or null for any buyer. */
  customerId: string | null;
}

export interface BasicCodeDiscountInput extends CodeDiscountBase {
  /** A fixed amount (a decimal in the shop's currency, split over the entitled items) or a fraction from 0 to 1. */
  value: { amount: string } | { percentage: number };
  /** Product variants (ids or GIDs) the value applies to; empty means every item. */
  variantIds: string[];
}

export type FreeShippingCodeDiscountInput = CodeDiscountBase;

/** An order's payment transaction as refunds need it: amounts are decimal strings, as Shopify sends them. */
export interface ShopifyOrderTransaction {
  id: string;
  /** OrderTransactionKind: SALE, CAPTURE, AUTHORIZATION, REFUND, VOID, CHANGE… */
  kind: string;
  /** OrderTransactionStatus: SUCCESS, PENDING, FAILURE, ERROR, AWAITING_RESPONSE, UNKNOWN. */
  status: string;
  gateway: string;
  amount: string;
  currency: string;
  presentmentCurrency: string;
  parentId: string | null;
}

/** What Shopify holds of an order's money: its transactions and the refunds already made (their notes carry our marker). */
export interface ShopifyOrderRefundState {
  orderId: string;
  transactions: ShopifyOrderTransaction[];
  refunds: { id: string; note: string | null }[];
}

export interface CreateRefundInput {
  /** The order's GID. */
  orderId: string;
  /** One key per refund, reused on every retry of it (the return id). */
  idempotencyKey: string;
  note: string;
  /** Line item GIDs and quantities; never restocked by Shopify (see createRefund). */
  lines: { lineItemId: string; quantity: number }[];
  /** Shipping refunded, as a decimal in the shop's currency, or null for none. */
  shippingAmount: string | null;
  /** The money: each a refund of one SALE or CAPTURE transaction (its GID), amount as a decimal. */
  transactions: { parentId: string; gateway: string; amount: string }[];
}

export interface ShopifyAdminClient {
  /**
   * Sends one GraphQL operation, waiting out THROTTLED answers, and first waiting for the bucket to
   * hold what the same operation cost last time; returns `data`, the bucket status and the cost.
   */
  request<T>(query: string, variables: Record<string, unknown>): Promise<{ data: T; cost: ThrottleStatus | undefined; requestedQueryCost?: number }>;
  /** Reads the `available` quantity of one item at one location. */
  readAvailable(level: InventoryLevelReference): Promise<number>;
  /** One compare-and-swap write of `available`; `stale` when Shopify holds another quantity than `changeFromQuantity`. */
  setAvailable(input: SetAvailableInput): Promise<{ stale: boolean }>;
  /** Sets `available`, re-reading and retrying on a stale compare; returns the quantity it replaced. */
  pushAvailable(input: PushAvailableInput): Promise<{ previous: number }>;
  /**
   * Sets `available` of several levels with one inventorySetQuantities call per attempt (a mutation
   * costs the same 10 points whatever the list's length), re-reading the stale ones and retrying;
   * returns the quantity each replaced.
   */
  pushAvailableMany(input: PushAvailableManyInput): Promise<{ previous: number[] }>;
  /**
   * Writes each customer's points and tier to `continuum.points` / `continuum.tier` metafields with
   * one metafieldsSet call (at most METAFIELDS_CUSTOMERS_MAX customers). Shopify applies the call
   * whole or not at all: a userError fails every customer of it.
   */
  setCustomerMetafields(inputs: readonly CustomerMetafieldsInput[]): Promise<void>;
  /** Creates a single-use amount-off or percent-off code discount (usage limit 1, once per customer); returns its node id. */
  createBasicCodeDiscount(input: BasicCodeDiscountInput): Promise<{ id: string }>;
  /** Creates a single-use free-shipping code discount for every destination; returns its node id. */
  createFreeShippingCodeDiscount(input: FreeShippingCodeDiscountInput): Promise<{ id: string }>;
  /** The node id of the code discount with this code, or null when Shopify has none. */
  findCodeDiscountId(code: string): Promise<string | null>;
  /** Stops a code discount from being accepted; Shopify keeps it and its history. */
  deactivateCodeDiscount(id: string): Promise<void>;
  /** An order's transactions and refunds; `connectors.shopify.not_found` when Shopify has no such order. */
  readOrderRefundState(orderId: string): Promise<ShopifyOrderRefundState>;
  /** refundCreate with `@idempotent`; returns the refund's GID. userErrors throw `connectors.shopify.refund_refused`. */
  createRefund(input: CreateRefundInput): Promise<{ refundId: string }>;
  /** The bucket status of the last response that reported one. */
  lastThrottleStatus(): ThrottleStatus | undefined;
}

const throttleStatusSchema = z.object({ maximumAvailable: z.number(), currentlyAvailable: z.number(), restoreRate: z.number() });
const costSchema = z.object({ requestedQueryCost: z.number().optional(), throttleStatus: throttleStatusSchema.optional() });
const graphqlErrorSchema = z.object({ message: z.string(), extensions: z.object({ code: z.string().optional() }).loose().optional() }).loose();
const envelopeSchema = z.object({
  data: z.unknown().optional(),
  errors: z.union([z.array(graphqlErrorSchema), z.string(), z.record(z.string(), z.unknown())]).optional(),
  extensions: z.object({ cost: z.unknown().optional() }).loose().optional(),
});
type Envelope = z.infer<typeof envelopeSchema>;
type Cost = z.infer<typeof costSchema>;

const userErrorSchema = z.object({ field: z.array(z.string()).nullable().optional(), message: z.string(), code: z.string().nullable().optional() });
const readAvailableSchema = z.object({
  inventoryItem: z
    .object({ inventoryLevel: z.object({ quantities: z.array(z.object({ name: z.string(), quantity: z.number().int() })) }).nullable() })
    .nullable(),
});
const setQuantitiesSchema = z.object({ inventorySetQuantities: z.object({ userErrors: z.array(userErrorSchema) }) });
const metafieldsSetSchema = z.object({ metafieldsSet: z.object({ userErrors: z.array(userErrorSchema) }) });
const codeDiscountPayloadSchema = z.object({ codeDiscountNode: z.object({ id: z.string() }).nullable(), userErrors: z.array(userErrorSchema) });
const basicCodeCreateSchema = z.object({ discountCodeBasicCreate: codeDiscountPayloadSchema });
const freeShippingCodeCreateSchema = z.object({ discountCodeFreeShippingCreate: codeDiscountPayloadSchema });
const codeDeactivateSchema = z.object({ discountCodeDeactivate: codeDiscountPayloadSchema });
const codeByCodeSchema = z.object({ codeDiscountNodeByCode: z.object({ id: z.string() }).nullable() });
const moneySchema = z.object({ amount: z.string(), currencyCode: z.string() });
const orderRefundStateSchema = z.object({
  order: z.object({
    id: z.string(),
    transactions: z.array(z.object({
      id: z.string(), kind: z.string(), status: z.string(), gateway: z.string(),
      amountSet: z.object({ shopMoney: moneySchema, presentmentMoney: moneySchema }),
      parentTransaction: z.object({ id: z.string() }).nullable(),
    })),
    refunds: z.array(z.object({ id: z.string(), note: z.string().nullable() })),
  }).nullable(),
});
const refundCreateSchema = z.object({ refundCreate: z.object({ refund: z.object({ id: z.string() }).nullable(), userErrors: z.array(userErrorSchema) }) });

const READ_AVAILABLE_QUERY = `query ReadAvailable($inventoryItemId: ID!, $locationId: ID!) {
  inventoryItem(id: $inventoryItemId) {
    inventoryLevel(locationId: $locationId) {
      quantities(names: ["available"]) { name quantity }
    }
  }
}`;

const SET_AVAILABLE_MUTATION = `mutation SetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}`;

const SET_METAFIELDS_MUTATION = `mutation SetCustomerMetafields($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key namespace value }
    userErrors { field message code }
  }
}`;

const CREATE_BASIC_CODE_MUTATION = `mutation CreateBasicCodeDiscount($basicCodeDiscount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}`;

const CREATE_FREE_SHIPPING_CODE_MUTATION = `mutation CreateFreeShippingCodeDiscount($freeShippingCodeDiscount: DiscountCodeFreeShippingInput!) {
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $freeShippingCodeDiscount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}`;

const FIND_CODE_QUERY = `query FindCodeDiscount($code: String!) {
  codeDiscountNodeByCode(code: $code) { id }
}`;

const DEACTIVATE_CODE_MUTATION = `mutation DeactivateCodeDiscount($id: ID!) {
  discountCodeDeactivate(id: $id) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}`;

/** Transactions and refunds read of one order; an order with as many is refused rather than read in part. */
export const ORDER_TRANSACTIONS_MAX = 100;
export const ORDER_REFUNDS_MAX = 100;

const READ_ORDER_REFUND_STATE_QUERY = `query ReadOrderRefundState($id: ID!) {
  order(id: $id) {
    id
    transactions(first: ${ORDER_TRANSACTIONS_MAX}) {
      id kind status gateway
      amountSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      parentTransaction { id }
    }
    refunds(first: ${ORDER_REFUNDS_MAX}) { id note }
  }
}`;

const CREATE_REFUND_MUTATION = `mutation CreateRefund($input: RefundInput!, $idempotencyKey: String!) {
  refundCreate(input: $input) @idempotent(key: $idempotencyKey) {
    refund { id note }
    userErrors { field message }
  }
}`;

/**
 * Builds a Shopify GID from a numeric id, or returns an existing GID unchanged.
 * Example: `shopifyGid('Location', '456')` → `gid://shopify/Location/456`.
 */
export function shopifyGid(type: string, id: string | number | bigint): string {
  assert(/^[A-Za-z]+$/.test(type), `shopifyGid: invalid type ${type}`);
  if (typeof id === 'number') assert(Number.isSafeInteger(id) && id > 0, `shopifyGid: ${id} is not a safe positive integer; pass Shopify ids as strings`);
  const text = String(id);
  if (text.startsWith('gid://')) {
    const expectedPrefix = `gid://shopify/${type}/`;
    if (!text.startsWith(expectedPrefix)) throw new AppError('connectors.shopify.invalid_id', `Expected a ${type} GID, got ${text}`, { type, id: text });
    return text;
  }
  if (!/^\d+$/.test(text)) throw new AppError('connectors.shopify.invalid_id', `Expected a numeric Shopify id or a GID, got ${text}`, { type, id: text });
  return `gid://shopify/${type}/${text}`;
}

/**
 * Seconds to wait after THROTTLED: what the bucket lacks for the requested cost, at the restore rate
 * (protocols.md B1), rounded up, at least 1 s and at most 60 s.
 */
export function computeThrottleWaitMs(requestedQueryCost: number | undefined, throttleStatus: ThrottleStatus | undefined): number {
  if (requestedQueryCost === undefined || throttleStatus === undefined || throttleStatus.restoreRate <= 0) {
    return THROTTLE_WAIT_SECONDS_MIN * 1000;
  }
  const seconds = Math.ceil((requestedQueryCost - throttleStatus.currentlyAvailable) / throttleStatus.restoreRate);
  return Math.min(THROTTLE_WAIT_SECONDS_MAX, Math.max(THROTTLE_WAIT_SECONDS_MIN, seconds)) * 1000;
}

/** Operations whose last cost the client remembers for pacing; past it the memory starts again. */
const PACED_OPERATIONS_MAX = 100;

/**
 * Milliseconds to wait before sending an operation that cost `requestedQueryCost` last time, so it
 * is not throttled: the bucket as last reported, refilled at its restore rate for the time since,
 * must hold the cost. Nothing is hard-coded: size, level and rate all come from `throttleStatus`
 * (protocols.md B1). 0 when nothing is known yet or the bucket holds enough.
 */
export function computePacingWaitMs(requestedQueryCost: number | undefined, throttleStatus: ThrottleStatus | undefined, elapsedMs: number): number {
  if (requestedQueryCost === undefined || throttleStatus === undefined || throttleStatus.restoreRate <= 0) return 0;
  const needed = Math.min(requestedQueryCost, throttleStatus.maximumAvailable);
  const availableNow = Math.min(throttleStatus.maximumAvailable, throttleStatus.currentlyAvailable + (Math.max(0, elapsedMs) / 1000) * throttleStatus.restoreRate);
  if (availableNow >= needed) return 0;
  return Math.min(THROTTLE_WAIT_SECONDS_MAX * 1000, Math.ceil(((needed - availableNow) / throttleStatus.restoreRate) * 1000));
}

export function createShopifyAdminClient(options: ShopifyAdminClientOptions): ShopifyAdminClient {
  const maxAttempts = options.maxAttempts ?? THROTTLED_ATTEMPTS_MAX;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  assert(Number.isSafeInteger(maxAttempts) && maxAttempts >= 1, 'maxAttempts must be a positive integer');
  assert(Number.isSafeInteger(timeoutMs) && timeoutMs > 0, 'timeoutMs must be a positive integer');
  assert(options.accessToken.length > 0, 'accessToken must not be empty');
  const transport: Transport = {
    adminApiUrl: options.adminApiUrl,
    accessToken: options.accessToken,
    fetch: options.fetch ?? fetch,
    timeoutMs,
  };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const nowMs = options.nowMs ?? (() => performance.now());
  let lastStatus: ThrottleStatus | undefined;
  let lastStatusAtMs = 0;
  // What each operation (by its text) cost when last sent: the bucket must hold it before it goes again.
  const requestedCostByQuery = new Map<string, number>();

  async function request<T>(query: string, variables: Record<string, unknown>): Promise<{ data: T; cost: ThrottleStatus | undefined; requestedQueryCost?: number }> {
    let cost: Cost = {};
    const pacingWaitMs = computePacingWaitMs(requestedCostByQuery.get(query), lastStatus, nowMs() - lastStatusAtMs);
    if (pacingWaitMs > 0) await sleep(pacingWaitMs);
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const answer = await sendOnce(transport, query, variables);
      cost = readCost(answer.envelope);
      if (cost.throttleStatus) {
        lastStatus = cost.throttleStatus;
        lastStatusAtMs = nowMs();
      }
      if (cost.requestedQueryCost !== undefined) {
        if (requestedCostByQuery.size >= PACED_OPERATIONS_MAX) requestedCostByQuery.clear();
        requestedCostByQuery.set(query, cost.requestedQueryCost);
      }
      if (!isThrottled(answer)) return { data: extractData<T>(answer.envelope), cost: cost.throttleStatus, ...(cost.requestedQueryCost !== undefined ? { requestedQueryCost: cost.requestedQueryCost } : {}) };
      if (attempt < maxAttempts) await sleep(computeThrottleWaitMs(cost.requestedQueryCost, cost.throttleStatus ?? lastStatus));
    }
    throw new AppError('connectors.shopify.rate_limited', `Shopify still throttled the request after ${maxAttempts} attempts`, {
      attempts: maxAttempts,
      requestedQueryCost: cost.requestedQueryCost,
      throttleStatus: cost.throttleStatus ?? lastStatus,
    });
  }

  const client: ShopifyAdminClient = {
    request,
    readAvailable: (level) => readAvailable(request, level),
    setAvailable: (input) => setAvailable(request, input),
    pushAvailable: (input) => pushAvailable(client, input),
    pushAvailableMany: (input) => pushAvailableMany(request, client, input),
    setCustomerMetafields: (input) => setCustomerMetafields(request, input),
    createBasicCodeDiscount: (input) => createBasicCodeDiscount(request, input),
    createFreeShippingCodeDiscount: (input) => createFreeShippingCodeDiscount(request, input),
    findCodeDiscountId: (code) => findCodeDiscountId(request, code),
    deactivateCodeDiscount: (id) => deactivateCodeDiscount(request, id),
    readOrderRefundState: (orderId) => readOrderRefundState(request, orderId),
    createRefund: (input) => createRefund(request, input),
    lastThrottleStatus: () => lastStatus,
  };
  return client;
}

type RequestFunction = ShopifyAdminClient['request'];

interface Transport {
  adminApiUrl: string;
  accessToken: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

interface Answer {
  status: number;
  envelope: Envelope;
}

/** One HTTP round trip. Network errors, timeouts and 5xx are `unavailable`: the outbox retries them. */
async function sendOnce(transport: Transport, query: string, variables: Record<string, unknown>): Promise<Answer> {
  let response: Response;
  let text: string;
  try {
    response = await transport.fetch(transport.adminApiUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-shopify-access-token': transport.accessToken },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(transport.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new AppError('connectors.shopify.unavailable', `Shopify did not answer: ${reason}`, { status: null, timeoutMs: transport.timeoutMs });
  }
  if (response.status === 401 || response.status === 403) {
    throw new AppError('connectors.shopify.unauthorized', `Shopify refused the access token (HTTP ${response.status})`, { status: response.status });
  }
  if (response.status >= 500) {
    throw new AppError('connectors.shopify.unavailable', `Shopify answered HTTP ${response.status}`, { status: response.status });
  }
  return { status: response.status, envelope: parseEnvelope(text, response.status) };
}

function parseEnvelope(text: string, status: number): Envelope {
  let body: unknown;
  try {
    body = parseJsonSafely(text);
  } catch {
    throw new AppError('connectors.shopify.unavailable', `Shopify answered HTTP ${status} with a body that is not JSON`, { status });
  }
  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) {
    throw new AppError('connectors.shopify.unexpected_response', `Shopify answered HTTP ${status} with an unexpected body`, { status, issues: parsed.error.issues });
  }
  return parsed.data;
}

/** The cost extension is informative: a malformed one is ignored rather than failing a good answer. */
function readCost(envelope: Envelope): Cost {
  const parsed = costSchema.safeParse(envelope.extensions?.cost);
  return parsed.success ? parsed.data : {};
}

/** protocols.md B1: the status is disputed (200 or 429), so the error code decides. */
function isThrottled(answer: Answer): boolean {
  if (answer.status === 429) return true;
  const { errors } = answer.envelope;
  return Array.isArray(errors) && errors.some((error) => error.extensions?.code === 'THROTTLED');
}

function extractData<T>(envelope: Envelope): T {
  const { errors } = envelope;
  const hasErrors = Array.isArray(errors) ? errors.length > 0 : errors !== undefined;
  if (hasErrors) {
    const message = Array.isArray(errors) ? errors.map((error) => error.message).join('; ') : JSON.stringify(errors);
    throw new AppError('connectors.shopify.graphql_error', message, { errors });
  }
  if (envelope.data === undefined || envelope.data === null) {
    throw new AppError('connectors.shopify.graphql_error', 'Shopify answered without data or errors', { errors: [] });
  }
  // The caller names T; the operation functions below validate the shape they asked for.
  return envelope.data as T;
}

function parseData<S extends z.ZodType>(schema: S, data: unknown, operation: string): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new AppError('connectors.shopify.unexpected_response', `Shopify answered ${operation} with an unexpected shape`, { operation, issues: parsed.error.issues });
  }
  return parsed.data;
}

function normaliseLevel(level: InventoryLevelReference): InventoryLevelReference {
  return { inventoryItemId: shopifyGid('InventoryItem', level.inventoryItemId), locationId: shopifyGid('Location', level.locationId) };
}

async function readAvailable(request: RequestFunction, level: InventoryLevelReference): Promise<number> {
  const ids = normaliseLevel(level);
  const { data } = await request<unknown>(READ_AVAILABLE_QUERY, { ...ids });
  const { inventoryItem } = parseData(readAvailableSchema, data, 'inventoryItem');
  if (inventoryItem === null || inventoryItem.inventoryLevel === null) {
    throw new AppError('connectors.shopify.not_found', 'The inventory item is not stocked at this location in Shopify', { ...ids });
  }
  const available = inventoryItem.inventoryLevel.quantities.find((entry) => entry.name === 'available');
  if (available === undefined) throw new AppError('connectors.shopify.unexpected_response', 'Shopify returned no available quantity', { ...ids });
  return available.quantity;
}

async function setAvailable(request: RequestFunction, input: SetAvailableInput): Promise<{ stale: boolean }> {
  assert(Number.isSafeInteger(input.quantity), 'setAvailable: quantity must be an integer');
  assert(Number.isSafeInteger(input.changeFromQuantity), 'setAvailable: changeFromQuantity must be an integer');
  assert(input.idempotencyKey.length > 0, 'setAvailable: idempotencyKey must not be empty');
  const ids = normaliseLevel(input);
  const variables = {
    idempotencyKey: input.idempotencyKey,
    input: {
      name: 'available',
      reason: SETTABLE_REASON,
      referenceDocumentUri: input.referenceDocumentUri,
      quantities: [{ ...ids, quantity: input.quantity, changeFromQuantity: input.changeFromQuantity }],
    },
  };
  const { data } = await request<unknown>(SET_AVAILABLE_MUTATION, variables);
  const { userErrors } = parseData(setQuantitiesSchema, data, 'inventorySetQuantities').inventorySetQuantities;
  if (userErrors.length === 0) return { stale: false };
  if (userErrors.every((error) => error.code === 'CHANGE_FROM_QUANTITY_STALE')) return { stale: true };
  throw new AppError('connectors.shopify.user_error', userErrors.map((error) => error.message).join('; '), { userErrors, ...ids });
}

/**
 * Compare-and-swap loop. A retry after a stale compare is a different operation (other variables), so
 * it gets its own key, `${idempotencyKey}-r${attempt}`. When the quantity had to be read and already
 * equals the target, nothing is written: that is also what makes a retried push safe after the first
 * write landed but its answer was lost.
 */
async function pushAvailable(client: ShopifyAdminClient, input: PushAvailableInput): Promise<{ previous: number }> {
  let expected = input.lastKnown ?? (await client.readAvailable(input));
  let expectedWasRead = input.lastKnown === null;
  for (let attempt = 0; attempt < STALE_ATTEMPTS_MAX; attempt += 1) {
    if (expectedWasRead && expected === input.quantity) return { previous: expected };
    const idempotencyKey = attempt === 0 ? input.idempotencyKey : `${input.idempotencyKey}-r${attempt}`;
    const { stale } = await client.setAvailable({ ...input, changeFromQuantity: expected, idempotencyKey });
    if (!stale) return { previous: expected };
    expected = await client.readAvailable(input);
    expectedWasRead = true;
  }
  throw new AppError('connectors.shopify.stale_inventory', `Shopify's available quantity kept changing during ${STALE_ATTEMPTS_MAX} attempts`, {
    inventoryItemId: input.inventoryItemId,
    locationId: input.locationId,
    attempts: STALE_ATTEMPTS_MAX,
    lastRead: expected,
  });
}

/**
 * One inventorySetQuantities call for several levels; the indexes (into `quantities`) whose compare
 * was stale. Shopify's behaviour when only some compares of a list are stale is not documented
 * (the fake refuses the whole call): the caller sends them all again either way.
 */
async function setAvailableMany(request: RequestFunction, input: { quantities: (InventoryLevelReference & { quantity: number; changeFromQuantity: number })[]; idempotencyKey: string; referenceDocumentUri: string }): Promise<{ staleIndexes: number[] }> {
  assert(input.quantities.length >= 1 && input.quantities.length <= SET_QUANTITIES_ITEMS_MAX, `setAvailableMany: 1 to ${SET_QUANTITIES_ITEMS_MAX} levels (got ${input.quantities.length})`);
  assert(input.idempotencyKey.length > 0, 'setAvailableMany: idempotencyKey must not be empty');
  const quantities = input.quantities.map((entry) => {
    assert(Number.isSafeInteger(entry.quantity) && Number.isSafeInteger(entry.changeFromQuantity), 'setAvailableMany: quantities are integers');
    return { ...normaliseLevel(entry), quantity: entry.quantity, changeFromQuantity: entry.changeFromQuantity };
  });
  const variables = { idempotencyKey: input.idempotencyKey, input: { name: 'available', reason: SETTABLE_REASON, referenceDocumentUri: input.referenceDocumentUri, quantities } };
  const { data } = await request<unknown>(SET_AVAILABLE_MUTATION, variables);
  const { userErrors } = parseData(setQuantitiesSchema, data, 'inventorySetQuantities').inventorySetQuantities;
  if (userErrors.length === 0) return { staleIndexes: [] };
  if (!userErrors.every((error) => error.code === 'CHANGE_FROM_QUANTITY_STALE')) {
    throw new AppError('connectors.shopify.user_error', userErrors.map((error) => error.message).join('; '), { userErrors, levels: quantities.length });
  }
  // The field names the list entry (`input.quantities.3.changeFromQuantity`); one that does not: all of them are read again.
  const named = userErrors.map((error) => Number(error.field?.[2]));
  if (named.some((index) => !Number.isSafeInteger(index) || index < 0 || index >= quantities.length)) return { staleIndexes: quantities.map((_, index) => index) };
  return { staleIndexes: [...new Set(named)] };
}

/**
 * The compare-and-swap loop of pushAvailable for several levels at once. Levels whose quantity had
 * to be read and already equals the target are not written. Each attempt sends every level not yet
 * written; its key is `${idempotencyKey}-r${attempt}` after the first, as for one level.
 */
async function pushAvailableMany(request: RequestFunction, client: ShopifyAdminClient, input: PushAvailableManyInput): Promise<{ previous: number[] }> {
  const wasRead = input.items.map((item) => item.lastKnown === null);
  // Levels never pushed are read first, several at a time: one after another, 50 first pushes took
  // seconds of round trips (found by bench/stock.ts). A read costs a few points, a tenth of a write.
  const expected = input.items.map((item) => item.lastKnown ?? 0);
  const toRead = input.items.map((_, index) => index).filter((index) => wasRead[index]);
  for (let start = 0; start < toRead.length; start += READS_AT_ONCE_MAX) {
    const indexes = toRead.slice(start, start + READS_AT_ONCE_MAX);
    const read = await Promise.all(indexes.map((index) => client.readAvailable(input.items[index]!)));
    indexes.forEach((index, position) => (expected[index] = read[position]!));
  }
  for (let attempt = 0; attempt < STALE_ATTEMPTS_MAX; attempt += 1) {
    const sending = input.items.map((_, index) => index).filter((index) => !(wasRead[index] && expected[index] === input.items[index]!.quantity));
    if (sending.length === 0) return { previous: expected };
    const idempotencyKey = attempt === 0 ? input.idempotencyKey : `${input.idempotencyKey}-r${attempt}`;
    const quantities = sending.map((index) => ({ ...input.items[index]!, changeFromQuantity: expected[index]! }));
    const { staleIndexes } = await setAvailableMany(request, { quantities, idempotencyKey, referenceDocumentUri: input.referenceDocumentUri });
    if (staleIndexes.length === 0) return { previous: expected };
    for (const staleIndex of staleIndexes) {
      const index = sending[staleIndex]!;
      expected[index] = await client.readAvailable(input.items[index]!);
      wasRead[index] = true;
    }
  }
  throw new AppError('connectors.shopify.stale_inventory', `Shopify's available quantities kept changing during ${STALE_ATTEMPTS_MAX} attempts`, { levels: input.items.length, attempts: STALE_ATTEMPTS_MAX });
}

async function setCustomerMetafields(request: RequestFunction, inputs: readonly CustomerMetafieldsInput[]): Promise<void> {
  assert(inputs.length >= 1 && inputs.length <= METAFIELDS_CUSTOMERS_MAX, `setCustomerMetafields: 1 to ${METAFIELDS_CUSTOMERS_MAX} customers (got ${inputs.length})`);
  const metafields = inputs.flatMap((input) => {
    assert(Number.isSafeInteger(input.points), 'setCustomerMetafields: points must be an integer');
    assert(input.tier.length > 0, 'setCustomerMetafields: tier must not be empty');
    const ownerId = shopifyGid('Customer', input.customerId);
    return [
      { ownerId, namespace: METAFIELD_NAMESPACE, key: 'points', type: 'number_integer', value: String(input.points) },
      { ownerId, namespace: METAFIELD_NAMESPACE, key: 'tier', type: 'single_line_text_field', value: input.tier },
    ];
  });
  const { data } = await request<unknown>(SET_METAFIELDS_MUTATION, { metafields });
  const { userErrors } = parseData(metafieldsSetSchema, data, 'metafieldsSet').metafieldsSet;
  if (userErrors.length > 0) {
    const ownerIds = inputs.map((input) => shopifyGid('Customer', input.customerId));
    throw new AppError('connectors.shopify.user_error', userErrors.map((error) => error.message).join('; '), { userErrors, ownerIds });
  }
}

/** Single-use, for one shopper when she has a Shopify id: the shared fields of every reward code discount. */
function codeDiscountCommon(input: CodeDiscountBase) {
  assert(input.code.length > 0 && input.title.length > 0, 'a code discount has a code and a title');
  const context = input.customerId === null ? { all: 'ALL' } : { customers: { add: [shopifyGid('Customer', input.customerId)] } };
  return { title: input.title, code: input.code, startsAt: input.startsAt, context, usageLimit: 1, appliesOncePerCustomer: true };
}

function nodeIdOf(payload: z.infer<typeof codeDiscountPayloadSchema>, operation: string, code: string): string {
  if (payload.userErrors.length > 0 || payload.codeDiscountNode === null) {
    throw new AppError('connectors.shopify.user_error', payload.userErrors.map((error) => error.message).join('; ') || `${operation} returned no discount`, { userErrors: payload.userErrors, code });
  }
  return payload.codeDiscountNode.id;
}

async function createBasicCodeDiscount(request: RequestFunction, input: BasicCodeDiscountInput): Promise<{ id: string }> {
  if ('percentage' in input.value) assert(input.value.percentage > 0 && input.value.percentage <= 1, 'a percentage is a fraction above 0 and at most 1');
  const value = 'percentage' in input.value ? { percentage: input.value.percentage } : { discountAmount: { amount: input.value.amount, appliesOnEachItem: false } };
  const items = input.variantIds.length === 0 ? { all: true } : { products: { productVariantsToAdd: input.variantIds.map((id) => shopifyGid('ProductVariant', id)) } };
  const basicCodeDiscount = { ...codeDiscountCommon(input), customerGets: { value, items } };
  const { data } = await request<unknown>(CREATE_BASIC_CODE_MUTATION, { basicCodeDiscount });
  return { id: nodeIdOf(parseData(basicCodeCreateSchema, data, 'discountCodeBasicCreate').discountCodeBasicCreate, 'discountCodeBasicCreate', input.code) };
}

async function createFreeShippingCodeDiscount(request: RequestFunction, input: FreeShippingCodeDiscountInput): Promise<{ id: string }> {
  const freeShippingCodeDiscount = { ...codeDiscountCommon(input), destination: { all: true } };
  const { data } = await request<unknown>(CREATE_FREE_SHIPPING_CODE_MUTATION, { freeShippingCodeDiscount });
  return { id: nodeIdOf(parseData(freeShippingCodeCreateSchema, data, 'discountCodeFreeShippingCreate').discountCodeFreeShippingCreate, 'discountCodeFreeShippingCreate', input.code) };
}

async function findCodeDiscountId(request: RequestFunction, code: string): Promise<string | null> {
  const { data } = await request<unknown>(FIND_CODE_QUERY, { code });
  return parseData(codeByCodeSchema, data, 'codeDiscountNodeByCode').codeDiscountNodeByCode?.id ?? null;
}

async function deactivateCodeDiscount(request: RequestFunction, id: string): Promise<void> {
  assert(id.startsWith('gid://shopify/DiscountCodeNode/'), 'deactivateCodeDiscount takes a DiscountCodeNode GID');
  const { data } = await request<unknown>(DEACTIVATE_CODE_MUTATION, { id });
  nodeIdOf(parseData(codeDeactivateSchema, data, 'discountCodeDeactivate').discountCodeDeactivate, 'discountCodeDeactivate', id);
}

async function readOrderRefundState(request: RequestFunction, orderId: string): Promise<ShopifyOrderRefundState> {
  const id = shopifyGid('Order', orderId);
  const { data } = await request<unknown>(READ_ORDER_REFUND_STATE_QUERY, { id });
  const { order } = parseData(orderRefundStateSchema, data, 'order');
  if (order === null) throw new AppError('connectors.shopify.not_found', `Shopify has no order ${id}`, { orderId: id });
  if (order.transactions.length >= ORDER_TRANSACTIONS_MAX || order.refunds.length >= ORDER_REFUNDS_MAX) {
    throw new AppError('connectors.shopify.too_many_transactions', `Order ${id} has ${ORDER_TRANSACTIONS_MAX} transactions or ${ORDER_REFUNDS_MAX} refunds or more; Continuum does not refund it without reading them all`, { orderId: id });
  }
  return {
    orderId: order.id,
    transactions: order.transactions.map((transaction) => ({
      id: transaction.id, kind: transaction.kind, status: transaction.status, gateway: transaction.gateway, amount: transaction.amountSet.shopMoney.amount,
      currency: transaction.amountSet.shopMoney.currencyCode, presentmentCurrency: transaction.amountSet.presentmentMoney.currencyCode, parentId: transaction.parentTransaction?.id ?? null,
    })),
    refunds: order.refunds,
  };
}

/**
 * Every line is refunded with restockType NO_RESTOCK: Continuum took the units back itself (or set
 * them aside as damaged) and pushes the resulting levels, so a Shopify restock would count them twice.
 * `notify` is false: the associate who took the return gives the shopper her receipt.
 */
async function createRefund(request: RequestFunction, input: CreateRefundInput): Promise<{ refundId: string }> {
  assert(input.idempotencyKey.length > 0, 'createRefund: idempotencyKey must not be empty');
  // RefundInput.transactions is optional: a refund of goods with no money back (store credit or an
  // exchange took it all) names its lines only, as Shopify's own example of an exchange does.
  assert(input.transactions.length > 0 || input.lines.length > 0, 'createRefund: a refund pays money back or takes goods back');
  assert(input.lines.every((line) => Number.isSafeInteger(line.quantity) && line.quantity > 0), 'createRefund: line quantities are positive integers');
  const orderId = shopifyGid('Order', input.orderId);
  const refundInput = {
    orderId,
    note: input.note,
    notify: false,
    refundLineItems: input.lines.map((line) => ({ lineItemId: shopifyGid('LineItem', line.lineItemId), quantity: line.quantity, restockType: 'NO_RESTOCK' })),
    ...(input.shippingAmount === null ? {} : { shipping: { amount: input.shippingAmount } }),
    transactions: input.transactions.map((transaction) => ({ orderId, parentId: shopifyGid('OrderTransaction', transaction.parentId), kind: 'REFUND', gateway: transaction.gateway, amount: transaction.amount })),
  };
  const { data } = await request<unknown>(CREATE_REFUND_MUTATION, { input: refundInput, idempotencyKey: input.idempotencyKey });
  const payload = parseData(refundCreateSchema, data, 'refundCreate').refundCreate;
  if (payload.userErrors.length > 0 || payload.refund === null) {
    const message = payload.userErrors.map((error) => `${(error.field ?? []).join('.')}: ${error.message}`).join('; ') || 'refundCreate returned no refund';
    throw new AppError('connectors.shopify.refund_refused', `Shopify refused the refund of order ${orderId}: ${message}`, { userErrors: payload.userErrors, orderId });
  }
  return { refundId: payload.refund.id };
}
