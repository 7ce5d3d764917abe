import { z } from 'zod';

// The parts of Square's notifications and API objects Continuum reads. Shapes as Square's API
// reference gives them (https://developer.squareup.com/reference/square): Money is
// `{ amount, currency }` with `amount` in the currency's smallest unit, quantities are decimal
// strings, timestamps RFC 3339. Unknown fields pass through; a missing field Continuum needs fails.

const money = z.object({ amount: z.number().int().refine(Number.isSafeInteger, 'amount must be a safe integer'), currency: z.string() }).passthrough();
const zeroable = money.nullish();

/** protocols.md C4: `{ merchant_id, type, event_id, created_at, data: { type, id, object } }`; `data.type` is not fixed. */
export const squareEnvelopeSchema = z
  .object({
    merchant_id: z.string(),
    type: z.string(),
    event_id: z.string(),
    created_at: z.string().nullish(),
    data: z.object({ type: z.string().nullish(), id: z.string().nullish(), object: z.record(z.string(), z.unknown()).nullish() }).passthrough(),
  })
  .passthrough();

/** Payment (https://developer.squareup.com/reference/square/objects/Payment): status APPROVED, PENDING, COMPLETED, CANCELED or FAILED. */
export const squarePaymentSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    order_id: z.string().nullish(),
    location_id: z.string().nullish(),
    customer_id: z.string().nullish(),
    amount_money: money.nullish(),
    created_at: z.string().nullish(),
    updated_at: z.string().nullish(),
  })
  .passthrough();

/** PaymentRefund (https://developer.squareup.com/reference/square/objects/PaymentRefund): status PENDING, COMPLETED, REJECTED or FAILED. */
export const squareRefundSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    amount_money: money,
    order_id: z.string().nullish(),
    payment_id: z.string().nullish(),
    location_id: z.string().nullish(),
    reason: z.string().nullish(),
    created_at: z.string().nullish(),
    updated_at: z.string().nullish(),
  })
  .passthrough();

/** `order.created` / `order.updated` carry only this summary (protocols.md C4). */
export const squareOrderSummarySchema = z
  .object({ order_id: z.string(), location_id: z.string().nullish(), state: z.string().nullish(), version: z.number().nullish() })
  .passthrough();

/** InventoryCount (https://developer.squareup.com/reference/square/objects/InventoryCount). */
export const squareInventoryCountSchema = z
  .object({
    catalog_object_id: z.string(),
    catalog_object_type: z.string().nullish(),
    state: z.string(),
    location_id: z.string(),
    quantity: z.string(),
    calculated_at: z.string(),
  })
  .passthrough();

/**
 * InventoryPhysicalCount (https://developer.squareup.com/reference/square/objects/InventoryPhysicalCount):
 * "the quantity is Q" at `occurred_at`; `created_at` is when Square received it.
 */
export const squarePhysicalCountSchema = z
  .object({
    id: z.string().min(1),
    reference_id: z.string().nullish(),
    catalog_object_id: z.string(),
    state: z.string(),
    location_id: z.string(),
    quantity: z.string(),
    occurred_at: z.string(),
    created_at: z.string().nullish(),
  })
  .passthrough();

/**
 * InventoryAdjustment (https://developer.squareup.com/reference/square/objects/InventoryAdjustment):
 * `quantity` units moved from `from_state` to `to_state`; `reference_id` is the application's own id
 * for it ("to tie the InventoryAdjustment to an external system").
 */
export const squareAdjustmentSchema = z
  .object({
    id: z.string().min(1),
    reference_id: z.string().nullish(),
    from_state: z.string(),
    to_state: z.string(),
    catalog_object_id: z.string(),
    location_id: z.string(),
    quantity: z.string(),
    occurred_at: z.string(),
    created_at: z.string().nullish(),
  })
  .passthrough();

/**
 * InventoryChange (https://developer.squareup.com/reference/square/objects/InventoryChange): `type`
 * says which of `physical_count`, `adjustment` (or `transfer`, which Continuum does not read) is set.
 */
export const squareInventoryChangeSchema = z
  .object({ type: z.string(), physical_count: squarePhysicalCountSchema.nullish(), adjustment: squareAdjustmentSchema.nullish() })
  .passthrough()
  .refine((change) => (change.type !== 'PHYSICAL_COUNT' || change.physical_count) && (change.type !== 'ADJUSTMENT' || change.adjustment), { message: 'an InventoryChange carries the object its type names' });

const address = z
  .object({
    address_line_1: z.string().nullish(), address_line_2: z.string().nullish(), locality: z.string().nullish(),
    administrative_district_level_1: z.string().nullish(), postal_code: z.string().nullish(), country: z.string().nullish(),
  })
  .passthrough();

