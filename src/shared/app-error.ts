/**
 * The one error type of the engine. `code` is namespaced by domain (`inventory.insufficient_stock`);
 * only the HTTP layer maps codes to statuses. `details` is machine-readable context for the caller.
 */
export class AppError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

/** Asserts an invariant. A failed assertion is a bug: it fails the request or job loudly. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Assertion failed: ${message}`);
}
