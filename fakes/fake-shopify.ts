/**
 * A fake Shopify Admin GraphQL server for tests: node:http on 127.0.0.1, an ephemeral port, and only
 * the operations Continuum's client sends. It follows the facts collected in
 * shared/reference/protocols.md section B (Shopify Admin GraphQL API):
 *
 * - B1 rate limits (leaky bucket, `extensions.cost` on every response, the THROTTLED body, status 200
 *   or 429): https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits and
 *   https://shopify.dev/api/usage/limits (250-item input arrays, 1000-point single-query cap).
 * - B2 inventory mutations: https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities,
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryAdjustQuantities,
 *   https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities
 *   (changeFromQuantity mandatory in 2026-04, CHANGE_FROM_QUANTITY_STALE) and
 *   https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations
 *   (`@idempotent(key:)` required at runtime from 2026-04; a retry with the same key returns the
 *   original result).
 *
 * - Code discounts for reward codes (issue #4): discountCodeBasicCreate(basicCodeDiscount:) and
 *   discountCodeFreeShippingCreate(freeShippingCodeDiscount:) answer {codeDiscountNode {id}, userErrors};
 *   required on create: code, title, startsAt, and `context` (or the deprecated `customerSelection`);
 *   a basic one also needs customerGets {value: percentage 0–1 | discountAmount | discountOnQuantity,
 *   items}: https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/DiscountCodeBasicInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DiscountCodeFreeShippingInput.md,
 *   https://shopify.dev/docs/api/admin-graphql/2025-04/input-objects/DiscountCustomerGetsValueInput.
 *   codeDiscountNodeByCode(code:) finds one case-insensitively; discountCodeDeactivate(id:) ends it and
 *   keeps it (status EXPIRED); discountCodeDelete(id:) removes it and answers deletedCodeDiscountId:
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/queries/codeDiscountNodeByCode,
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountCodeDeactivate.md,
 *   https://shopify.dev/docs/api/admin-graphql/latest/payloads/DiscountCodeDeletePayload.md.
 *   The userError codes (BLANK, TAKEN, INVALID) and the message texts were not retrieved; invented.
 * - Promotions (issue #6): discountCodeBxgyCreate(bxgyCodeDiscount:), the …Update(id:, …) of the three
 *   code kinds, and the automatic ones discountAutomaticBasicCreate(automaticBasicDiscount:),
 *   discountAutomaticBxgyCreate(automaticBxgyDiscount:), discountAutomaticFreeShippingCreate(freeShippingAutomaticDiscount:),
 *   their …Update(id:, …) and discountAutomaticDeactivate(id:), answering {automaticDiscountNode {id},
 *   userErrors}. An automatic discount needs only a title and has no code, usage limit or
 *   once-per-customer flag (the fake rejects those fields, as GraphQL rejects a field an input type
 *   does not define). BXGY takes customerBuys {value {quantity | amount}, items} and customerGets whose
 *   value is discountOnQuantity {quantity, effect {percentage}} ("BXGY doesn't support percentage" nor
 *   discountAmount); minimumRequirement is {quantity} or {subtotal {greaterThanOrEqualToSubtotal}}:
 *   https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/DiscountCodeBxgyInput,
 *   https://shopify.dev/docs/api/admin-graphql/2026-07/input-objects/DiscountAutomaticBasicInput,
 *   https://shopify.dev/docs/api/admin-graphql/2025-04/input-objects/DiscountCustomerGetsValueInput,
 *   https://shopify.dev/docs/api/admin-graphql/2024-04/input-objects/discountminimumrequirementinput,
 *   https://shopify.dev/docs/api/admin-graphql/2026-01/payloads/DiscountAutomaticDeactivatePayload.
 *   Updates merge the fields given into the discount; an update that ends in the future (or never)
 *   makes an expired discount active again. Their userError texts were not retrieved; invented.
 *
 * - Refunds (issue #6): refundCreate(input: RefundInput!) with `@idempotent(key:)` (mandatory from
 *   2026-04, per the changelog above) answers {refund {id note totalRefundedSet}, order, userErrors
 *   {field message}} (UserError has no code); refundLineItems take restockType RETURN, CANCEL or
 *   NO_RESTOCK (LEGACY_RESTOCK "is not accepted when creating new refunds"); a REFUND transaction's
 *   parent is a SALE or CAPTURE of the order:
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/refundCreate,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/OrderTransactionInput.md,
 *   https://shopify.dev/docs/api/admin-graphql/latest/enums/RefundLineItemRestockType.md.
 *   order(id:) { transactions { id kind status gateway amountSet parentTransaction } refunds { id note } }
 *   reads an order the test set with `setOrder` (the fake knows no order it was not given).
 *   The userError messages for a quantity or an amount over what is left, and the field paths, were
 *   not retrieved; they are invented. Amounts are decimal strings with two decimals (the fake's
 *   simplification: no zero- or three-decimal currencies, no presentment currency other than the shop's).
 * - A key reused with other variables answers IDEMPOTENCY_KEY_PARAMETER_MISMATCH ("The same
 *   idempotency key cannot be used with different operation parameters", the code Shopify documents
 *   for idempotent mutations, e.g. https://shopify.dev/docs/api/admin-graphql/unstable/enums/InventoryCountUpdateMetadataUserErrorCode
 *   and https://shopify.dev/docs/api/usage/implementing-idempotency). Where Shopify puts it for
 *   mutations whose UserError has no code (refundCreate) was not retrieved: the fake answers it as a
 *   top-level error, and nothing is applied.
 *
 * Where the reference says a value was not retrieved, the fake invents one and says so in a comment:
 * the metafield and quantity-name userError codes, and the 5xx bodies.
 * Test code may use these; production code must not depend on them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  GraphQLError,
  Kind,
  parse,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { closeServer, delay, isRecord, listen, readBody, sendJson, stableStringify } from './fake-server-kit.ts';
import { createShopRecords, shopControls, shopMutationResolvers, ShopQueryFault, shopQueryResolvers, type FakeShopControls, type ShopRecords } from './fake-shopify-shop.ts';

export interface FakeShopifyOptions {
  /** The access token the fake accepts in `X-Shopify-Access-Token`. */
  token?: string;
  /** Bucket size in cost points; protocols.md B1 reports 2000 for standard plans. */
  maximumAvailable?: number;
  /** Points restored per second; Standard plan 100 (protocols.md B1). */
  restoreRate?: number;
  /** Status of a THROTTLED answer; Shopify's is disputed between 200 and 429 (protocols.md B1). */
  throttleStatus?: 200 | 429;
  /** Clock for the leaky bucket, in milliseconds; tests inject one to make waits deterministic. */
  nowMs?: () => number;
}

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export type FakeShopifyOutcome = 'executed' | 'replayed' | 'throttled' | 'failed' | 'unauthorized' | 'rejected' | 'hung';

export interface FakeShopifyRequest {
  /** Root field names of the operation, comma-separated (`inventorySetQuantities`). */
  operation: string;
  variables: Record<string, unknown>;
  idempotencyKey: string | null;
  status: number;
  outcome: FakeShopifyOutcome;
}

export interface FakeMetafield {
  id: string;
  ownerId: string;
  namespace: string;
  key: string;
  type: string;
  value: string;
}

/** A code discount as the fake holds it: the create input as sent, plus its id and status. */
export interface FakeCodeDiscount {
  id: string;
  type: 'DiscountCodeBasic' | 'DiscountCodeFreeShipping' | 'DiscountCodeBxgy';
  code: string;
  title: string;
  /** ACTIVE until deactivated, then EXPIRED (Shopify ends a deactivated discount now). */
  status: 'ACTIVE' | 'EXPIRED';
  startsAt: string;
  endsAt: string | null;
  usageLimit: number | null;
  appliesOncePerCustomer: boolean;
  /** `context` or, from older clients, `customerSelection`, as sent. */
  context: Record<string, unknown>;
  customerGets: Record<string, unknown> | null;
  destination: Record<string, unknown> | null;
  /** Every field as sent by the create and the updates since, merged. */
  input: Record<string, unknown>;
}

/** An automatic discount as the fake holds it: every field sent, merged, with its id and status. */
export interface FakeAutomaticDiscount {
  id: string;
  type: 'DiscountAutomaticBasic' | 'DiscountAutomaticBxgy' | 'DiscountAutomaticFreeShipping';
  title: string;
  status: 'ACTIVE' | 'EXPIRED';
  startsAt: string;
  endsAt: string | null;
  input: Record<string, unknown>;
}

/** An order the fake can refund: its line items, shipping and payment transactions, as the test sets them. */
export interface FakeShopifyOrderInput {
  /** Numeric id or `gid://shopify/Order/…`. */
  id: string;
  /** Shop (and presentment) currency; default USD. */
  currency?: string;
  lineItems: { id: string; quantity: number }[];
  /** Shipping charged, a decimal; default "0.00". */
  shippingAmount?: string;
  transactions: { id: string; kind: 'SALE' | 'CAPTURE' | 'AUTHORIZATION'; status?: 'SUCCESS' | 'PENDING' | 'FAILURE'; gateway: string; amount: string }[];
}

