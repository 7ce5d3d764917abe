/**
 * The Square API client: reads register sales and customers for the inbox, and changes inventory
 * for the outbox. Facts it relies on are in shared/reference/protocols.md section C:
 * - rate limits (C8): HTTP 429 with `RATE_LIMITED`, retried with exponential backoff and jitter, as
 *   https://developer.squareup.com/reference/square/objects/ErrorCategory asks; the numeric limits
 *   are not published, so the client cannot compute a wait the way Shopify's bucket allows. Square
 *   does not document a `Retry-After` header; when a 429 carries one anyway (RFC 9110 §10.2.3:
 *   seconds or an HTTP date) the client waits that long instead, up to RETRY_AFTER_MS_MAX, and a
 *   longer wait is left to the caller's own retry (the outbox or inbox schedules the next attempt).
 * - BatchChangeInventory (C7): `POST /v2/inventory/changes/batch-create`, a required idempotency key,
 *   at most 100 changes, quantities as decimal strings:
 *   https://developer.squareup.com/reference/square/inventory/batch-change-inventory
 * - BatchRetrieveInventoryChanges: `POST /v2/inventory/changes/batch-retrieve`, filtered by
 *   `catalog_object_ids`, `location_ids`, `types` (PHYSICAL_COUNT and ADJUSTMENT; TRANSFER cannot be
 *   a filter) and `updated_after` (changes whose `created_at` is after it), sorted by `occurred_at`
 *   oldest first, paginated by `cursor`, `limit` 1 to 1000:
 *   https://developer.squareup.com/reference/square/inventory-api/batch-retrieve-inventory-changes
 *   (field descriptions as in the SDKs' BatchRetrieveInventoryChangesRequest).
 * - RetrieveOrder and RetrieveCustomer: https://developer.squareup.com/reference/square/orders-api/retrieve-order,
 *   https://developer.squareup.com/reference/square/customers-api/retrieve-customer
 * - RefundPayment (issue #6): `POST /v2/refunds` with `idempotency_key` (at most 45 characters),
 *   `payment_id`, `amount_money` (at most the payment's total less its completed refunds) and an
 *   optional `reason`; answers `{ refund }`, a PaymentRefund whose status starts PENDING:
 *   https://developer.squareup.com/reference/square/refunds-api/refund-payment,
 *   https://developer.squareup.com/docs/refunds-api/overview, field limits as in the SDKs'
 *   RefundPaymentRequest (https://github.com/square/connect-javascript-sdk/blob/HEAD/docs/RefundPaymentRequest.md,
 *   https://docs.rs/square-api-client/0.1.6/square_api_client/models/struct.RefundPaymentRequest.html).
 *   An amount over what is left answers `REFUND_AMOUNT_INVALID` in category `REFUND_ERROR`
 *   (Square staff in https://developer.squareup.com/forums/t/refund-amount-invalid-error/9890).
 * - Versioning: every request names the API version in `Square-Version`
 *   (https://developer.squareup.com/docs/build-basics/versioning-overview).
 *
 * The client waits out rate limiting itself, a bounded number of times; every other failure is
 * thrown as an AppError and the inbox or outbox decides whether to retry.
 */
import { z } from 'zod';
import { AppError, assert } from '../../shared/app-error.ts';
import { parseJsonSafely } from '../../shared/json.ts';
import {
  squareCustomerSchema, squareErrorsSchema, squareInventoryChangeSchema, squareInventoryCountSchema, squareOrderSchema, squareRefundSchema,
  type SquareApiError, type SquareCustomer, type SquareInventoryChange, type SquareInventoryCount, type SquareOrder, type SquareRefund,
} from './types.ts';

/**
 * The Square API version every request pins. 2026-07-15 is the version of the official SDK releases
 * of that date (https://github.com/square/square-python-sdk/releases/tag/45.0.1.20260715,
 * changelog https://developer.squareup.com/docs/changelog/connect-logs/2026-07-15).
 */
