import { AppError } from '../shared/app-error.ts';

export interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

// Error codes to HTTP statuses: exact codes first, then by the rule named after the domain.
const statusByCode: Record<string, number> = {
  'request.malformed_json': 400,
  'request.invalid': 400,
  'request.too_large': 413,
  'request.unsupported_media_type': 415,
  'request.bad_url': 400,
  'request.param_too_long': 414,
  'auth.unauthenticated': 401,
  'auth.forbidden': 403,
  'auth.invalid_credentials': 401,
  'auth.csrf_rejected': 403,
  'auth.too_many_attempts': 429,
  'auth.merchant_required': 409,
  'connectors.shopify.unauthenticated': 401,
  'connectors.square.unauthenticated': 401,
  'connectors.shopify.outside_replay_window': 401,
  'connectors.square.outside_replay_window': 401,
  'connectors.shopify.missing_header': 400,
  'connectors.square.missing_header': 400,
  'idempotency.key_reused': 409,
  'loyalty.reward_limit_reached': 409,
  'idempotency.in_progress': 409,
  'customers.invalid_query': 400,
  'http.route_not_found': 404,
  'storage.unavailable': 503,
  'returns.window_closed': 422,
  'returns.final_sale': 422,
  'returns.line_repeated': 422,
  'returns.manager_required': 403,
  'returns.order_cancelled': 409,
};

const statusByRule: [RegExp, number][] = [
  [/[._]not_found$/, 404],
  // A workflow a location has not rolled out yet (issue #8): the request is understood, the place refuses it.
  [/\.not_enabled_at_location$/, 422],
  [/\.(insufficient_\w+|duplicate_\w+|\w*conflict)$/, 409],
  [/\.(unknown_\w+|\w*not_applicable|payment_mismatch|customer_required|quantity_exceeds_purchase|invalid_\w+|currency_mismatch|code_repeated)$/, 422],
];

export function statusForCode(code: string): number {
  const exact = statusByCode[code];
  if (exact) return exact;
  for (const [pattern, status] of statusByRule) if (pattern.test(code)) return status;
  return 400;
}

export function errorBody(error: AppError): ErrorBody {
  return { error: { code: error.code, message: error.message, details: error.details } };
}