/** A refund the fake made, as refundCreate received it, with the ids it gave. */
export interface FakeShopifyRefund {
  /** `gid://shopify/Refund/<n>`. */
  id: string;
  orderId: string;
  note: string | null;
  notify: boolean;
  idempotencyKey: string | null;
  lineItems: { lineItemId: string; quantity: number; restockType: string }[];
  shippingAmount: string | null;
  transactions: { id: string; parentId: string; kind: 'REFUND'; gateway: string; amount: string }[];
  createdAt: string;
}

export interface FakeShopify extends FakeShopControls {
  /** The GraphQL endpoint, `http://127.0.0.1:<port>/admin/api/2026-04/graphql.json`. */
  url: string;
  token: string;
  /** Every request received, in order, including failed, throttled and unauthorized ones. */
  requests: FakeShopifyRequest[];
  setQuantity(inventoryItemId: string, locationId: string, quantity: number, name?: string): void;
  quantity(inventoryItemId: string, locationId: string, name?: string): number;
  metafields(ownerId: string): FakeMetafield[];
  customer(customerId: string): Record<string, unknown> | undefined;
  /** The code discount with this code (case-insensitive), unless deleted. */
  codeDiscount(code: string): FakeCodeDiscount | undefined;
  codeDiscounts(): FakeCodeDiscount[];
  /** Automatic discounts, oldest first. */
  automaticDiscounts(): FakeAutomaticDiscount[];
  /** An order refundCreate and order(id:) know; setting it again replaces it (and forgets its refunds). */
  setOrder(order: FakeShopifyOrderInput): void;
  /** Every refund made, oldest first; with `orderId` (numeric or GID), that order's only. */
  refunds(orderId?: string): FakeShopifyRefund[];
  /**
   * The next `count` requests answer `status` (500 or 503) without being executed; with `operation`,
   * only requests whose root field is `operation` (`refundCreate`) fail, the others are executed.
   */
  failNext(count: number, status?: number, operation?: string): void;
  /** The next `count` requests answer THROTTLED whatever the bucket holds. */
  throttleNext(count: number): void;
  /** The next `count` requests are delayed by `delayMs` before being handled (and still executed). */
  slowNext(count: number, delayMs: number): void;
  /** The next `count` requests are read and never answered (until the fake closes): a client's timeout must end them. */
  hangNext(count: number): void;
  /** The next `count` queries answer the version before the latest of each product and customer, as a lagging replica would. */
  answerStaleNext(count: number): void;
  /** Empties the leaky bucket; it refills at `restoreRate` points per second of `nowMs`. */
  drainBucket(): void;
  /** Fills the leaky bucket, as a long pause would: tests that read a lot without a virtual clock need not wait. */
  fillBucket(): void;
  throttleStatusNow(): ThrottleStatus;
  close(): Promise<void>;
}

const DEFAULT_TOKEN = 'shpat_TEST_ONLY_fake_admin_token';
const DEFAULT_MAXIMUM_AVAILABLE = 2000;
const DEFAULT_RESTORE_RATE = 100;
const MUTATION_FIELD_COST = 10;
const SINGLE_QUERY_COST_MAX = 1000;
const INPUT_ARRAY_ITEMS_MAX = 250;
const REQUEST_BODY_BYTES_MAX = 1_000_000;
const API_PATH_PATTERN = /^\/admin\/api\/[^/]+\/graphql\.json$/;
const SETTABLE_QUANTITY_NAMES = new Set(['available', 'on_hand']);
const THROTTLED_DOCUMENTATION_URL = 'https://shopify.dev/api/usage/rate-limits';
const UNAUTHORIZED_MESSAGE = '[API] Invalid API key or access token (unrecognized login or wrong password)';

/** A top-level GraphQL error: the whole request is rejected and nothing is written. */
class TopLevelFault extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

type FieldResolver = (args: Record<string, unknown>) => unknown;
/** `idempotencyKey`: the key of the field's `@idempotent` directive, null without one. */
type RootResolver = (args: Record<string, unknown>, idempotencyKey: string | null) => unknown;

interface FakeOrderTransaction {
  id: string;
  kind: string;
  status: string;
  gateway: string;
  amountCents: number;
  parentId: string | null;
}

interface FakeOrder {
  id: string;
  currency: string;
  lineItems: Map<string, { quantity: number; refunded: number }>;
  shippingCents: number;
  shippingRefundedCents: number;
  transactions: FakeOrderTransaction[];
}

interface FakeState {
  quantities: Map<string, number>;
  metafields: Map<string, FakeMetafield>;
  customers: Map<string, Record<string, unknown>>;
  idempotentResults: Map<string, { fingerprint: string; result: unknown }>;
  /** By upper-case code: Shopify codes are unique per store and case-insensitive. */
  codeDiscounts: Map<string, FakeCodeDiscount>;
  /** By node GID. */
  automaticDiscounts: Map<string, FakeAutomaticDiscount>;
  /** By order GID. */
  orders: Map<string, FakeOrder>;
  refunds: FakeShopifyRefund[];
  sequence: number;
  /** Products, locations, customers, listed orders and webhook subscriptions (fake-shopify-shop.ts). */
  shop: ShopRecords;
}

interface LeakyBucket {
  tryCharge(cost: number): boolean;
  status(): ThrottleStatus;
  drain(): void;
  fill(): void;
}

interface Injections {
  failures: { count: number; status: number; operation: string | null };
  throttles: number;
  delays: { count: number; delayMs: number };
  hangs: number;
  staleReads: number;
}

interface ParsedRequest {
  operation: OperationDefinitionNode;
  rootFields: FieldNode[];
  variables: Record<string, unknown>;
}

interface Reply {
  status: number;
  body: unknown;
  outcome: FakeShopifyOutcome;
}

export async function startFakeShopify(options: FakeShopifyOptions = {}): Promise<FakeShopify> {
  const token = options.token ?? DEFAULT_TOKEN;
  const nowMs = options.nowMs ?? (() => performance.now());
  const bucket = createLeakyBucket(options.maximumAvailable ?? DEFAULT_MAXIMUM_AVAILABLE, options.restoreRate ?? DEFAULT_RESTORE_RATE, nowMs);
  const state: FakeState = { quantities: new Map(), metafields: new Map(), customers: new Map(), idempotentResults: new Map(), codeDiscounts: new Map(), automaticDiscounts: new Map(), orders: new Map(), refunds: [], sequence: 0, shop: createShopRecords() };
  const injections: Injections = { failures: { count: 0, status: 503, operation: null }, throttles: 0, delays: { count: 0, delayMs: 0 }, hangs: 0, staleReads: 0 };
  const requests: FakeShopifyRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const context: HandlerContext = { token, bucket, state, injections, requests, throttleHttpStatus: options.throttleStatus ?? 200 };

  const server = createServer((request, response) => {
    void handleHttpRequest(context, request, response, timers).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { errors: String(error) });
    });
  });
  const port = await listen(server);

  return {
    url: `http://127.0.0.1:${port}/admin/api/2026-04/graphql.json`,
    token,
    requests,
    setQuantity: (inventoryItemId, locationId, quantity, name = 'available') => {
      state.quantities.set(quantityKey(inventoryItemId, locationId, name), quantity);
      state.shop.levelUpdatedAt.set(`${inventoryItemId}|${locationId}`, new Date().toISOString());
    },
    quantity: (inventoryItemId, locationId, name = 'available') => readQuantity(state, inventoryItemId, locationId, name),
    metafields: (ownerId) => [...state.metafields.values()].filter((metafield) => metafield.ownerId === ownerId),
    customer: (customerId) => state.customers.get(customerId),
    codeDiscount: (code) => state.codeDiscounts.get(code.toUpperCase()),
    codeDiscounts: () => [...state.codeDiscounts.values()],
    automaticDiscounts: () => [...state.automaticDiscounts.values()],
    setOrder: (order) => setOrder(state, order),
    refunds: (orderId) => state.refunds.filter((refund) => orderId === undefined || refund.orderId === orderGid(orderId)).map((refund) => structuredClone(refund)),
    failNext: (count, status = 503, operation) => {
      injections.failures = { count, status, operation: operation ?? null };
    },
    throttleNext: (count) => {
      injections.throttles = count;
    },
    slowNext: (count, delayMs) => {
      injections.delays = { count, delayMs };
    },
    hangNext: (count) => {
      injections.hangs = count;
    },
    answerStaleNext: (count) => {
      injections.staleReads = count;
    },
    ...shopControls(state.shop),
    drainBucket: () => bucket.drain(),
    fillBucket: () => bucket.fill(),
    throttleStatusNow: () => bucket.status(),
    close: () => closeServer(server, timers),
  };
}

