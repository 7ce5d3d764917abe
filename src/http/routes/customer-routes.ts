import { z } from 'zod';
import { describeCustomer, describeLoyalty, lookupAnswer } from '../../commands/index.ts';
import type { AppInstance, RouteDependencies } from '../app-instance.ts';
import { merchantOf } from '../auth.ts';

const money = z.object({ amount_minor: z.number().int(), currency: z.string() });
const orderSummary = z.object({ id: z.string(), channel: z.string(), source: z.string(), order_number: z.string().nullable(), location_id: z.string().nullable(), placed_at: z.string(), total: money, refunded: money });
const customerSummary = z.object({
  id: z.string(), name: z.string(), emails: z.array(z.string()), phones: z.array(z.string()), loyalty_code: z.string().nullable(),
  loyalty: z.object({ available: z.number().int(), pending: z.number().int(), tier: z.string().nullable() }),
  orders: z.array(orderSummary),
});

/** The lookup's answer as documented (OpenAPI); test/customer-lookup.test.ts holds answers to it. */
export const customerLookupAnswer = z.object({ data: z.array(customerSummary) });

export function registerCustomerRoutes(app: AppInstance, { database }: RouteDependencies): void {
  app.get('/v1/customers/lookup', {
    config: { scope: 'read' },
    schema: {
      summary: 'Find a customer at the register by phone as typed, email in any case, loyalty code or name prefix',
      tags: ['customers'],
      querystring: z.object({ q: z.string().describe('What the associate typed: "(613) 555-0142", "JANE.DOE@example.com", a loyalty code or "jan"') }),
      response: { 200: customerLookupAnswer },
    },
    // The schema above documents the answer, which arrives as JSON text written whole by the
    // database (commands/lookup-answer.ts): sent as it is, never parsed and written out again. Its reads need only what is committed: on SQLite they run on
    // the reader thread while the event loop is busy, which then answers other requests meanwhile
    // (src/db/reader-thread.ts).
  }, async (request, reply) => {
    const answer = await lookupAnswer(database.readDb, merchantOf(request), request.query.q);
    // The type provider types the payload as the schema's object; Fastify sends a string with a
    // JSON content type as it is, without the schema's serializer.
    return reply.header('content-type', 'application/json; charset=utf-8').send(answer as unknown as z.infer<typeof customerLookupAnswer>);
  });

  // The profile and the loyalty page the register opens next read what is committed too, on the
  // reader thread while the event loop is busy: saturated at 1,000,000 customers (three
  // alternating pairs) 4,136–4,809 profiles/s against 3,603–3,633 on the engine's connection, and
  // 3,417–3,453 loyalty pages/s against 2,601–2,758.
  app.get('/v1/customers/:id', {
    config: { scope: 'read' },
    schema: { summary: 'The full profile with the whole cross-channel history', tags: ['customers'], params: z.object({ id: z.string() }) },
  }, async (request) => ({ data: await describeCustomer(database.readDb, merchantOf(request), request.params.id) }));

  app.get('/v1/customers/:id/loyalty', {
    config: { scope: 'read' },
    schema: { summary: 'Points, lots and loyalty history', tags: ['loyalty'], params: z.object({ id: z.string() }) },
  }, async (request) => ({ data: await describeLoyalty(database.readDb, merchantOf(request), request.params.id) }));
}