export const SQUARE_API_VERSION = '2026-07-15';
/** Attempts of one request while Square answers 429, the first included. */
export const RATE_LIMITED_ATTEMPTS_MAX = 5;
/** The longest `Retry-After` the client waits out itself; a longer one ends the request as rate limited, for a later retry. */
export const RETRY_AFTER_MS_MAX = 30_000;
export const REQUEST_TIMEOUT_MS = 10_000;
/** The first backoff after a 429; it doubles per attempt up to BACKOFF_MS_MAX. */
export const BACKOFF_MS_BASE = 500;
export const BACKOFF_MS_MAX = 8_000;
/** protocols.md C7: a BatchChangeInventory request holds at most 100 changes. */
export const INVENTORY_CHANGES_MAX = 100;
/** Pages of BatchRetrieveInventoryCounts one call reads at most (100 counts a page). */
export const COUNT_PAGES_MAX = 10;
const COUNTS_PAGE_LIMIT = 100;
/** Pages of BatchRetrieveInventoryChanges one call reads at most (CHANGES_PAGE_LIMIT changes a page). */
export const CHANGE_PAGES_MAX = 20;
/** Changes asked for per page; Square allows 1 to 1000. */
export const CHANGES_PAGE_LIMIT = 100;
/** Catalog objects or locations one BatchRetrieveInventoryChanges filter names at most (our bound, not Square's). */
export const CHANGE_FILTER_IDS_MAX = 100;
/** RefundPaymentRequest: "Keys are limited to a max of 45 characters". */
export const REFUND_IDEMPOTENCY_KEY_LENGTH_MAX = 45;

export interface SquareClientOptions {
  /** The API base URL: `https://connect.squareup.com`, `https://connect.squareupsandbox.com`, or a fake. */
  apiUrl: string;
  accessToken: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter; tests inject one. */
  random?: () => number;
  /** Attempts while rate limited; default RATE_LIMITED_ATTEMPTS_MAX. */
  maxAttempts?: number;
  /** Per-request timeout; default REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** One InventoryChange of BatchChangeInventory (protocols.md C7); quantities are whole units here. */
export type InventoryChangeInput =
  | { type: 'PHYSICAL_COUNT'; catalogObjectId: string; locationId: string; quantity: number; occurredAt: string; referenceId?: string }
  | { type: 'ADJUSTMENT'; catalogObjectId: string; locationId: string; fromState: string; toState: string; quantity: number; occurredAt: string; referenceId?: string };

export interface BatchChangeInventoryInput {
  /** Persist it with the business record before the first attempt and reuse it on retries (protocols.md C6). */
  idempotencyKey: string;
  changes: InventoryChangeInput[];
  /** Square's default is true (protocols.md C7). */
  ignoreUnchangedCounts?: boolean;
}

export interface RefundPaymentInput {
  /** One key per refund, reused on every retry of it (the return id); at most 45 characters. */
  idempotencyKey: string;
  paymentId: string;
  amountMinor: number;
  currency: string;
  reason: string;
}

export interface SquareClient {
  /** RetrieveOrder: the full order with line items, which notifications never carry. */
  retrieveOrder(orderId: string): Promise<SquareOrder>;
  /** RetrieveCustomer: the customer's profile (email, phone, names). */
  retrieveCustomer(customerId: string): Promise<SquareCustomer>;
  /** BatchChangeInventory: applies up to 100 changes at once; returns the resulting counts. */
  batchChangeInventory(input: BatchChangeInventoryInput): Promise<{ counts: SquareInventoryCount[] }>;
  /** BatchRetrieveInventoryCounts: the counts of the given items at the given locations (IN_STOCK by default). */
  retrieveInventoryCounts(input: { catalogObjectIds: string[]; locationIds: string[]; states?: string[] }): Promise<SquareInventoryCount[]>;
  /** BatchRetrieveInventoryChanges: the physical counts and adjustments Square received after `updatedAfter`, oldest `occurred_at` first. */
  retrieveInventoryChanges(input: RetrieveInventoryChangesInput): Promise<SquareInventoryChange[]>;
  /** RefundPayment: gives `amountMinor` of a completed payment back; answers the refund (PENDING until Square completes it). */
  refundPayment(input: RefundPaymentInput): Promise<SquareRefund>;
}

export interface RetrieveInventoryChangesInput {
  catalogObjectIds: string[];
  locationIds: string[];
  /** RFC 3339; Square returns changes whose `created_at` is after it. */
  updatedAfter: string;
  /** Default PHYSICAL_COUNT and ADJUSTMENT, Square's own default. */
  types?: ('PHYSICAL_COUNT' | 'ADJUSTMENT')[];
}

/**
 * Backoff before attempt `attempt + 1` after a 429: exponential (BACKOFF_MS_BASE × 2^(attempt−1),
 * at most BACKOFF_MS_MAX) with "equal jitter": half of it fixed, half random, so concurrent clients
 * spread out and no wait is ever zero.
 * Example: computeBackoffMs(1, () => 0.5) → 375; computeBackoffMs(10, () => 0.999) ≈ 8000.
 */
export function computeBackoffMs(attempt: number, random: () => number = Math.random): number {
  assert(Number.isSafeInteger(attempt) && attempt >= 1, 'computeBackoffMs: attempt is a positive integer');
  const ceilingMs = Math.min(BACKOFF_MS_MAX, BACKOFF_MS_BASE * 2 ** Math.min(attempt - 1, 30));
  const half = ceilingMs / 2;
  return Math.round(half + random() * half);
}

export function createSquareClient(options: SquareClientOptions): SquareClient {
  const maxAttempts = options.maxAttempts ?? RATE_LIMITED_ATTEMPTS_MAX;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  assert(Number.isSafeInteger(maxAttempts) && maxAttempts >= 1, 'maxAttempts must be a positive integer');
  assert(Number.isSafeInteger(timeoutMs) && timeoutMs > 0, 'timeoutMs must be a positive integer');
  assert(options.accessToken.length > 0, 'accessToken must not be empty');
  assert(/^https?:\/\//.test(options.apiUrl), 'apiUrl must be an http(s) URL');
  const transport: Transport = { apiUrl: options.apiUrl.replace(/\/+$/, ''), accessToken: options.accessToken, fetch: options.fetch ?? fetch, timeoutMs };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;

  async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    let retryAfterMs: number | null = null;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const answer = await sendOnce(transport, method, path, body);
      if (answer.status !== 429) return answer;
      retryAfterMs = answer.retryAfterMs;
      if (retryAfterMs !== null && retryAfterMs > RETRY_AFTER_MS_MAX) {
        throw new AppError('connectors.square.rate_limited', `Square rate limited ${method} ${path} and asked to retry after ${retryAfterMs} ms`, { attempts: attempt, path, retryAfterMs });
      }
      if (attempt < maxAttempts) await sleep(retryAfterMs ?? computeBackoffMs(attempt, random));
    }
    throw new AppError('connectors.square.rate_limited', `Square still rate limited ${method} ${path} after ${maxAttempts} attempts`, { attempts: maxAttempts, path, retryAfterMs });
  }