interface HandlerContext {
  token: string;
  bucket: LeakyBucket;
  state: FakeState;
  injections: Injections;
  requests: FakeShopifyRequest[];
  throttleHttpStatus: 200 | 429;
}

async function handleHttpRequest(context: HandlerContext, request: IncomingMessage, response: ServerResponse, timers: Set<NodeJS.Timeout>): Promise<void> {
  const bodyText = await readBody(request, REQUEST_BODY_BYTES_MAX);
  if (context.injections.hangs > 0) {
    context.injections.hangs -= 1;
    context.requests.push({ operation: '', variables: {}, idempotencyKey: null, status: 0, outcome: 'hung' });
    return;
  }
  const { delays } = context.injections;
  if (delays.count > 0) {
    delays.count -= 1;
    await delay(delays.delayMs, timers);
  }
  const reply = handleGraphqlRequest(context, request, bodyText);
  if (!response.destroyed) sendJson(response, reply.status, reply.body);
}

/** Decides the answer to one request; the order of checks mirrors what a client can observe. */
function handleGraphqlRequest(context: HandlerContext, request: IncomingMessage, bodyText: string): Reply {
  const record: FakeShopifyRequest = { operation: '', variables: {}, idempotencyKey: null, status: 0, outcome: 'rejected' };
  context.requests.push(record);
  const reply = decideReply(context, request, bodyText, record);
  record.status = reply.status;
  record.outcome = reply.outcome;
  return reply;
}

function decideReply(context: HandlerContext, request: IncomingMessage, bodyText: string, record: FakeShopifyRequest): Reply {
  const { failures } = context.injections;
  // The body of a Shopify 5xx was not retrieved (protocols.md); this one is invented.
  const failed: Reply = { status: failures.status, body: { errors: 'Internal Server Error' }, outcome: 'failed' };
  if (failures.count > 0 && failures.operation === null) {
    failures.count -= 1;
    return failed;
  }
  if (request.method !== 'POST' || !API_PATH_PATTERN.test(new URL(request.url ?? '/', 'http://fake').pathname)) {
    return { status: 404, body: { errors: 'Not Found' }, outcome: 'rejected' };
  }
  if (request.headers['x-shopify-access-token'] !== context.token) {
    return { status: 401, body: { errors: UNAUTHORIZED_MESSAGE }, outcome: 'unauthorized' };
  }
  const parsed = parseGraphqlBody(bodyText);
  if (!('operation' in parsed)) return parsed;
  record.operation = parsed.rootFields.map((field) => field.name.value).join(',');
  record.variables = parsed.variables;
  const firstField = parsed.rootFields[0];
  record.idempotencyKey = firstField === undefined ? null : readIdempotencyKey(firstField, parsed.variables);
  if (failures.count > 0 && parsed.rootFields.some((field) => field.name.value === failures.operation)) {
    failures.count -= 1;
    return failed;
  }
  return chargeAndExecute(context, parsed);
}

function chargeAndExecute(context: HandlerContext, parsed: ParsedRequest): Reply {
  const requestedQueryCost = computeRequestedCost(parsed);
  if (requestedQueryCost > SINGLE_QUERY_COST_MAX) {
    const message = `Query cost is ${requestedQueryCost}, which exceeds the single query max cost limit (${SINGLE_QUERY_COST_MAX}).`;
    const cost = costExtension(requestedQueryCost, null, context.bucket.status());
    return { status: 200, body: { errors: [{ message, extensions: { code: 'MAX_COST_EXCEEDED', cost: requestedQueryCost, maxCost: SINGLE_QUERY_COST_MAX } }], extensions: { cost } }, outcome: 'rejected' };
  }
  const forcedThrottle = context.injections.throttles > 0;
  if (forcedThrottle) context.injections.throttles -= 1;
  if (forcedThrottle || !context.bucket.tryCharge(requestedQueryCost)) {
    return throttledReply(context, requestedQueryCost);
  }
  const cost = costExtension(requestedQueryCost, requestedQueryCost, context.bucket.status());
  const stale = parsed.operation.operation === 'query' && context.injections.staleReads > 0;
  if (stale) context.injections.staleReads -= 1;
  try {
    const { data, replayed } = executeOperation(context.state, parsed, { stale });
    return { status: 200, body: { data, extensions: { cost } }, outcome: replayed ? 'replayed' : 'executed' };
  } catch (error) {
    if (!(error instanceof TopLevelFault || error instanceof ShopQueryFault)) throw error;
    return { status: 200, body: { errors: [{ message: error.message, extensions: { code: error.code } }], extensions: { cost } }, outcome: 'rejected' };
  }
}

/** The throttled body as quoted in protocols.md B1: no `data`, `actualQueryCost: null`. */
function throttledReply(context: HandlerContext, requestedQueryCost: number): Reply {
  const body = {
    errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: THROTTLED_DOCUMENTATION_URL } }],
    extensions: { cost: costExtension(requestedQueryCost, null, context.bucket.status()) },
  };
  return { status: context.throttleHttpStatus, body, outcome: 'throttled' };
}

function costExtension(requestedQueryCost: number, actualQueryCost: number | null, throttleStatus: ThrottleStatus) {
  return { requestedQueryCost, actualQueryCost, throttleStatus };
}

function parseGraphqlBody(bodyText: string): ParsedRequest | Reply {
  let body: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    body = JSON.parse(bodyText) as typeof body;
  } catch {
    return { status: 400, body: { errors: 'Bad Request: the body is not JSON' }, outcome: 'rejected' };
  }
  if (typeof body.query !== 'string') return { status: 400, body: { errors: { query: 'Required parameter missing or invalid' } }, outcome: 'rejected' };
  let document: DocumentNode;
  try {
    document = parse(body.query);
  } catch (error) {
    const message = error instanceof GraphQLError ? error.message : String(error);
    return { status: 200, body: { errors: [{ message, extensions: { code: 'PARSE_ERROR' } }] }, outcome: 'rejected' };
  }
  const operation = selectOperation(document, typeof body.operationName === 'string' ? body.operationName : undefined);
  if (operation === undefined) return { status: 200, body: { errors: [{ message: 'No operation to execute.' }] }, outcome: 'rejected' };
  const variables = isRecord(body.variables) ? body.variables : {};
  return { operation, rootFields: fieldsOf(operation.selectionSet), variables };
}

function selectOperation(document: DocumentNode, operationName: string | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  if (operationName === undefined) return operations.length === 1 ? operations[0] : undefined;
  return operations.find((operation) => operation.name?.value === operationName);
}

/**
 * Shopify's calculated cost, simplified: each mutation field costs 10 and each object field of a
 * query costs 1 (scalars are free), so a query costs at least 1. A connection (a field selecting
 * `nodes` or `edges`) costs 2 plus `first` times the cost of one node, as the rate-limits page
 * says ("two points plus the number of objects returned", counted for the worst case requested).
 */
function computeRequestedCost(parsed: ParsedRequest): number {
  if (parsed.operation.operation === 'mutation') return MUTATION_FIELD_COST * parsed.rootFields.length;
  return Math.max(1, countObjectFields(parsed.operation.selectionSet, parsed.variables));
}

function countObjectFields(selectionSet: SelectionSetNode, variables: Record<string, unknown>): number {
  let count = 0;
  for (const field of fieldsOf(selectionSet)) {
    if (field.selectionSet === undefined) continue;
    const connectionNodes = fieldsOf(field.selectionSet).find((child) => child.name.value === 'nodes' || child.name.value === 'edges');
    if (connectionNodes?.selectionSet === undefined) {
      count += 1 + countObjectFields(field.selectionSet, variables);
      continue;
    }
    const first = argumentsOf(field, variables).first;
    const nodeCost = connectionNodes.name.value === 'nodes' ? 1 + countObjectFields(connectionNodes.selectionSet, variables) : countObjectFields(connectionNodes.selectionSet, variables);
    count += 2 + (typeof first === 'number' && first > 0 ? first : 1) * nodeCost;
  }
  return count;
}

function executeOperation(state: FakeState, parsed: ParsedRequest, options: { stale: boolean }): { data: Record<string, unknown>; replayed: boolean } {
  const isMutation = parsed.operation.operation === 'mutation';
  const resolvers = isMutation ? { ...mutationResolvers(state), ...shopMutationResolvers(state.shop) } : { ...queryResolvers(state), ...shopQueryResolvers(state.shop, shopLookups(state), options) };
  const typeName = isMutation ? 'Mutation' : 'QueryRoot';
  for (const field of parsed.rootFields) {
    if (resolvers[field.name.value] === undefined) throw new TopLevelFault(`Field '${field.name.value}' doesn't exist on type '${typeName}'`, 'undefinedField');
  }
  const data: Record<string, unknown> = {};
  let replayed = false;
  for (const field of parsed.rootFields) {
    const resolver = resolvers[field.name.value];
    if (resolver === undefined) continue;
    const args = argumentsOf(field, parsed.variables);
    const outcome = isMutation && requiresIdempotency(field.name.value) ? resolveIdempotently(state, field, args, parsed.variables, resolver) : { result: resolver(args, readIdempotencyKey(field, parsed.variables)), replayed: false };
    replayed = replayed || outcome.replayed;
    data[field.alias?.value ?? field.name.value] = project(outcome.result, field.selectionSet, parsed.variables);
  }
  return { data, replayed };
}

