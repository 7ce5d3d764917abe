import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../shared/app-error.ts';

/**
 * base64(HMAC-SHA256(signature key, notification URL + raw body)), as Square signs notifications
 * (protocols.md C2). The URL is the one configured for the subscription, byte for byte, never one
 * rebuilt from the request, which a proxy may have changed.
 */
export function signSquareBody(signatureKey: string, notificationUrl: string, rawBody: Buffer | string): string {
  return createHmac('sha256', signatureKey).update(notificationUrl).update(rawBody).digest('base64');
}

export function verifySquareSignature(signatureKey: string, notificationUrl: string, rawBody: Buffer, signature: string): boolean {
  const expected = Buffer.from(signSquareBody(signatureKey, notificationUrl, rawBody), 'base64');
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The envelope fields Continuum needs before the event is stored (protocols.md C4). */
export function readSquareEnvelope(payload: unknown): { merchantRef: string; eventId: string; type: string; createdAt: string | null } {
  const envelope = payload as Record<string, unknown> | null;
  const merchantRef = envelope?.['merchant_id'];
  const eventId = envelope?.['event_id'];
  const type = envelope?.['type'];
  if (typeof merchantRef !== 'string' || typeof eventId !== 'string' || typeof type !== 'string') {
    throw new AppError('connectors.square.invalid_payload', 'A Square notification needs string merchant_id, event_id and type', { fields: ['merchant_id', 'event_id', 'type'] });
  }
  const createdAt = typeof envelope?.['created_at'] === 'string' ? (envelope['created_at'] as string) : null;
  return { merchantRef, eventId, type, createdAt };
}