  return {
    async retrieveOrder(orderId) {
      const answer = await send('GET', `/v2/orders/${encodeURIComponent(requireId(orderId, 'orderId'))}`);
      return parseAnswer(z.object({ order: squareOrderSchema }), answer, 'RetrieveOrder').order;
    },
    async retrieveCustomer(customerId) {
      const answer = await send('GET', `/v2/customers/${encodeURIComponent(requireId(customerId, 'customerId'))}`);
      return parseAnswer(z.object({ customer: squareCustomerSchema }), answer, 'RetrieveCustomer').customer;
    },
    async batchChangeInventory(input) {
      const answer = await send('POST', '/v2/inventory/changes/batch-create', batchChangeBody(input));
      return { counts: parseAnswer(z.object({ counts: z.array(squareInventoryCountSchema).default([]) }).passthrough(), answer, 'BatchChangeInventory').counts };
    },
    async retrieveInventoryCounts(input) {
      return retrieveCounts(send, input);
    },
    async retrieveInventoryChanges(input) {
      return retrieveChanges(send, input);
    },
    async refundPayment(input) {
      const answer = await send('POST', '/v2/refunds', refundPaymentBody(input));
      return parseAnswer(z.object({ refund: squareRefundSchema }).passthrough(), answer, 'RefundPayment').refund;
    },
  };
}