/**
 * The changelog names refundCreate and inventoryAdjustQuantities among the covered mutations;
 * protocols.md leaves inventorySetQuantities unconfirmed. The fake requires the directive on all
 * three, the stricter choice.
 */
function requiresIdempotency(fieldName: string): boolean {
  return fieldName === 'inventoryAdjustQuantities' || fieldName === 'inventorySetQuantities' || fieldName === 'refundCreate';
}

/**
 * Same key and same arguments: the stored original result, nothing applied again. Same key and other
 * arguments: rejected with IDEMPOTENCY_KEY_PARAMETER_MISMATCH (see the header). A missing directive:
 * IDEMPOTENCY_KEY_REQUIRED, invented (its code was not retrieved).
 */
function resolveIdempotently(state: FakeState, field: FieldNode, args: Record<string, unknown>, variables: Record<string, unknown>, resolver: RootResolver): { result: unknown; replayed: boolean } {
  const key = readIdempotencyKey(field, variables);
  if (key === null) {
    throw new TopLevelFault(`The @idempotent directive is required for ${field.name.value} from API version 2026-04.`, 'IDEMPOTENCY_KEY_REQUIRED');
  }
  const fingerprint = `${field.name.value}:${stableStringify(args)}`;
  const stored = state.idempotentResults.get(key);
  if (stored !== undefined) {
    if (stored.fingerprint !== fingerprint) {
      throw new TopLevelFault('The same idempotency key cannot be used with different operation parameters.', 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
    }
    return { result: stored.result, replayed: true };
  }
  const result = resolver(args, key);
  state.idempotentResults.set(key, { fingerprint, result });
  return { result, replayed: false };
}

function readIdempotencyKey(field: FieldNode, variables: Record<string, unknown>): string | null {
  const directive = field.directives?.find((candidate) => candidate.name.value === 'idempotent');
  const argument = directive?.arguments?.find((candidate) => candidate.name.value === 'key');
  if (argument === undefined) return null;
  const key = valueFromASTUntyped(argument.value, variables);
  return typeof key === 'string' && key.length > 0 ? key : null;
}

/** The quantities and metafields the shop's records read (fake-shopify-shop.ts). */
function shopLookups(state: FakeState) {
  return {
    readQuantity: (inventoryItemId: string, locationId: string, name: string) => readQuantity(state, inventoryItemId, locationId, name),
    itemsAt: (locationId: string) => [...state.quantities.keys()].map((key) => key.split('\u0000')).filter(([, location, name]) => location === locationId && name === 'available').map(([item]) => item!),
    metafieldValue: (ownerId: string, namespace: string, key: string) => state.metafields.get(`${ownerId}\u0000${namespace}\u0000${key}`)?.value ?? null,
  };
}

function queryResolvers(state: FakeState): Record<string, RootResolver> {
  return {
    codeDiscountNodeByCode: (args) => {
      const discount = state.codeDiscounts.get(requireString(args.code, 'code').toUpperCase());
      return discount === undefined ? null : codeDiscountNode(discount);
    },
    inventoryItem: (args) => {
      const inventoryItemId = requireString(args.id, 'id');
      return {
        __typename: 'InventoryItem',
        id: inventoryItemId,
        inventoryLevel: ((levelArgs) => inventoryLevelOf(state, inventoryItemId, requireString(levelArgs.locationId, 'locationId'))) satisfies FieldResolver,
      };
    },
    order: (args) => {
      const order = state.orders.get(orderGid(requireString(args.id, 'id')));
      return order === undefined ? null : orderNode(state, order);
    },
  };
}

/** Unknown items and levels read as 0 so tests need no set-up; real Shopify would answer null. */
function inventoryLevelOf(state: FakeState, inventoryItemId: string, locationId: string) {
  return {
    __typename: 'InventoryLevel',
    id: `gid://shopify/InventoryLevel/${encodeURIComponent(`${inventoryItemId}|${locationId}`)}`,
    quantities: ((args) => {
      const names = Array.isArray(args.names) ? args.names.filter((name): name is string => typeof name === 'string') : [];
      return names.map((name) => ({ __typename: 'InventoryQuantity', name, quantity: readQuantity(state, inventoryItemId, locationId, name) }));
    }) satisfies FieldResolver,
  };
}

function mutationResolvers(state: FakeState): Record<string, RootResolver> {
  return {
    inventorySetQuantities: (args) => setQuantities(state, requireRecord(args.input, 'input')),
    inventoryAdjustQuantities: (args) => adjustQuantities(state, requireRecord(args.input, 'input')),
    metafieldsSet: (args) => setMetafields(state, requireArray(args.metafields, 'metafields')),
    customerUpdate: (args) => updateCustomer(state, requireRecord(args.input, 'input')),
    discountCodeBasicCreate: (args) => createCodeDiscount(state, 'DiscountCodeBasic', requireRecord(args.basicCodeDiscount, 'basicCodeDiscount')),
    discountCodeFreeShippingCreate: (args) => createCodeDiscount(state, 'DiscountCodeFreeShipping', requireRecord(args.freeShippingCodeDiscount, 'freeShippingCodeDiscount')),
    discountCodeDeactivate: (args) => deactivateCodeDiscount(state, requireString(args.id, 'id')),
    discountCodeDelete: (args) => deleteCodeDiscount(state, requireString(args.id, 'id')),
    discountCodeBxgyCreate: (args) => createCodeDiscount(state, 'DiscountCodeBxgy', requireRecord(args.bxgyCodeDiscount, 'bxgyCodeDiscount')),
    discountCodeBasicUpdate: (args) => updateCodeDiscount(state, 'DiscountCodeBasic', requireString(args.id, 'id'), requireRecord(args.basicCodeDiscount, 'basicCodeDiscount')),
    discountCodeBxgyUpdate: (args) => updateCodeDiscount(state, 'DiscountCodeBxgy', requireString(args.id, 'id'), requireRecord(args.bxgyCodeDiscount, 'bxgyCodeDiscount')),
    discountCodeFreeShippingUpdate: (args) => updateCodeDiscount(state, 'DiscountCodeFreeShipping', requireString(args.id, 'id'), requireRecord(args.freeShippingCodeDiscount, 'freeShippingCodeDiscount')),
    discountAutomaticBasicCreate: (args) => createAutomaticDiscount(state, 'DiscountAutomaticBasic', requireRecord(args.automaticBasicDiscount, 'automaticBasicDiscount')),
    discountAutomaticBxgyCreate: (args) => createAutomaticDiscount(state, 'DiscountAutomaticBxgy', requireRecord(args.automaticBxgyDiscount, 'automaticBxgyDiscount')),
    discountAutomaticFreeShippingCreate: (args) => createAutomaticDiscount(state, 'DiscountAutomaticFreeShipping', requireRecord(args.freeShippingAutomaticDiscount, 'freeShippingAutomaticDiscount')),
    discountAutomaticBasicUpdate: (args) => updateAutomaticDiscount(state, 'DiscountAutomaticBasic', requireString(args.id, 'id'), requireRecord(args.automaticBasicDiscount, 'automaticBasicDiscount')),
    discountAutomaticBxgyUpdate: (args) => updateAutomaticDiscount(state, 'DiscountAutomaticBxgy', requireString(args.id, 'id'), requireRecord(args.automaticBxgyDiscount, 'automaticBxgyDiscount')),
    discountAutomaticFreeShippingUpdate: (args) => updateAutomaticDiscount(state, 'DiscountAutomaticFreeShipping', requireString(args.id, 'id'), requireRecord(args.freeShippingAutomaticDiscount, 'freeShippingAutomaticDiscount')),
    discountAutomaticDeactivate: (args) => deactivateAutomaticDiscount(state, requireString(args.id, 'id')),
    refundCreate: (args, idempotencyKey) => createRefund(state, requireRecord(args.input, 'input'), idempotencyKey),
  };
}

interface QuantityChange {
  inventoryItemId: string;
  locationId: string;
  delta: number;
  changeFromQuantity: number | null;
}

function setQuantities(state: FakeState, input: Record<string, unknown>) {
  const name = requireString(input.name, 'input.name');
  const reason = requireString(input.reason, 'input.reason');
  if (!SETTABLE_QUANTITY_NAMES.has(name)) {
    // The userError code for a wrong name was not retrieved; INVALID_NAME is invented.
    return { inventoryAdjustmentGroup: null, userErrors: [{ field: ['input', 'name'], message: 'The quantity name must be available or on_hand.', code: 'INVALID_NAME' }] };
  }
  const quantities = requireInputArray(input.quantities, 'input.quantities');
  const changes = quantities.map((entry, index) => {
    const quantity = requireRecord(entry, `input.quantities.${index}`);
    if (!('changeFromQuantity' in quantity)) {
      throw new TopLevelFault(`Variable $input of type InventorySetQuantitiesInput! was provided invalid value for quantities.${index}.changeFromQuantity (Expected value to not be null)`, 'INVALID_VARIABLE');
    }
    const inventoryItemId = requireString(quantity.inventoryItemId, 'inventoryItemId');
    const locationId = requireString(quantity.locationId, 'locationId');
    const target = requireInteger(quantity.quantity, 'quantity');
    const delta = target - readQuantity(state, inventoryItemId, locationId, name);
    return { inventoryItemId, locationId, delta, changeFromQuantity: optionalInteger(quantity.changeFromQuantity, 'changeFromQuantity') };
  });
  return applyChanges(state, { name, reason, referenceDocumentUri: input.referenceDocumentUri, changes, listField: 'quantities' });
}

function adjustQuantities(state: FakeState, input: Record<string, unknown>) {
  const name = requireString(input.name, 'input.name');
  const reason = requireString(input.reason, 'input.reason');
  const entries = requireInputArray(input.changes, 'input.changes');
  const changes: QuantityChange[] = [];
  for (const [index, entry] of entries.entries()) {
    const change = requireRecord(entry, `input.changes.${index}`);
    const ledgerError = checkLedgerDocumentUri(name, change.ledgerDocumentUri, index);
    if (ledgerError !== null) return { inventoryAdjustmentGroup: null, userErrors: [ledgerError] };
    changes.push({
      inventoryItemId: requireString(change.inventoryItemId, 'inventoryItemId'),
      locationId: requireString(change.locationId, 'locationId'),
      delta: requireInteger(change.delta, 'delta'),
      changeFromQuantity: optionalInteger(change.changeFromQuantity, 'changeFromQuantity'),
    });
  }
  return applyChanges(state, { name, reason, referenceDocumentUri: input.referenceDocumentUri, changes, listField: 'changes' });
}

/**
 * protocols.md B2: ledgerDocumentUri is required for every name except `available`, where it is not
 * allowed. Shopify's userError code for this was not retrieved; INVALID_LEDGER_DOCUMENT is invented.
 */
function checkLedgerDocumentUri(name: string, ledgerDocumentUri: unknown, index: number) {
  const present = typeof ledgerDocumentUri === 'string' && ledgerDocumentUri.length > 0;
  if (name === 'available' && present) {
    return { field: ['input', 'changes', String(index), 'ledgerDocumentUri'], message: 'A ledger document URI is not allowed when adjusting available.', code: 'INVALID_LEDGER_DOCUMENT' };
  }
  if (name !== 'available' && !present) {
    return { field: ['input', 'changes', String(index), 'ledgerDocumentUri'], message: 'A ledger document URI is required for this quantity name.', code: 'INVALID_LEDGER_DOCUMENT' };
  }
  return null;
}

interface ChangeRequest {
  name: string;
  reason: string;
  referenceDocumentUri: unknown;
  changes: QuantityChange[];
  listField: 'quantities' | 'changes';
}

/** Compare-and-swap on every change first; a single stale entry changes nothing (protocols.md B2). */
function applyChanges(state: FakeState, request: ChangeRequest) {
  const userErrors = request.changes.flatMap((change, index) => {
    const current = readQuantity(state, change.inventoryItemId, change.locationId, request.name);
    if (change.changeFromQuantity === null || change.changeFromQuantity === current) return [];
    return [{ field: ['input', request.listField, String(index), 'changeFromQuantity'], message: 'The specified compare quantity does not match the current quantity.', code: 'CHANGE_FROM_QUANTITY_STALE' }];
  });
  if (userErrors.length > 0) return { inventoryAdjustmentGroup: null, userErrors };
  const changes = request.changes.map((change) => {
    const key = quantityKey(change.inventoryItemId, change.locationId, request.name);
    const quantityAfterChange = (state.quantities.get(key) ?? 0) + change.delta;
    state.quantities.set(key, quantityAfterChange);
    state.shop.levelUpdatedAt.set(`${change.inventoryItemId}|${change.locationId}`, new Date().toISOString());
    return { name: request.name, delta: change.delta, quantityAfterChange, item: { id: change.inventoryItemId }, location: { id: change.locationId } };
  });
  state.sequence += 1;
  const referenceDocumentUri = typeof request.referenceDocumentUri === 'string' ? request.referenceDocumentUri : null;
  const group = { id: `gid://shopify/InventoryAdjustmentGroup/${state.sequence}`, createdAt: new Date().toISOString(), reason: request.reason, referenceDocumentUri, changes };
  return { inventoryAdjustmentGroup: group, userErrors: [] };
}

/** metafieldsSet takes at most 25 metafields and applies them all or none (its documented contract). */
const METAFIELDS_SET_MAX = 25;

function setMetafields(state: FakeState, inputs: unknown[]) {
  if (inputs.length > METAFIELDS_SET_MAX) throw new TopLevelFault(`The input array size of ${inputs.length} is greater than the maximum allowed of ${METAFIELDS_SET_MAX}.`, 'MAX_INPUT_SIZE_EXCEEDED');
  const entries = inputs.map((entry, index) => requireRecord(entry, `metafields.${index}`));
  const userErrors = entries.flatMap((entry, index) => {
    // The userError codes for a malformed value and a deleted owner were not retrieved; INVALID_VALUE and INVALID are invented.
    if (entry.type === 'number_integer' && !/^-?\d+$/.test(String(entry.value))) {
      return [{ field: ['metafields', String(index), 'value'], message: 'Value must be an integer.', code: 'INVALID_VALUE', elementIndex: index }];
    }
    if (state.shop.deletedCustomers.has(String(entry.ownerId))) {
      return [{ field: ['metafields', String(index), 'ownerId'], message: 'Owner does not exist.', code: 'INVALID', elementIndex: index }];
    }
    return [];
  });
  if (userErrors.length > 0) return { metafields: [], userErrors };
  const metafields = entries.map((entry) => storeMetafield(state, entry));
  return { metafields, userErrors: [] };
}

function storeMetafield(state: FakeState, entry: Record<string, unknown>): FakeMetafield {
  const ownerId = requireString(entry.ownerId, 'ownerId');
  const namespace = requireString(entry.namespace, 'namespace');
  const key = requireString(entry.key, 'key');
  const storageKey = `${ownerId}\u0000${namespace}\u0000${key}`;
  const existing = state.metafields.get(storageKey);
  state.sequence += 1;
  const metafield: FakeMetafield = {
    id: existing?.id ?? `gid://shopify/Metafield/${state.sequence}`,
    ownerId,
    namespace,
    key,
    type: requireString(entry.type ?? existing?.type, 'type'),
    value: requireString(entry.value, 'value'),
  };
  state.metafields.set(storageKey, metafield);
  return metafield;
}

function updateCustomer(state: FakeState, input: Record<string, unknown>) {
  const customerId = requireString(input.id, 'input.id');
  const customer = { ...(state.customers.get(customerId) ?? {}), ...input, id: customerId };
  state.customers.set(customerId, customer);
  return { customer, userErrors: [] };
}

function codeDiscountNode(discount: FakeCodeDiscount) {
  return {
    __typename: 'DiscountCodeNode',
    id: discount.id,
    codeDiscount: { __typename: discount.type, title: discount.title, status: discount.status, startsAt: discount.startsAt, endsAt: discount.endsAt, usageLimit: discount.usageLimit, appliesOncePerCustomer: discount.appliesOncePerCustomer },
  };
}

type DiscountUserError = { field: string[]; message: string; code: string };

/** The userErrors of a create input; empty when it may be stored. Field paths start at the argument name. */
function checkCodeDiscountInput(state: FakeState, type: FakeCodeDiscount['type'], argument: string, input: Record<string, unknown>): DiscountUserError[] {
  const errors: DiscountUserError[] = [];
  const blank = (field: string) => errors.push({ field: [argument, field], message: `${field} can't be blank.`, code: 'BLANK' });
  for (const field of ['code', 'title', 'startsAt']) if (typeof input[field] !== 'string' || input[field] === '') blank(field);
  const hasContext = isRecord(input.context);
  const hasSelection = isRecord(input.customerSelection);
  if (!hasContext && !hasSelection) blank('context');
  if (hasContext && hasSelection) errors.push({ field: [argument, 'context'], message: 'Only one of context or customerSelection can be provided.', code: 'INVALID' });
  if (typeof input.code === 'string' && state.codeDiscounts.has(input.code.toUpperCase())) errors.push({ field: [argument, 'code'], message: 'Code must be unique. Please try a different code.', code: 'TAKEN' });
  if (input.usageLimit !== undefined && input.usageLimit !== null && (typeof input.usageLimit !== 'number' || !Number.isSafeInteger(input.usageLimit) || input.usageLimit < 1)) {
    errors.push({ field: [argument, 'usageLimit'], message: 'Usage limit must be greater than 0.', code: 'INVALID' });
  }
  if (type === 'DiscountCodeBasic') errors.push(...checkCustomerGets(argument, input.customerGets));
  if (type === 'DiscountCodeBxgy') errors.push(...checkBuyGet(argument, input));
  errors.push(...checkMinimumRequirement(argument, input.minimumRequirement));
  return errors;
}

/** BXGY: customerBuys with items and a quantity or amount; customerGets valued only by discountOnQuantity. */
function checkBuyGet(argument: string, input: Record<string, unknown>): DiscountUserError[] {
  const errors: DiscountUserError[] = [];
  const buys = input.customerBuys;
  if (!isRecord(buys) || !isRecord(buys.items) || !isRecord(buys.value)) errors.push({ field: [argument, 'customerBuys'], message: 'customerBuys needs items and a value.', code: 'BLANK' });
  else if ((buys.value.quantity === undefined) === (buys.value.amount === undefined)) errors.push({ field: [argument, 'customerBuys', 'value'], message: 'Give either a quantity or an amount.', code: 'INVALID' });
  const gets = input.customerGets;
  if (!isRecord(gets) || !isRecord(gets.items)) return [...errors, { field: [argument, 'customerGets'], message: 'customerGets needs items and a value.', code: 'BLANK' }];
  const value = isRecord(gets.value) ? gets.value : {};
  if (value.percentage !== undefined || value.discountAmount !== undefined) errors.push({ field: [argument, 'customerGets', 'value'], message: "BXGY doesn't support percentage or discountAmount; use discountOnQuantity.", code: 'INVALID' });
  const onQuantity = value.discountOnQuantity;
  if (!isRecord(onQuantity) || onQuantity.quantity === undefined || !isRecord(onQuantity.effect)) errors.push({ field: [argument, 'customerGets', 'value', 'discountOnQuantity'], message: 'discountOnQuantity needs a quantity and an effect.', code: 'BLANK' });
  else if (typeof onQuantity.effect.percentage !== 'number' || onQuantity.effect.percentage < 0 || onQuantity.effect.percentage > 1) errors.push({ field: [argument, 'customerGets', 'value', 'discountOnQuantity', 'effect', 'percentage'], message: 'Value must be between 0.00 - 1.00.', code: 'INVALID' });
  return errors;
}

/** minimumRequirement is a quantity or a subtotal (a decimal), not both. */
function checkMinimumRequirement(argument: string, minimum: unknown): DiscountUserError[] {
  if (minimum === undefined || minimum === null) return [];
  const field = [argument, 'minimumRequirement'];
  if (!isRecord(minimum) || (minimum.quantity === undefined) === (minimum.subtotal === undefined)) return [{ field, message: 'Give either a minimum quantity or a minimum subtotal.', code: 'INVALID' }];
  if (minimum.subtotal !== undefined && !(isRecord(minimum.subtotal) && typeof minimum.subtotal.greaterThanOrEqualToSubtotal === 'string' && /^\d+(\.\d+)?$/.test(minimum.subtotal.greaterThanOrEqualToSubtotal))) {
    return [{ field: [...field, 'subtotal', 'greaterThanOrEqualToSubtotal'], message: 'Minimum subtotal must be a decimal amount.', code: 'INVALID' }];
  }
  return [];
}

/** customerGets needs items and exactly one value: a percentage from 0 to 1, an amount, or an amount on a quantity. */
function checkCustomerGets(argument: string, customerGets: unknown): DiscountUserError[] {
  if (!isRecord(customerGets)) return [{ field: [argument, 'customerGets'], message: "customerGets can't be blank.", code: 'BLANK' }];
  const errors: DiscountUserError[] = [];
  const value = isRecord(customerGets.value) ? customerGets.value : {};
  const kinds = ['percentage', 'discountAmount', 'discountOnQuantity'].filter((kind) => value[kind] !== undefined && value[kind] !== null);
  if (kinds.length !== 1) errors.push({ field: [argument, 'customerGets', 'value'], message: 'Exactly one discount value must be given.', code: 'INVALID' });
  const percentage = value.percentage;
  if (percentage !== undefined && percentage !== null && (typeof percentage !== 'number' || percentage < 0 || percentage > 1)) {
    errors.push({ field: [argument, 'customerGets', 'value', 'percentage'], message: 'Value must be between 0.00 - 1.00.', code: 'INVALID' });
  }
  const amount = isRecord(value.discountAmount) ? value.discountAmount.amount : undefined;
  if (value.discountAmount !== undefined && value.discountAmount !== null && !(typeof amount === 'string' || typeof amount === 'number')) {
    errors.push({ field: [argument, 'customerGets', 'value', 'discountAmount', 'amount'], message: "Amount can't be blank.", code: 'BLANK' });
  }
  if (!isRecord(customerGets.items)) errors.push({ field: [argument, 'customerGets', 'items'], message: "Items can't be blank.", code: 'BLANK' });
  return errors;
}

const codeDiscountArguments: Record<FakeCodeDiscount['type'], string> = { DiscountCodeBasic: 'basicCodeDiscount', DiscountCodeFreeShipping: 'freeShippingCodeDiscount', DiscountCodeBxgy: 'bxgyCodeDiscount' };

function createCodeDiscount(state: FakeState, type: FakeCodeDiscount['type'], input: Record<string, unknown>) {
  const argument = codeDiscountArguments[type];
  const userErrors = checkCodeDiscountInput(state, type, argument, input);
  if (userErrors.length > 0) return { codeDiscountNode: null, userErrors };
  state.sequence += 1;
  const discount: FakeCodeDiscount = {
    id: `gid://shopify/DiscountCodeNode/${state.sequence}`, type, code: String(input.code), title: String(input.title), status: 'ACTIVE', startsAt: String(input.startsAt),
    endsAt: typeof input.endsAt === 'string' ? input.endsAt : null, usageLimit: typeof input.usageLimit === 'number' ? input.usageLimit : null, appliesOncePerCustomer: input.appliesOncePerCustomer === true,
    context: requireRecord(input.context ?? input.customerSelection, 'context'), customerGets: isRecord(input.customerGets) ? input.customerGets : null, destination: isRecord(input.destination) ? input.destination : null,
    input: structuredClone(input),
  };
  state.codeDiscounts.set(discount.code.toUpperCase(), discount);
  return { codeDiscountNode: codeDiscountNode(discount), userErrors: [] };
}

/** An expired discount updated to end in the future, or never, is active again. */
function statusAfterUpdate(endsAt: string | null): 'ACTIVE' | 'EXPIRED' {
  return endsAt === null || endsAt > new Date().toISOString() ? 'ACTIVE' : 'EXPIRED';
}

function updateCodeDiscount(state: FakeState, type: FakeCodeDiscount['type'], id: string, changes: Record<string, unknown>) {
  const discount = findCodeDiscountById(state, id);
  if (discount === undefined) return { codeDiscountNode: null, userErrors: [{ field: ['id'], message: 'Code discount does not exist.', code: 'INVALID' }] };
  if (discount.type !== type) return { codeDiscountNode: null, userErrors: [{ field: ['id'], message: `The discount is a ${discount.type}.`, code: 'INVALID' }] };
  const merged = { ...discount.input, ...changes };
  const others = new Map(state.codeDiscounts);
  others.delete(discount.code.toUpperCase());
  const userErrors = checkCodeDiscountInput({ ...state, codeDiscounts: others }, type, codeDiscountArguments[type], merged);
  if (userErrors.length > 0) return { codeDiscountNode: null, userErrors };
  state.codeDiscounts.delete(discount.code.toUpperCase());
  const endsAt = typeof merged.endsAt === 'string' ? merged.endsAt : null;
  Object.assign(discount, {
    code: String(merged.code), title: String(merged.title), startsAt: String(merged.startsAt), endsAt, status: statusAfterUpdate(endsAt), usageLimit: typeof merged.usageLimit === 'number' ? merged.usageLimit : null,
    appliesOncePerCustomer: merged.appliesOncePerCustomer === true, context: requireRecord(merged.context ?? merged.customerSelection, 'context'), customerGets: isRecord(merged.customerGets) ? merged.customerGets : null,
    destination: isRecord(merged.destination) ? merged.destination : null, input: structuredClone(merged),
  });
  state.codeDiscounts.set(discount.code.toUpperCase(), discount);
  return { codeDiscountNode: codeDiscountNode(discount), userErrors: [] };
}

const automaticDiscountArguments: Record<FakeAutomaticDiscount['type'], string> = { DiscountAutomaticBasic: 'automaticBasicDiscount', DiscountAutomaticBxgy: 'automaticBxgyDiscount', DiscountAutomaticFreeShipping: 'freeShippingAutomaticDiscount' };
/** Fields of code discounts that the automatic input types do not define: GraphQL refuses the whole request. */
const codeOnlyFields = ['code', 'usageLimit', 'appliesOncePerCustomer', 'customerSelection'];

function automaticDiscountNode(discount: FakeAutomaticDiscount) {
  return { __typename: 'DiscountAutomaticNode', id: discount.id, automaticDiscount: { __typename: discount.type, title: discount.title, status: discount.status, startsAt: discount.startsAt, endsAt: discount.endsAt } };
}

function checkAutomaticDiscountInput(type: FakeAutomaticDiscount['type'], input: Record<string, unknown>): DiscountUserError[] {
  const argument = automaticDiscountArguments[type];
  for (const field of codeOnlyFields) {
    if (input[field] !== undefined) throw new TopLevelFault(`Variable $${argument} of type ${type}Input! was provided invalid value for ${field} (Field is not defined on ${type}Input)`, 'INVALID_VARIABLE');
  }
  const errors: DiscountUserError[] = [];
  if (typeof input.title !== 'string' || input.title === '') errors.push({ field: [argument, 'title'], message: "title can't be blank.", code: 'BLANK' });
  if (type === 'DiscountAutomaticBasic') errors.push(...checkCustomerGets(argument, input.customerGets));
  if (type === 'DiscountAutomaticBxgy') errors.push(...checkBuyGet(argument, input));
  errors.push(...checkMinimumRequirement(argument, input.minimumRequirement));
  return errors;
}

function createAutomaticDiscount(state: FakeState, type: FakeAutomaticDiscount['type'], input: Record<string, unknown>) {
  const userErrors = checkAutomaticDiscountInput(type, input);
  if (userErrors.length > 0) return { automaticDiscountNode: null, userErrors };
  state.sequence += 1;
  const endsAt = typeof input.endsAt === 'string' ? input.endsAt : null;
  const discount: FakeAutomaticDiscount = {
    id: `gid://shopify/DiscountAutomaticNode/${state.sequence}`, type, title: String(input.title), status: statusAfterUpdate(endsAt),
    startsAt: typeof input.startsAt === 'string' ? input.startsAt : new Date().toISOString(), endsAt, input: structuredClone(input),
  };
  state.automaticDiscounts.set(discount.id, discount);
  return { automaticDiscountNode: automaticDiscountNode(discount), userErrors: [] };
}

function updateAutomaticDiscount(state: FakeState, type: FakeAutomaticDiscount['type'], id: string, changes: Record<string, unknown>) {
  const discount = state.automaticDiscounts.get(id);
  if (discount === undefined || discount.type !== type) return { automaticDiscountNode: null, userErrors: [{ field: ['id'], message: 'Automatic discount does not exist.', code: 'INVALID' }] };
  const merged = { ...discount.input, ...changes };
  const userErrors = checkAutomaticDiscountInput(type, merged);
  if (userErrors.length > 0) return { automaticDiscountNode: null, userErrors };
  const endsAt = typeof merged.endsAt === 'string' ? merged.endsAt : null;
  Object.assign(discount, { title: String(merged.title), startsAt: typeof merged.startsAt === 'string' ? merged.startsAt : discount.startsAt, endsAt, status: statusAfterUpdate(endsAt), input: structuredClone(merged) });
  return { automaticDiscountNode: automaticDiscountNode(discount), userErrors: [] };
}

function deactivateAutomaticDiscount(state: FakeState, id: string) {
  const discount = state.automaticDiscounts.get(id);
  if (discount === undefined) return { automaticDiscountNode: null, userErrors: [{ field: ['id'], message: 'Automatic discount does not exist.', code: 'INVALID' }] };
  discount.status = 'EXPIRED';
  discount.endsAt = new Date().toISOString();
  return { automaticDiscountNode: automaticDiscountNode(discount), userErrors: [] };
}

function findCodeDiscountById(state: FakeState, id: string): FakeCodeDiscount | undefined {
  return [...state.codeDiscounts.values()].find((discount) => discount.id === id);
}

function deactivateCodeDiscount(state: FakeState, id: string) {
  const discount = findCodeDiscountById(state, id);
  if (discount === undefined) return { codeDiscountNode: null, userErrors: [{ field: ['id'], message: 'Code discount does not exist.', code: 'INVALID' }] };
  discount.status = 'EXPIRED';
  discount.endsAt = new Date().toISOString();
  return { codeDiscountNode: codeDiscountNode(discount), userErrors: [] };
}

function deleteCodeDiscount(state: FakeState, id: string) {
  const discount = findCodeDiscountById(state, id);
  if (discount === undefined) return { deletedCodeDiscountId: null, userErrors: [{ field: ['id'], message: 'Code discount does not exist.', code: 'INVALID' }] };
  state.codeDiscounts.delete(discount.code.toUpperCase());
  return { deletedCodeDiscountId: discount.id, userErrors: [] };
}

function orderGid(id: string): string {
  return id.startsWith('gid://') ? id : `gid://shopify/Order/${id}`;
}

function lineItemGid(id: string): string {
  return id.startsWith('gid://') ? id : `gid://shopify/LineItem/${id}`;
}

function transactionGid(id: string): string {
  return id.startsWith('gid://') ? id : `gid://shopify/OrderTransaction/${id}`;
}

/** "252.98" → 25298. The fake's amounts have at most two decimals (see the header). */
function toCents(amount: unknown, field: string): number {
  const text = typeof amount === 'number' ? String(amount) : amount;
  const match = typeof text === 'string' ? /^(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim()) : null;
  if (match === null) throw new TopLevelFault(`Expected ${field} to be a Money decimal with at most two decimals.`, 'INVALID_VARIABLE');
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
}

function fromCents(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

function setOrder(state: FakeState, input: FakeShopifyOrderInput): void {
  const id = orderGid(input.id);
  state.orders.set(id, {
    id,
    currency: input.currency ?? 'USD',
    lineItems: new Map(input.lineItems.map((line) => [lineItemGid(line.id), { quantity: line.quantity, refunded: 0 }])),
    shippingCents: toCents(input.shippingAmount ?? '0.00', 'shippingAmount'),
    shippingRefundedCents: 0,
    transactions: input.transactions.map((transaction) => ({ id: transactionGid(transaction.id), kind: transaction.kind, status: transaction.status ?? 'SUCCESS', gateway: transaction.gateway, amountCents: toCents(transaction.amount, 'amount'), parentId: null })),
  });
  state.refunds = state.refunds.filter((refund) => refund.orderId !== id);
}

function moneyBag(cents: number, currency: string) {
  const money = { amount: fromCents(cents), currencyCode: currency };
  return { shopMoney: money, presentmentMoney: money };
}

/** An Order as order(id:) answers it: `transactions(first:)` and `refunds(first:)` are lists, not connections. */
function orderNode(state: FakeState, order: FakeOrder) {
  const firstOf = <T>(items: T[], args: Record<string, unknown>) => (typeof args.first === 'number' ? items.slice(0, args.first) : items);
  return {
    __typename: 'Order',
    id: order.id,
    transactions: ((args) => firstOf(order.transactions, args).map((transaction) => ({
      __typename: 'OrderTransaction', id: transaction.id, kind: transaction.kind, status: transaction.status, gateway: transaction.gateway,
      amountSet: moneyBag(transaction.amountCents, order.currency), parentTransaction: transaction.parentId === null ? null : { id: transaction.parentId },
    }))) satisfies FieldResolver,
    refunds: ((args) => firstOf(state.refunds.filter((refund) => refund.orderId === order.id), args).map((refund) => refundNode(refund, order.currency))) satisfies FieldResolver,
  };
}

function refundNode(refund: FakeShopifyRefund, currency: string) {
  const totalCents = refund.transactions.reduce((sum, transaction) => sum + toCents(transaction.amount, 'amount'), 0);
  return { __typename: 'Refund', id: refund.id, note: refund.note, createdAt: refund.createdAt, totalRefundedSet: moneyBag(totalCents, currency) };
}

type RefundUserError = { field: string[]; message: string };

/** What a refund asks of the order's lines: every line known, whole quantities, no more than is left. */
function checkRefundLines(order: FakeOrder, entries: unknown[]): { lines: FakeShopifyRefund['lineItems']; errors: RefundUserError[] } {
  const lines: FakeShopifyRefund['lineItems'] = [];
  const errors: RefundUserError[] = [];
  const asked = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const line = requireRecord(entry, `input.refundLineItems.${index}`);
    const lineItemId = requireString(line.lineItemId, 'lineItemId');
    const quantity = requireInteger(line.quantity, 'quantity');
    const restockType = typeof line.restockType === 'string' ? line.restockType : 'RETURN';
    const field = ['refundLineItems', String(index)];
    const held = order.lineItems.get(lineItemId);
    if (held === undefined) errors.push({ field: [...field, 'lineItemId'], message: 'Line item does not exist on this order.' });
    else if (quantity < 1 || quantity + (asked.get(lineItemId) ?? 0) > held.quantity - held.refunded) errors.push({ field: [...field, 'quantity'], message: 'Quantity cannot refund more items than were purchased.' });
    if (!['RETURN', 'CANCEL', 'NO_RESTOCK'].includes(restockType)) errors.push({ field: [...field, 'restockType'], message: `${restockType} is not accepted when creating new refunds.` });
    asked.set(lineItemId, (asked.get(lineItemId) ?? 0) + quantity);
    lines.push({ lineItemId, quantity, restockType });
  }
  return { lines, errors };
}

/** The money: each a REFUND of a successful SALE or CAPTURE of the order, through its gateway, no more than is left of it. */
function checkRefundTransactions(order: FakeOrder, entries: unknown[]): { transactions: { parentId: string; gateway: string; amountCents: number }[]; errors: RefundUserError[] } {
  const transactions: { parentId: string; gateway: string; amountCents: number }[] = [];
  const errors: RefundUserError[] = [];
  const asked = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const transaction = requireRecord(entry, `input.transactions.${index}`);
    const field = ['transactions', String(index)];
    const parentId = typeof transaction.parentId === 'string' ? transaction.parentId : '';
    const amountCents = toCents(transaction.amount, 'amount');
    const gateway = requireString(transaction.gateway, 'gateway');
    const parent = order.transactions.find((candidate) => candidate.id === parentId && ['SALE', 'CAPTURE'].includes(candidate.kind) && candidate.status === 'SUCCESS');
    if (transaction.kind !== 'REFUND') errors.push({ field: [...field, 'kind'], message: 'The fake refunds through REFUND transactions only.' });
    if (transaction.orderId !== undefined && transaction.orderId !== order.id) errors.push({ field: [...field, 'orderId'], message: 'The transaction belongs to another order.' });
    if (parent === undefined) {
      errors.push({ field: [...field, 'parentId'], message: 'Parent transaction must be a successful sale or capture of this order.' });
      continue;
    }
    if (gateway !== parent.gateway) errors.push({ field: [...field, 'gateway'], message: `Gateway must be ${parent.gateway}, the gateway of the parent transaction.` });
    const refundedCents = order.transactions.filter((candidate) => candidate.parentId === parent.id && candidate.kind === 'REFUND').reduce((sum, candidate) => sum + candidate.amountCents, 0);
    if (amountCents <= 0 || amountCents + (asked.get(parent.id) ?? 0) > parent.amountCents - refundedCents) {
      errors.push({ field: [...field, 'amount'], message: `Amount cannot be greater than the refundable amount of ${fromCents(parent.amountCents - refundedCents)}.` });
    }
    asked.set(parent.id, (asked.get(parent.id) ?? 0) + amountCents);
    transactions.push({ parentId: parent.id, gateway, amountCents });
  }
  return { transactions, errors };
}

