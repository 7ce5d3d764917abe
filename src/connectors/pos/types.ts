import { z } from 'zod';

// The upload of a register that was offline (docs/pos-offline.md): what it did while it could not
// reach Continuum, each operation under its own id and with the time it happened. Field names are
// the REST API's (snake_case); translate.ts turns each into the command it is.

/** Operations one upload carries at most; a register with more sends them in several uploads, oldest first. */
export const OFFLINE_UPLOAD_OPS_MAX = 500;
/** Lines of one offline sale or return at most, as for a live one. */
export const OFFLINE_LINES_MAX = 500;

const identifier = z.string().trim().min(1).max(200);
const amountMinor = z.number().int().min(0).max(100_000_000_000);

export const offlineCustomerSchema = z
  .object({
    customer_id: identifier.optional().describe('The profile the register found before it went offline; a merge since leads to the surviving profile'),
    loyalty_code: identifier.optional(),
    email: z.string().max(320).optional(),
    phone: z.string().max(40).optional(),
    first_name: z.string().max(100).optional(),
    last_name: z.string().max(100).optional(),
  })
  .describe('Who bought: as for a live sale');

const opBase = {
  op_id: identifier.describe("The register's own id for the operation; with register_id it makes the operation idempotent (a sale's op_id is its sale_id)"),
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe("The register's own counter: orders operations that happened at the same instant"),
  occurred_at: z.iso.datetime({ offset: true }).describe('When it happened at the register'),
  location_id: identifier.optional().describe("Where it happened, when not the upload's location"),
};

const offlineChargedLineSchema = z.object({
  sku: identifier,
  quantity: z.number().int().min(1).max(10_000),
  unit_price_minor: amountMinor.describe('The unit price the register charged'),
  discount_minor: amountMinor.default(0).describe('What the promotions took off this line in all'),
  tax_minor: amountMinor.default(0).describe('The tax the register charged on this line'),
});

const offlineReturnedLineSchema = z.object({
  order_line_id: identifier.optional(),
  line_number: z.number().int().min(1).max(OFFLINE_LINES_MAX).optional().describe("Or the line's position in the register sale, from 1"),
  quantity: z.number().int().min(1).max(10_000),
  disposition: z.enum(['restock', 'damaged']).default('restock'),
});

export const offlineSaleOpSchema = z.object({
  ...opBase,
  type: z.literal('sale'),
  customer: offlineCustomerSchema.optional(),
  lines: z.array(offlineChargedLineSchema.extend({ discount_minor: amountMinor.default(0).describe('What the promotions and rewards took off this line in all') })).min(1).max(OFFLINE_LINES_MAX),
  promotions: z.array(z.object({ promotion: identifier.describe('The promotion applied, by code or id'), amount_minor: amountMinor })).max(20).default([]),
  rewards: z.array(z.object({ reward: identifier.describe('A reward redeemed with points (id or code), or an online reward code'), amount_minor: amountMinor })).max(10).default([]),
  payments: z.array(z.object({ method: identifier, amount_minor: amountMinor })).max(20).optional(),
  total_minor: amountMinor.optional().describe('What the register charged in all: checked against the lines'),
});

export const offlineReturnOpSchema = z.object({
  ...opBase,
  type: z.literal('return'),
  order_id: identifier.optional().describe('The order returned against, when the register knew it'),
  sale: z.object({ register_id: identifier.optional().describe('Default: the uploading register'), sale_id: identifier }).optional().describe('Or the register sale returned against, by the register ids it was rung up under (an offline sale of the same upload included)'),
  lines: z.array(offlineReturnedLineSchema).min(1).max(OFFLINE_LINES_MAX),
  refund_method: z.enum(['original', 'store_credit']).default('original'),
  reason: z.string().trim().max(500).optional(),
});

export const offlineExchangeOpSchema = z.object({
  ...opBase,
  type: z.literal('exchange'),
  order_id: identifier.optional().describe('The order the goods came from, when the register knew it'),
  sale: z.object({ register_id: identifier.optional().describe('Default: the uploading register'), sale_id: identifier }).optional().describe('Or the register sale they came from'),
  return_lines: z.array(offlineReturnedLineSchema).min(1).max(OFFLINE_LINES_MAX).describe('The goods taken back'),
  new_lines: z.array(offlineChargedLineSchema).min(1).max(OFFLINE_LINES_MAX).describe('The goods given, as the register charged them'),
  promotions: z.array(z.object({ promotion: identifier.describe('The promotion applied, by code or id'), amount_minor: amountMinor })).max(20).default([]),
  payments: z.array(z.object({ method: identifier, amount_minor: amountMinor })).max(20).optional().describe('How she paid what the new goods cost above the returned ones'),
  refund_method: z.enum(['original', 'store_credit']).default('original').describe('How she got back what the returned goods were worth above the new ones'),
  reason: z.string().trim().max(500).optional(),
});

export const offlineRewardRedemptionOpSchema = z.object({
  ...opBase,
  type: z.literal('reward_redemption'),
  customer: offlineCustomerSchema,
  reward: identifier.describe('The reward handed over, by id or code'),
});

export const offlineOpSchema = z.discriminatedUnion('type', [offlineSaleOpSchema, offlineReturnOpSchema, offlineExchangeOpSchema, offlineRewardRedemptionOpSchema]);

export const offlineUploadSchema = z.object({
  register_id: identifier.describe('The register that made the operations'),
  location_id: identifier.describe('Where the register stands'),
  ops: z.array(offlineOpSchema).min(1).max(OFFLINE_UPLOAD_OPS_MAX).describe('In any order: they are applied in the order they happened'),
});

export type OfflineCustomer = z.infer<typeof offlineCustomerSchema>;
export type OfflineSaleOp = z.infer<typeof offlineSaleOpSchema>;
export type OfflineReturnOp = z.infer<typeof offlineReturnOpSchema>;
export type OfflineExchangeOp = z.infer<typeof offlineExchangeOpSchema>;
export type OfflineRewardRedemptionOp = z.infer<typeof offlineRewardRedemptionOpSchema>;
export type OfflineOp = z.infer<typeof offlineOpSchema>;
export type OfflineUpload = z.infer<typeof offlineUploadSchema>;

/** A note on how an operation was applied that needs no person (a merge followed, a sale already recorded live). */
export type OfflineNote =
  | { kind: 'customer_merged'; named_customer_id: string; customer_id: string; merged_from: string[] }
  | { kind: 'customer_not_active'; named_customer_id: string; state: string }
  | { kind: 'already_recorded'; order_id?: string; return_id?: string };

/** What an operation came to: the first answer is kept and given again for a repeat. */
export interface OfflineOpResult {
  op_id: string;
  type: OfflineOp['type'];
  status: 'applied' | 'replayed' | 'failed';
  occurred_at: string;
  sequence: number;
  order_id?: string;
  return_id?: string;
  customer_id?: string | null;
  points_earned?: number;
  points_redeemed?: number;
  /** An exchange: the points the new goods carried over from the returned ones. */
  points_carried?: number;
  /** An exchange: what the new goods cost above the returned ones (negative: what went back to her). */
  difference_minor?: number;
  /** What it did that a live operation would have been refused for; each was raised for a person. */
  conflicts: Record<string, unknown>[];
  notes: OfflineNote[];
  error?: { code: string; message: string; details: Record<string, unknown> };
}
