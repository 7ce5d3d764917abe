import type { Queryable } from '../db/index.ts';
import { AppError } from '../shared/app-error.ts';
import { normalizeEmail, normalizePhone } from './normalize-identifier.ts';

export interface CustomerIdentity {
  id: string;
  name: string;
  firstName: string | null;
  lastName: string | null;
  emails: string[];
  phones: string[];
  loyaltyCode: string | null;
  channelIds: { kind: string; value: string }[];
  createdAt: string;
}

const lookupResultsMax = 20;
const queryLengthMin = 2;
const queryLengthMax = 200;

/** Reads profiles with their identifiers, in the order of `customerIds`. */
export async function getCustomerIdentities(db: Queryable, merchantId: string, customerIds: string[]): Promise<CustomerIdentity[]> {
  if (customerIds.length === 0) return [];
  const customers = await db.selectFrom('customers').selectAll().where('merchant_id', '=', merchantId).where('id', 'in', customerIds).execute();
  const identifiers = await db.selectFrom('customer_identifiers').selectAll().where('merchant_id', '=', merchantId).where('customer_id', 'in', customerIds).orderBy('created_at').execute();
  const byId = new Map(customers.map((customer) => [customer.id, customer]));
  return customerIds.flatMap((id) => {
    const customer = byId.get(id);
    if (!customer) return [];
    const own = identifiers.filter((identifier) => identifier.customer_id === id);
    return [{
      id,
      name: [customer.first_name, customer.last_name].filter(Boolean).join(' '),
      firstName: customer.first_name,
      lastName: customer.last_name,
      emails: own.filter((identifier) => identifier.kind === 'email').map((identifier) => identifier.value_normalized),
      phones: own.filter((identifier) => identifier.kind === 'phone').map((identifier) => identifier.value_normalized),
      loyaltyCode: customer.loyalty_code,
      channelIds: own.filter((identifier) => identifier.kind.endsWith('_id')).map((identifier) => ({ kind: identifier.kind, value: identifier.value_normalized })),
      createdAt: customer.created_at,
    }];
  });
}

export async function getCustomerIdentity(db: Queryable, merchantId: string, customerId: string): Promise<CustomerIdentity> {
  const [identity] = await getCustomerIdentities(db, merchantId, [customerId]);
  if (!identity) throw new AppError('customers.not_found', `No customer ${customerId}`, { customer_id: customerId });
  return identity;
}

/** Finds a customer's channel id (e.g. her Shopify customer id) if she has one. */
export async function findChannelId(db: Queryable, merchantId: string, customerId: string, kind: 'shopify_id' | 'square_id' | 'pos_id'): Promise<string | undefined> {
  const row = await db.selectFrom('customer_identifiers').select('value_normalized').where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).where('kind', '=', kind).executeTakeFirst();
  return row?.value_normalized;
}

async function idsByIdentifier(db: Queryable, merchantId: string, kind: string, value: string): Promise<string[]> {
  const rows = await db.selectFrom('customer_identifiers').select('customer_id').where('merchant_id', '=', merchantId).where('kind', '=', kind).where('value_normalized', '=', value).limit(lookupResultsMax).execute();
  return [...new Set(rows.map((row) => row.customer_id))];
}

/**
 * Finds profiles for what an associate types at the register: an email in any case, a phone as
 * typed, a loyalty code, or a name prefix. Exact identifier matches rank before name matches.
 */
export async function lookupCustomerIds(db: Queryable, merchantId: string, defaultCountry: string, rawQuery: string): Promise<string[]> {
  const query = rawQuery.trim();
  if (query.length < queryLengthMin || query.length > queryLengthMax) {
    throw new AppError('customers.invalid_query', `q must be ${queryLengthMin} to ${queryLengthMax} characters`, { field: 'q', min: queryLengthMin, max: queryLengthMax });
  }
  const found: string[] = [];
  const add = (ids: string[]) => ids.forEach((id) => !found.includes(id) && found.push(id));
  if (query.includes('@')) add(await idsByIdentifier(db, merchantId, 'email', normalizeEmail(query).normalized));
  const digits = query.replace(/\D/g, '');
  if (digits.length >= 7 && /^[\d\s().+\-]+$/.test(query)) {
    const phone = normalizePhone(query, defaultCountry);
    if (phone.valid) add(await idsByIdentifier(db, merchantId, 'phone', phone.normalized));
  }
  if (/^[A-Za-z0-9-]{4,20}$/.test(query)) {
    const rows = await db.selectFrom('customers').select('id').where('merchant_id', '=', merchantId).where('loyalty_code', '=', query.toUpperCase()).execute();
    add(rows.map((row) => row.id));
  }
  if (!query.includes('@') && /[a-z]/i.test(query)) {
    const prefix = query.toLowerCase().replace(/[%_]/g, '');
    const rows = await db.selectFrom('customers').select('id').where('merchant_id', '=', merchantId).where('name_search', '>=', prefix).where('name_search', '<', `${prefix}\uffff`).orderBy('name_search').limit(lookupResultsMax).execute();
    add(rows.map((row) => row.id));
  }
  return found.slice(0, lookupResultsMax);
}