/** refundCreate: checked in full first, so a refund with one bad part changes nothing. */
function createRefund(state: FakeState, input: Record<string, unknown>, idempotencyKey: string | null) {
  const order = state.orders.get(orderGid(requireString(input.orderId, 'input.orderId')));
  if (order === undefined) return { refund: null, order: null, userErrors: [{ field: ['orderId'], message: 'Order does not exist.' }] };
  const lineCheck = checkRefundLines(order, Array.isArray(input.refundLineItems) ? input.refundLineItems : []);
  const transactionCheck = checkRefundTransactions(order, Array.isArray(input.transactions) ? input.transactions : []);
  const shipping = isRecord(input.shipping) ? input.shipping : null;
  const shippingCents = shipping === null ? 0 : shipping.fullRefund === true ? order.shippingCents - order.shippingRefundedCents : toCents(shipping.amount, 'shipping.amount');
  const errors = [...lineCheck.errors, ...transactionCheck.errors];
  if (shippingCents > order.shippingCents - order.shippingRefundedCents) errors.push({ field: ['shipping', 'amount'], message: 'Shipping refund amount cannot exceed the shipping left to refund.' });
  if (errors.length > 0) return { refund: null, order: { id: order.id }, userErrors: errors };
  for (const line of lineCheck.lines) order.lineItems.get(line.lineItemId)!.refunded += line.quantity;
  order.shippingRefundedCents += shippingCents;
  const transactions = transactionCheck.transactions.map((transaction) => {
    state.sequence += 1;
    const id = `gid://shopify/OrderTransaction/${state.sequence}`;
    order.transactions.push({ id, kind: 'REFUND', status: 'SUCCESS', gateway: transaction.gateway, amountCents: transaction.amountCents, parentId: transaction.parentId });
    return { id, parentId: transaction.parentId, kind: 'REFUND' as const, gateway: transaction.gateway, amount: fromCents(transaction.amountCents) };
  });
  state.sequence += 1;
  const refund: FakeShopifyRefund = {
    id: `gid://shopify/Refund/${state.sequence}`, orderId: order.id, note: typeof input.note === 'string' ? input.note : null, notify: input.notify === true, idempotencyKey,
    lineItems: lineCheck.lines, shippingAmount: shipping === null ? null : fromCents(shippingCents), transactions, createdAt: new Date().toISOString(),
  };
  state.refunds.push(refund);
  return { refund: refundNode(refund, order.currency), order: { id: order.id }, userErrors: [] };
}

