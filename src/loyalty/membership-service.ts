import { z } from 'zod';
import { reuseQuery, type MembershipsTable, type ParameterPlaceholders, type Queryable, type Tx } from '../db/index.ts';
import { AppError, assert } from '../shared/app-error.ts';
import { newId } from '../shared/ids.ts';

// Memberships (issue #4): a paid or invited VIP status with a start, an optional end and perks,
// independent of the tier ladder. Active while now is within [starts_at, ends_at).

export type MembershipKind = 'paid' | 'invited';

export interface MembershipPerks {
  /** Points on purchases are multiplied by this / 10 000 while the membership is active. */
  earnMultiplierBps?: number;
}

export interface Membership {
  id: string;
  customerId: string;
  name: string;
  kind: MembershipKind;
  startsAt: string;
  /** Exclusive; null = open-ended until someone ends it. */
  endsAt: string | null;
  perks: MembershipPerks;
  createdAt: string;
}

/** A customer holds at most this many memberships, past ones included (each one is a row a person made). */
export const membershipsPerCustomerMax = 100;

const storedPerksSchema = z.object({ earnMultiplierBps: z.number().int().min(0).optional() });

function toMembership(row: MembershipsTable): Membership {
  assert(row.kind === 'paid' || row.kind === 'invited', 'a stored membership has a known kind');
  const stored = storedPerksSchema.parse(JSON.parse(row.perks_json));
  const perks: MembershipPerks = stored.earnMultiplierBps === undefined ? {} : { earnMultiplierBps: stored.earnMultiplierBps };
  return { id: row.id, customerId: row.customer_id, name: row.name, kind: row.kind, startsAt: row.starts_at, endsAt: row.ends_at, perks, createdAt: row.created_at };
}

/** Active when `at` is within [startsAt, endsAt). */
export function isMembershipActive(membership: Pick<Membership, 'startsAt' | 'endsAt'>, at: string): boolean {
  return membership.startsAt <= at && (membership.endsAt === null || at < membership.endsAt);
}

/**
 * Grants a membership. The period must not be empty; the customer is the caller's to check.
 * Example: `await createMembership(tx, merchantId, { customerId, name: 'VIP', kind: 'paid', startsAt, endsAt: null, perks: { earnMultiplierBps: 20000 }, now })`.
 */
export async function createMembership(tx: Tx, merchantId: string, input: { customerId: string; name: string; kind: MembershipKind; startsAt: string; endsAt: string | null; perks: MembershipPerks; now: string }): Promise<Membership> {
  if (input.endsAt !== null && input.endsAt <= input.startsAt) {
    throw new AppError('loyalty.invalid_membership_period', 'A membership ends after it starts', { field: 'ends_at', starts_at: input.startsAt, ends_at: input.endsAt });
  }
  const held = await tx.selectFrom('memberships').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', merchantId).where('customer_id', '=', input.customerId).executeTakeFirstOrThrow();
  if (Number(held.count) >= membershipsPerCustomerMax) {
    throw new AppError('loyalty.memberships_limit_exceeded', `A customer holds at most ${membershipsPerCustomerMax} memberships`, { customer_id: input.customerId, limit: membershipsPerCustomerMax });
  }
  const row: MembershipsTable = {
    merchant_id: merchantId, id: newId('mbr'), customer_id: input.customerId, name: input.name, kind: input.kind,
    starts_at: input.startsAt, ends_at: input.endsAt, perks_json: JSON.stringify(input.perks), created_at: input.now,
  };
  await tx.insertInto('memberships').values(row).execute();
  return toMembership(row);
}

/** Every membership of a customer, newest start first. */
export async function listMemberships(db: Queryable, merchantId: string, customerId: string): Promise<Membership[]> {
  const rows = await db.selectFrom('memberships').selectAll().where('merchant_id', '=', merchantId).where('customer_id', '=', customerId).orderBy('starts_at', 'desc').orderBy('id', 'desc').limit(membershipsPerCustomerMax).execute();
  return rows.map(toMembership);
}

/** The memberships active at `at`. */
export async function listActiveMemberships(db: Queryable, merchantId: string, customerId: string, at: string): Promise<Membership[]> {
  const rows = await activeMemberships.execute(db, { merchantId, customerId, at });
  return rows.map(toMembership);
}

// Read by every order, built and compiled once: Kysely's building and compiling cost ~70 µs of CPU
// per statement (found by bench/orders-end-to-end.ts, issue #9).
const activeMemberships = reuseQuery((db, param: ParameterPlaceholders<{ merchantId: string; customerId: string; at: string }>) => db
  .selectFrom('memberships')
  .selectAll()
  .where('merchant_id', '=', param('merchantId'))
  .where('customer_id', '=', param('customerId'))
  .where('starts_at', '<=', param('at'))
  .where((eb) => eb.or([eb('ends_at', 'is', null), eb('ends_at', '>', param('at'))]))
  .orderBy('starts_at')
  .limit(membershipsPerCustomerMax));

/** The earn multipliers the memberships give (those without the perk give none). */
export function membershipEarnMultipliers(memberships: readonly Membership[]): number[] {
  return memberships.flatMap((membership) => (membership.perks.earnMultiplierBps === undefined ? [] : [membership.perks.earnMultiplierBps]));
}

/**
 * Ends a membership at `at`: it stops being active from then. One not yet started ends at its
 * start (it never becomes active); one already ended is returned as it is, so ending twice is harmless.
 */
export async function endMembership(tx: Tx, merchantId: string, membershipId: string, at: string): Promise<Membership> {
  const row = await tx.selectFrom('memberships').selectAll().where('merchant_id', '=', merchantId).where('id', '=', membershipId).executeTakeFirst();
  if (!row) throw new AppError('loyalty.membership_not_found', `No membership ${membershipId}`, { membership_id: membershipId });
  if (row.ends_at !== null && row.ends_at <= at) return toMembership(row);
  const endsAt = at < row.starts_at ? row.starts_at : at;
  await tx.updateTable('memberships').set({ ends_at: endsAt }).where('merchant_id', '=', merchantId).where('id', '=', membershipId).execute();
  return toMembership({ ...row, ends_at: endsAt });
}
