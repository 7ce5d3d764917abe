/** Timestamps are stored as ISO-8601 UTC text, which sorts correctly on both databases. */
export function nowIso(): string {
  return new Date().toISOString();
}

export function toIso(value: string | Date): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new Error(`Invalid timestamp: ${String(value)}`);
  return date.toISOString();
}
