// The console's one way to the engine: same-origin fetches carrying the staff session cookie, with
// the header the engine asks of cookie-authenticated writes, and errors turned into ApiError with
// the engine's machine-readable code and human message.

/** Sent on every request: cookie-authenticated writes need it (or a same-origin Origin) to pass. */
const consoleHeader = { 'X-Requested-With': 'continuum-console' } as const;

/** How long one request may take before the console says so; the engine answers in milliseconds. */
const requestTimeoutMs = 30_000;

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Listeners told when the session ends under the console (a 401 on an API call). */
const sessionEndedListeners = new Set<() => void>();

export function onSessionEnded(listener: () => void): () => void {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  /** Sent as Idempotency-Key: the same action sent twice (a double tap, a retry) happens once. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** Calls the engine and answers the parsed JSON body; throws ApiError for any non-2xx answer. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { ...consoleHeader, Accept: 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
  // One controller for the caller's cancel and the time limit (older tablets lack AbortSignal.any).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, requestTimeoutMs);
  const cancel = () => controller.abort();
  options.signal?.addEventListener('abort', cancel);
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET', headers, credentials: 'same-origin', signal: controller.signal,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, timedOut ? 'console.timeout' : 'console.offline', timedOut ? 'The engine did not answer in time. Try again.' : 'The engine cannot be reached. Check the connection and try again.');
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', cancel);
  }
  const text = await response.text();
  const body = text && (response.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as unknown) : text;
  if (!response.ok) throw toApiError(response.status, body, path);
  return body as T;
}

function toApiError(status: number, body: unknown, path: string): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : `http.${status}`;
  const message = typeof error?.message === 'string' ? error.message : `The engine answered ${status}`;
  if (status === 401 && !path.startsWith('/v1/sessions')) for (const listener of sessionEndedListeners) listener();
  return new ApiError(status, code, message, (error?.details as Record<string, unknown> | undefined) ?? {});
}

/** What to show a person for any error. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.name === 'AbortError') return 'Cancelled.';
  return 'Something went wrong in the console. Reload the page and try again.';
}

/** `{ data: T }`, the engine's usual envelope. */
export interface Envelope<T> {
  data: T;
}

export async function getData<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request<Envelope<T>>(path, signal ? { signal } : {})).data;
}

/** A random id for Idempotency-Key and a return's return_ref; works on plain-HTTP store networks too. */
export function newActionId(prefix: string): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** A query string from the defined values. */
export function query(parameters: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(parameters)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}