/** Keeps only the selected fields (with aliases), calling field resolvers with their arguments. */
function project(value: unknown, selectionSet: SelectionSetNode | undefined, variables: Record<string, unknown>): unknown {
  if (value === undefined || value === null) return null;
  if (selectionSet === undefined) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => project(item, selectionSet, variables));
  if (!isRecord(value)) return value;
  const result: Record<string, unknown> = {};
  for (const field of fieldsOf(selectionSet)) {
    const raw = value[field.name.value];
    const resolved = typeof raw === 'function' ? (raw as FieldResolver)(argumentsOf(field, variables)) : raw;
    result[field.alias?.value ?? field.name.value] = project(resolved, field.selectionSet, variables);
  }
  return result;
}

/** Fields of a selection set, inline fragments flattened; named fragments are not needed by the client. */
function fieldsOf(selectionSet: SelectionSetNode): FieldNode[] {
  return selectionSet.selections.flatMap((selection) => {
    if (selection.kind === Kind.FIELD) return [selection];
    if (selection.kind === Kind.INLINE_FRAGMENT) return fieldsOf(selection.selectionSet);
    throw new TopLevelFault('The fake Shopify server does not support fragment spreads.', 'UNSUPPORTED');
  });
}

function argumentsOf(field: FieldNode, variables: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const argument of field.arguments ?? []) args[argument.name.value] = valueFromASTUntyped(argument.value, variables);
  return args;
}

