import type { PrivacyRequestsTable, Queryable, Tx } from '../db/index.ts';
import type { Merchant } from '../merchants/index.ts';
import { AppError } from '../shared/app-error.ts';
import { nowIso } from '../shared/clock.ts';
import { newId } from '../shared/ids.ts';
import { writeAudit } from '../sync/index.ts';
import { buildCustomerDataExport } from './export-customer-data.ts';
import { findPrivacySubjectProfiles, type PrivacySubject } from './find-privacy-subjects.ts';
import { redactCustomerProfiles, type RedactionSummary } from './redact-customer-profiles.ts';

// Privacy requests (issue #3): a shopper asks for her data or to be forgotten, or a merchant's
// shop leaves and its data must go. Each runs in one transaction given by the caller.

export { customerDataExportFormat, type CustomerDataExport } from './export-customer-data.ts';
export { eraseMerchantData, merchantlessTableNames, merchantTableNames } from './erase-merchant-data.ts';
export { findPrivacySubjectProfiles, type PrivacySubject } from './find-privacy-subjects.ts';
export type { RedactionSummary } from './redact-customer-profiles.ts';

export type PrivacyRequestKind = 'data_request' | 'customer_redact' | 'shop_redact';

/** A shopper asked, through a channel, for everything held about her. */
export interface CustomerDataRequestCommand {
  source: 'shopify';
  /** The channel's id of the request; one export per id. */
  requestRef: string;
  subject: PrivacySubject;
  ordersRequested: string[];
}

/** A shopper asked, through a channel, to be forgotten. */
export interface CustomerRedactCommand {
  source: 'shopify';
  subject: PrivacySubject;
  ordersToRedact: string[];
}

const requestsListedMax = 500;

async function findRequestByRef(db: Queryable, merchantId: string, kind: PrivacyRequestKind, channelRef: string): Promise<PrivacyRequestsTable | undefined> {
  return db.selectFrom('privacy_requests').selectAll().where('merchant_id', '=', merchantId).where('kind', '=', kind).where('channel_ref', '=', channelRef).executeTakeFirst();
}

/**
 * Answers a data request: finds her profiles and stores an export of everything held about her
 * for the merchant to hand over (`GET /v1/privacy/requests/:id`). Once per channel request id: a
 * repeat changes nothing and returns `created: false`.
 */
export async function recordCustomerDataRequest(tx: Tx, merchant: Merchant, command: CustomerDataRequestCommand): Promise<{ requestId: string; created: boolean; customerIds: string[] }> {
  const existing = await findRequestByRef(tx, merchant.id, 'data_request', command.requestRef);
  if (existing) return { requestId: existing.id, created: false, customerIds: existing.customer_id ? [existing.customer_id] : [] };
  const customerIds = await findPrivacySubjectProfiles(tx, merchant, command.subject);
  const exported = await buildCustomerDataExport(tx, merchant, customerIds, { source: command.source, requestRef: command.requestRef, ordersRequested: command.ordersRequested });
  const requestId = newId('prv');
  const inserted = await tx
    .insertInto('privacy_requests')
    .values({ merchant_id: merchant.id, id: requestId, kind: 'data_request', customer_id: customerIds[0] ?? null, channel_ref: command.requestRef, export_json: JSON.stringify(exported), created_at: nowIso() })
    .onConflict((conflict) => conflict.doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return { requestId: (await findRequestByRef(tx, merchant.id, 'data_request', command.requestRef))?.id ?? requestId, created: false, customerIds };
  const orders = exported.profiles.reduce((sum, profile) => sum + profile.orders.length, 0);
  await writeAudit(tx, merchant.id, { actor: command.source, action: 'privacy.data_request', subject: requestId, details: { channel_ref: command.requestRef, customer_ids: customerIds, orders } });
  return { requestId, created: true, customerIds };
}

/**
 * Forgets a shopper: erases the person from every profile of hers (see `redactCustomerProfiles`)
 * while her orders and loyalty ledger stay, balanced, on the anonymous profile. Records the
 * request with a summary of what was erased, and an audit entry. Applying it again finds no
 * profile (a redacted one never matches) and erases nothing more.
 */
export async function redactCustomer(tx: Tx, merchant: Merchant, command: CustomerRedactCommand): Promise<{ requestId: string; customerIds: string[]; summary: RedactionSummary | null }> {
  const channelRef = command.subject.channelId?.value ?? null;
  const existing = channelRef ? await findRequestByRef(tx, merchant.id, 'customer_redact', channelRef) : undefined;
  const requestId = existing?.id ?? newId('prv');
  const customerIds = await findPrivacySubjectProfiles(tx, merchant, command.subject);
  const summary = customerIds.length > 0 ? await redactCustomerProfiles(tx, merchant.id, customerIds, requestId) : null;
  if (!existing) {
    await tx.insertInto('privacy_requests').values({ merchant_id: merchant.id, id: requestId, kind: 'customer_redact', customer_id: customerIds[0] ?? null, channel_ref: channelRef, export_json: JSON.stringify(summary ?? { customer_ids: [] }), created_at: nowIso() }).execute();
  }
  await writeAudit(tx, merchant.id, { actor: command.source, action: 'privacy.customer_redact', subject: requestId, details: { customer_ids: customerIds, orders_to_redact: command.ordersToRedact.length, erased: summary?.erased ?? null, kept: summary?.kept ?? null } });
  return { requestId, customerIds, summary };
}

function requestView(row: Omit<PrivacyRequestsTable, 'export_json' | 'merchant_id'>) {
  return { id: row.id, kind: row.kind, customer_id: row.customer_id, channel_ref: row.channel_ref, created_at: row.created_at };
}

/** The merchant's privacy requests, newest first, without their exports. */
export async function listPrivacyRequests(db: Queryable, merchantId: string, filter: { kind?: PrivacyRequestKind } = {}) {
  let query = db.selectFrom('privacy_requests').select(['id', 'kind', 'customer_id', 'channel_ref', 'created_at']).where('merchant_id', '=', merchantId);
  if (filter.kind) query = query.where('kind', '=', filter.kind);
  return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(requestsListedMax).execute()).map(requestView);
}

/**
 * One privacy request with its body: for a data request the export to hand over; for a
 * redaction the summary of what was erased and kept (ids and counts, no personal data).
 */
export async function getPrivacyRequest(db: Queryable, merchantId: string, requestId: string) {
  const row = await db.selectFrom('privacy_requests').selectAll().where('merchant_id', '=', merchantId).where('id', '=', requestId).executeTakeFirst();
  if (!row) throw new AppError('privacy.not_found', `No privacy request ${requestId}`, { request_id: requestId });
  return { ...requestView(row), export: row.export_json === null ? null : (JSON.parse(row.export_json) as unknown) };
}
