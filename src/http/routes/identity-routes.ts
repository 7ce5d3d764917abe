import QRCode from 'qrcode';
import { z } from 'zod';
import { describeCustomer, enrollCustomer, listCustomerMerges, mergeCustomers, scanForDuplicates, unmergeCustomers } from '../../commands/index.ts';
import { getCustomerIdentity } from '../../customers/index.ts';
import { AppError } from '../../shared/app-error.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const customerId = z.string().min(1).max(100);

/** Enrolment, loyalty cards, duplicates, merge and unmerge. */
export function registerIdentityRoutes(app: AppInstance, { database, worker }: RouteDependencies): void {
  const db = database.db;

  app.post('/v1/customers', {
    config: { scope: 'pos' },
    schema: {
      summary: 'Enrol a shopper: find her profile by email or phone, or create one with a loyalty code', tags: ['customers'],
      body: z.object({ email: z.string().max(320).optional(), phone: z.string().max(40).optional(), first_name: z.string().max(100).optional(), last_name: z.string().max(100).optional() }),
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const { customerId: id } = await db.transaction().execute((tx) => enrollCustomer(tx, merchant, { email: body.email ?? null, phone: body.phone ?? null, firstName: body.first_name ?? null, lastName: body.last_name ?? null, source: `api:${request.principal?.scope}` }));
    worker.wake();
    return reply.code(201).send({ data: await describeCustomer(db, merchant, id) });
  });

  app.get('/v1/customers/:id/loyalty-card.svg', {
    config: { scope: 'read' },
    schema: { summary: 'Her loyalty code as a QR code (SVG) for a wallet pass or a printed card', tags: ['customers'], params: z.object({ id: customerId }) },
  }, async (request, reply) => {
    const identity = await getCustomerIdentity(db, merchantOf(request).id, request.params.id);
    if (!identity.loyaltyCode) throw new AppError('customers.no_loyalty_code', 'This profile has no loyalty code', { customer_id: identity.id });
    const svg = await QRCode.toString(identity.loyaltyCode, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return reply.header('content-type', 'image/svg+xml').send(svg);
  });

  app.post('/v1/customers/merge', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Merge one profile into another; everything moves, the ledger by entries, and it can be undone', tags: ['customers'],
      body: z.object({ survivor_id: customerId, merged_id: customerId, reason: z.string().min(1).max(500).default('merged by staff') }),
    },
  }, async (request, reply) => {
    const merchant = merchantOf(request);
    const body = request.body;
    const result = await db.transaction().execute((tx) => mergeCustomers(tx, merchant, { survivorId: body.survivor_id, mergedId: body.merged_id, actor: `api:${request.principal?.keyId}`, reason: body.reason }));
    worker.wake();
    return reply.code(201).send({ data: { merge_id: result.mergeId, survivor_id: result.survivorId, merged_id: result.mergedId } });
  });

  app.post('/v1/customers/merges/:id/unmerge', {
    config: { scope: 'admin' },
    schema: { summary: 'Undo a merge: both profiles and their ledgers come back as they were', tags: ['customers'], params: z.object({ id: z.string().min(1).max(100) }) },
  }, async (request) => {
    const merchant = merchantOf(request);
    const result = await db.transaction().execute((tx) => unmergeCustomers(tx, merchant, { mergeId: request.params.id, actor: `api:${request.principal?.keyId}` }));
    worker.wake();
    return { data: { merge_id: result.mergeId, survivor_id: result.survivorId, merged_id: result.mergedId, state: 'unmerged' } };
  });

  app.get('/v1/customers/:id/merges', {
    config: { scope: 'read' },
    schema: { summary: 'Merges this profile took part in, with their audit trail; 404 customers.not_found for a profile the merchant does not have', tags: ['customers'], params: z.object({ id: customerId }) },
  }, async (request) => {
    const merchantId = merchantOf(request).id;
    // Like every other customer route: another merchant's profile, or an unknown id, is a 404, not
    // an empty list (which answered differently from the customer's own routes).
    await getCustomerIdentity(db, merchantId, request.params.id);
    return { data: await listCustomerMerges(db, merchantId, request.params.id) };
  });

  app.post('/v1/customers/duplicates/scan', {
    config: { scope: 'admin' },
    schema: { summary: 'Scan every profile for shared emails and phones; merge by policy or queue for review', tags: ['customers'] },
  }, async (request) => {
    const report = await scanForDuplicates(db, merchantOf(request), `api:${request.principal?.keyId}`);
    worker.wake();
    return { data: { shared_values: report.sharedValues, sent_to_review: report.raised, merged: report.merged } };
  });
}