/** Customer (https://developer.squareup.com/reference/square/objects/Customer). */
export const squareCustomerSchema = z
  .object({
    id: z.string(),
    given_name: z.string().nullish(),
    family_name: z.string().nullish(),
    email_address: z.string().nullish(),
    phone_number: z.string().nullish(),
    address: address.nullish(),
    note: z.string().nullish(),
    preferences: z.object({ email_unsubscribed: z.boolean().nullish() }).passthrough().nullish(),
    updated_at: z.string().nullish(),
    version: z.number().nullish(),
  })
  .passthrough();

/**
 * `customer.deleted` carries the deleted customer and, only when a merge deleted it, the merge:
 * `event_context.merge` with `from_customer_ids` and `to_customer_id`, the new customer the merge made
 * (https://developer.squareup.com/reference/square/objects/CustomerDeletedWebhookObject,
 * https://developer.squareup.com/docs/customers-api/use-the-api/customer-webhooks).
 */
export const squareCustomerDeletedSchema = z
  .object({
    customer: z.object({ id: z.string().min(1), version: z.number().nullish() }).passthrough(),
    event_context: z.object({ merge: z.object({ from_customer_ids: z.array(z.string()).nullish(), to_customer_id: z.string().nullish() }).passthrough().nullish() }).passthrough().nullish(),
  })
  .passthrough();

/** OrderLineItem (https://developer.squareup.com/reference/square/objects/OrderLineItem). */
export const squareLineItemSchema = z
  .object({
    uid: z.string(),
    name: z.string().nullish(),
    variation_name: z.string().nullish(),
    quantity: z.string(),
    catalog_object_id: z.string().nullish(),
    item_type: z.string().nullish(),
    base_price_money: money,
    gross_sales_money: money,
    total_tax_money: money,
    total_discount_money: money,
    total_money: money,
  })
  .passthrough();

/** OrderReturnLineItem (https://developer.squareup.com/reference/square/objects/OrderReturnLineItem). */
export const squareReturnLineItemSchema = z
  .object({
    uid: z.string().nullish(),
    source_line_item_uid: z.string().nullish(),
    name: z.string().nullish(),
    quantity: z.string(),
    catalog_object_id: z.string().nullish(),
    item_type: z.string().nullish(),
    total_tax_money: zeroable,
    total_money: money,
  })
  .passthrough();

/** Order (https://developer.squareup.com/reference/square/objects/Order), as RetrieveOrder answers it. */
export const squareOrderSchema = z
  .object({
    id: z.string(),
    location_id: z.string(),
    state: z.string(),
    version: z.number().nullish(),
    customer_id: z.string().nullish(),
    reference_id: z.string().nullish(),
    line_items: z.array(squareLineItemSchema).default([]),
    discounts: z.array(z.object({ uid: z.string().nullish(), name: z.string().nullish(), type: z.string().nullish(), applied_money: zeroable }).passthrough()).default([]),
    taxes: z.array(z.object({ uid: z.string().nullish(), name: z.string().nullish(), type: z.string().nullish(), applied_money: zeroable }).passthrough()).default([]),
    // A tender's `payment_id` names the Payment it corresponds to (https://developer.squareup.com/reference/square/objects/Tender).
    tenders: z.array(z.object({ id: z.string().nullish(), type: z.string(), amount_money: money, payment_id: z.string().nullish() }).passthrough()).default([]),
    returns: z.array(z.object({ source_order_id: z.string().nullish(), return_line_items: z.array(squareReturnLineItemSchema).default([]) }).passthrough()).default([]),
    total_money: money,
    total_tax_money: money,
    total_discount_money: money,
    total_tip_money: zeroable,
    total_service_charge_money: zeroable,
    created_at: z.string(),
    updated_at: z.string().nullish(),
    closed_at: z.string().nullish(),
  })
  .passthrough();

export type SquareEnvelope = z.infer<typeof squareEnvelopeSchema>;
export type SquarePayment = z.infer<typeof squarePaymentSchema>;
export type SquareRefund = z.infer<typeof squareRefundSchema>;
export type SquareOrderSummary = z.infer<typeof squareOrderSummarySchema>;
export type SquareInventoryCount = z.infer<typeof squareInventoryCountSchema>;
export type SquareInventoryChange = z.infer<typeof squareInventoryChangeSchema>;
export type SquarePhysicalCount = z.infer<typeof squarePhysicalCountSchema>;
export type SquareAdjustment = z.infer<typeof squareAdjustmentSchema>;
export type SquareCustomer = z.infer<typeof squareCustomerSchema>;
export type SquareOrder = z.infer<typeof squareOrderSchema>;
export type SquareMoney = z.infer<typeof money>;

/** An error in Square's answer body (https://developer.squareup.com/docs/build-basics/handling-errors). */
export const squareErrorsSchema = z.object({
  errors: z.array(z.object({ category: z.string(), code: z.string(), detail: z.string().nullish(), field: z.string().nullish() }).passthrough()).default([]),
}).passthrough();

export type SquareApiError = z.infer<typeof squareErrorsSchema>['errors'][number];