function createLeakyBucket(maximumAvailable: number, restoreRate: number, nowMs: () => number): LeakyBucket {
  let available = maximumAvailable;
  let updatedAtMs = nowMs();
  const refill = () => {
    const currentMs = nowMs();
    available = Math.min(maximumAvailable, available + ((currentMs - updatedAtMs) / 1000) * restoreRate);
    updatedAtMs = currentMs;
  };
  return {
    tryCharge: (cost) => {
      refill();
      if (available < cost) return false;
      available -= cost;
      return true;
    },
    status: () => {
      refill();
      return { maximumAvailable, currentlyAvailable: Math.floor(available), restoreRate };
    },
    drain: () => {
      refill();
      available = 0;
    },
    fill: () => {
      refill();
      available = maximumAvailable;
    },
  };
}

function readQuantity(state: FakeState, inventoryItemId: string, locationId: string, name: string): number {
  return state.quantities.get(quantityKey(inventoryItemId, locationId, name)) ?? 0;
}

function quantityKey(inventoryItemId: string, locationId: string, name: string): string {
  return `${inventoryItemId}\u0000${locationId}\u0000${name}`;
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TopLevelFault(`Expected ${field} to be a non-empty string.`, 'INVALID_VARIABLE');
  return value;
}

function requireInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TopLevelFault(`Expected ${field} to be an Int.`, 'INVALID_VARIABLE');
  return value;
}

function optionalInteger(value: unknown, field: string): number | null {
  return value === null || value === undefined ? null : requireInteger(value, field);
}

function requireRecord(value: unknown, field: string): Record<string, unknown> {
  if (!isRecord(value)) throw new TopLevelFault(`Expected ${field} to be an input object.`, 'INVALID_VARIABLE');
  return value;
}

function requireArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new TopLevelFault(`Expected ${field} to be a list.`, 'INVALID_VARIABLE');
  return value;
}

/** Input arrays hold at most 250 items (https://shopify.dev/api/usage/limits). */
function requireInputArray(value: unknown, field: string): unknown[] {
  const items = requireArray(value, field);
  if (items.length === 0 || items.length > INPUT_ARRAY_ITEMS_MAX) {
    throw new TopLevelFault(`Expected ${field} to hold between 1 and ${INPUT_ARRAY_ITEMS_MAX} items.`, 'MAX_INPUT_SIZE_EXCEEDED');
  }
  return items;
}

