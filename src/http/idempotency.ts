import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso, nowMs } from '../shared/clock.ts';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim?: { merchantId: string; key: string };
  }
}

const keyLengthMax = 255;
/**
 * How long a claim may stay `in_progress` before the same request may take it over. A process
 * killed between claiming a key and keeping its answer leaves the claim behind; without a lease the
 * caller's retries would get 409 `idempotency.in_progress` for ever (found by test/faults, issue #9).
 * The retry then runs the request again: the routes that write carry their own natural keys
 * (`sale_id`, `return_ref`, ...), so a request that did commit before the crash is answered, not
 * repeated. Far longer than any request runs.
 */
export const idempotencyClaimLeaseMs = 60_000;

function requestHash(request: FastifyRequest): string {
  return createHash('sha256').update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`).digest('hex');
}

/**
 * `Idempotency-Key` on API POSTs: the same key and body answers with the first response; the same
 * key with another body, or while the first is still running, is a 409. Keys are per merchant.
 */
export function createIdempotencyHooks(db: Db) {
  /** A claim older than the lease was left by a process that stopped: one conditional update lets exactly one retry take it. */
  async function takeOverAbandonedClaim(merchantId: string, key: string, claimedAt: string): Promise<boolean> {
    if (Date.parse(claimedAt) > nowMs() - idempotencyClaimLeaseMs) return false;
    const taken = await db.updateTable('idempotency_keys').set({ created_at: nowIso() })
      .where('merchant_id', '=', merchantId).where('key', '=', key).where('state', '=', 'in_progress').where('created_at', '=', claimedAt)
      .executeTakeFirst();
    return Number(taken.numUpdatedRows) === 1;
  }

  async function claim(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> {
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || typeof key !== 'string' || !request.principal) return;
    if (key.length === 0 || key.length > keyLengthMax) throw new AppError('request.invalid', `Idempotency-Key must be 1 to ${keyLengthMax} characters`, { header: 'Idempotency-Key' });
    const merchantId = request.principal.merchantId;
    const hash = requestHash(request);
    const inserted = await db
      .insertInto('idempotency_keys')
      .values({ merchant_id: merchantId, key, request_hash: hash, state: 'in_progress', response_status: null, response_body: null, created_at: nowIso() })
      .onConflict((conflict) => conflict.columns(['merchant_id', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (inserted) {
      request.idempotencyClaim = { merchantId, key };
      return;
    }
    const existing = await db.selectFrom('idempotency_keys').selectAll().where('merchant_id', '=', merchantId).where('key', '=', key).executeTakeFirstOrThrow();
    if (existing.request_hash !== hash) throw new AppError('idempotency.key_reused', 'This Idempotency-Key was used with another request', { header: 'Idempotency-Key' });
    if (existing.state !== 'done' || existing.response_status === null) {
      if (await takeOverAbandonedClaim(merchantId, key, existing.created_at)) {
        request.idempotencyClaim = { merchantId, key };
        return;
      }
      throw new AppError('idempotency.in_progress', 'A request with this Idempotency-Key is still being processed', { header: 'Idempotency-Key' });
    }
    return reply.code(existing.response_status).header('content-type', 'application/json; charset=utf-8').header('idempotent-replayed', 'true').send(existing.response_body);
  }

  /** Keeps the answer for replays; a 5xx releases the key so the client may try again. */
  async function remember(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const claimed = request.idempotencyClaim;
    if (!claimed) return payload;
    if (reply.statusCode >= 500) {
      await db.deleteFrom('idempotency_keys').where('merchant_id', '=', claimed.merchantId).where('key', '=', claimed.key).execute();
    } else {
      await db.updateTable('idempotency_keys').set({ state: 'done', response_status: reply.statusCode, response_body: typeof payload === 'string' ? payload : JSON.stringify(payload) }).where('merchant_id', '=', claimed.merchantId).where('key', '=', claimed.key).execute();
    }
    return payload;
  }

  return { claim, remember };
}