interface Transport {
  apiUrl: string;
  accessToken: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

interface Answer {
  status: number;
  body: unknown;
  path: string;
  /** A 429's `Retry-After`, in milliseconds; null when absent or unreadable. */
  retryAfterMs: number | null;
}

type Send = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<Answer>;

/** One HTTP round trip. Network errors, timeouts and 5xx are `unavailable`: the caller retries them later. */
async function sendOnce(transport: Transport, method: 'GET' | 'POST', path: string, body: unknown): Promise<Answer> {
  let response: Response;
  let text: string;
  try {
    response = await transport.fetch(`${transport.apiUrl}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${transport.accessToken}`,
        'square-version': SQUARE_API_VERSION,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(transport.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new AppError('connectors.square.unavailable', `Square did not answer ${method} ${path}: ${reason}`, { status: null, path, timeoutMs: transport.timeoutMs });
  }
  if (response.status >= 500) {
    throw new AppError('connectors.square.unavailable', `Square answered HTTP ${response.status} to ${method} ${path}`, { status: response.status, path, errors: readErrors(text) });
  }
  if (response.status === 401 || response.status === 403) {
    throw new AppError('connectors.square.unauthorized', `Square refused the access token (HTTP ${response.status})`, { status: response.status, path, errors: readErrors(text) });
  }
  return { status: response.status, body: parseBody(text, response.status, path), path, retryAfterMs: response.status === 429 ? parseRetryAfterMs(response.headers.get('retry-after')) : null };
}

/**
 * `Retry-After` (RFC 9110 §10.2.3) in milliseconds: delay-seconds (decimals accepted, as some APIs
 * send `2.0`) or an HTTP date; null when absent or unreadable, never negative.
 * Example: parseRetryAfterMs('2.5') → 2500; parseRetryAfterMs(null) → null.
 */
export function parseRetryAfterMs(value: string | null, nowMs: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const dateMs = Date.parse(text);
  return Number.isNaN(dateMs) ? null : Math.max(0, dateMs - nowMs);
}

function parseBody(text: string, status: number, path: string): unknown {
  if (status === 429) return null;
  try {
    return parseJsonSafely(text);
  } catch {
    throw new AppError('connectors.square.unexpected_response', `Square answered HTTP ${status} to ${path} with a body that is not JSON`, { status, path });
  }
}

function readErrors(text: string): SquareApiError[] {
  try {
    const parsed = squareErrorsSchema.safeParse(parseJsonSafely(text));
    return parsed.success ? parsed.data.errors : [];
  } catch {
    return [];
  }
}

/** 2xx → the validated body; 404 → not_found; any other 4xx → rejected, with Square's errors. */
function parseAnswer<S extends z.ZodType>(schema: S, answer: Answer, operation: string): z.infer<S> {
  if (answer.status === 404) {
    throw new AppError('connectors.square.not_found', `Square has no such object (${operation} ${answer.path})`, { path: answer.path, errors: errorsOf(answer.body) });
  }
  if (answer.status < 200 || answer.status >= 300) {
    const errors = errorsOf(answer.body);
    const summary = errors.map((error) => `${error.code}${error.field ? ` (${error.field})` : ''}: ${error.detail ?? ''}`).join('; ');
    throw new AppError('connectors.square.rejected', `Square rejected ${operation} with HTTP ${answer.status}: ${summary}`, { status: answer.status, path: answer.path, errors });
  }
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) {
    throw new AppError('connectors.square.unexpected_response', `Square answered ${operation} with an unexpected shape`, { operation, issues: parsed.error.issues });
  }
  return parsed.data;
}

function errorsOf(body: unknown): SquareApiError[] {
  const parsed = squareErrorsSchema.safeParse(body);
  return parsed.success ? parsed.data.errors : [];
}

function requireId(id: string, name: string): string {
  if (id.length === 0) throw new AppError('connectors.square.invalid_id', `${name} must not be empty`, { field: name });
  return id;
}

function quantityText(quantity: number, field: string): string {
  assert(Number.isSafeInteger(quantity), `batchChangeInventory: ${field} must be an integer`);
  return String(quantity);
}

function batchChangeBody(input: BatchChangeInventoryInput): Record<string, unknown> {
  assert(input.idempotencyKey.length > 0, 'batchChangeInventory: idempotencyKey must not be empty');
  assert(input.changes.length >= 1 && input.changes.length <= INVENTORY_CHANGES_MAX, `batchChangeInventory: 1 to ${INVENTORY_CHANGES_MAX} changes per request`);
  const changes = input.changes.map((change) => {
    const place = { catalog_object_id: change.catalogObjectId, location_id: change.locationId, occurred_at: change.occurredAt, ...(change.referenceId ? { reference_id: change.referenceId } : {}) };
    if (change.type === 'PHYSICAL_COUNT') {
      return { type: 'PHYSICAL_COUNT', physical_count: { ...place, state: 'IN_STOCK', quantity: quantityText(change.quantity, 'quantity') } };
    }
    assert(change.quantity > 0, 'batchChangeInventory: an adjustment moves a positive quantity');
    return { type: 'ADJUSTMENT', adjustment: { ...place, from_state: change.fromState, to_state: change.toState, quantity: quantityText(change.quantity, 'quantity') } };
  });
  return { idempotency_key: input.idempotencyKey, changes, ignore_unchanged_counts: input.ignoreUnchangedCounts ?? true };
}

function refundPaymentBody(input: RefundPaymentInput): Record<string, unknown> {
  assert(input.idempotencyKey.length > 0 && input.idempotencyKey.length <= REFUND_IDEMPOTENCY_KEY_LENGTH_MAX, `refundPayment: idempotencyKey has 1 to ${REFUND_IDEMPOTENCY_KEY_LENGTH_MAX} characters`);
  assert(Number.isSafeInteger(input.amountMinor) && input.amountMinor > 0, 'refundPayment: amountMinor is a positive integer');
  return { idempotency_key: input.idempotencyKey, payment_id: requireId(input.paymentId, 'paymentId'), amount_money: { amount: input.amountMinor, currency: input.currency }, reason: input.reason };
}

/**
 * Reads the pages of a cursor-paginated POST (https://developer.squareup.com/docs/working-with-apis/pagination)
 * until Square sends no cursor, at most `pagesMax` pages; more is an operating error the caller sees.
 */
async function readPages<T>(send: Send, request: { path: string; operation: string; body: Record<string, unknown>; pagesMax: number }, readPage: (answer: Answer) => { items: T[]; cursor: string | null | undefined }): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null | undefined;
  for (let page = 0; page < request.pagesMax; page += 1) {
    const answer = readPage(await send('POST', request.path, { ...request.body, ...(cursor ? { cursor } : {}) }));
    items.push(...answer.items);
    cursor = answer.cursor;
    if (!cursor) return items;
  }
  throw new AppError('connectors.square.too_many_pages', `${request.operation} needed more than ${request.pagesMax} pages; ask for fewer items at once`, { pagesMax: request.pagesMax, operation: request.operation });
}

async function retrieveCounts(send: Send, input: { catalogObjectIds: string[]; locationIds: string[]; states?: string[] }): Promise<SquareInventoryCount[]> {
  const pageSchema = z.object({ counts: z.array(squareInventoryCountSchema).default([]), cursor: z.string().nullish() }).passthrough();
  const body = { catalog_object_ids: input.catalogObjectIds, location_ids: input.locationIds, states: input.states ?? ['IN_STOCK'], limit: COUNTS_PAGE_LIMIT };
  return readPages(send, { path: '/v2/inventory/counts/batch-retrieve', operation: 'BatchRetrieveInventoryCounts', body, pagesMax: COUNT_PAGES_MAX }, (answer) => {
    const page = parseAnswer(pageSchema, answer, 'BatchRetrieveInventoryCounts');
    return { items: page.counts, cursor: page.cursor };
  });
}

async function retrieveChanges(send: Send, input: RetrieveInventoryChangesInput): Promise<SquareInventoryChange[]> {
  for (const [field, ids] of [['catalogObjectIds', input.catalogObjectIds], ['locationIds', input.locationIds]] as const) {
    assert(ids.length >= 1 && ids.length <= CHANGE_FILTER_IDS_MAX && ids.every((id) => id.length > 0), `retrieveInventoryChanges: 1 to ${CHANGE_FILTER_IDS_MAX} non-empty ${field}`);
  }
  assert(!Number.isNaN(Date.parse(input.updatedAfter)), 'retrieveInventoryChanges: updatedAfter is an RFC 3339 timestamp');
  const pageSchema = z.object({ changes: z.array(squareInventoryChangeSchema).default([]), cursor: z.string().nullish() }).passthrough();
  const body = { catalog_object_ids: input.catalogObjectIds, location_ids: input.locationIds, types: input.types ?? ['PHYSICAL_COUNT', 'ADJUSTMENT'], updated_after: input.updatedAfter, limit: CHANGES_PAGE_LIMIT };
  return readPages(send, { path: '/v2/inventory/changes/batch-retrieve', operation: 'BatchRetrieveInventoryChanges', body, pagesMax: CHANGE_PAGES_MAX }, (answer) => {
    const page = parseAnswer(pageSchema, answer, 'BatchRetrieveInventoryChanges');
    return { items: page.changes, cursor: page.cursor };
  });
}
