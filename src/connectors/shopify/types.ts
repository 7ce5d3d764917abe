import { z } from 'zod';

// The parts of Shopify's webhook payloads Continuum reads (REST resource JSON, API 2026-04). The
// rest of a payload is dropped by the parse, not copied (an order has ~100 fields, a line ~40):
// validating a 13 KB order took 18.7 µs with every unknown field copied, 4.4 µs without (a tight
// loop, issue #9). The raw body is kept in the inbox whole.
// Ids arrive as strings when they exceed 2^53 (see shared/json.ts), so every id accepts both.
// Money is read from `*_set.shop_money`, the shop's currency, never from presentment money.

const shopifyId = z.union([z.string(), z.number()]).transform((value) => String(value));
const moneySet = z.object({ shop_money: z.object({ amount: z.union([z.string(), z.number()]), currency_code: z.string() }) });
/** What one discount took off a line or a shipping line; the index names its entry in the order's `discount_applications`. */
const discountAllocation = z.object({ amount_set: moneySet, discount_application_index: z.number().int().nonnegative().nullish() });

const address = z
  .object({
    phone: z.string().nullish(), first_name: z.string().nullish(), last_name: z.string().nullish(), address1: z.string().nullish(), address2: z.string().nullish(),
    city: z.string().nullish(), province_code: z.string().nullish(), province: z.string().nullish(), zip: z.string().nullish(), country_code: z.string().nullish(), default: z.boolean().nullish(),
  })
  ;
const marketingConsent = z.object({ state: z.string().nullish() }).nullish();

export const shopifyCustomerSchema = z
  .object({
    id: shopifyId,
    email: z.string().nullish(),
    phone: z.string().nullish(),
    first_name: z.string().nullish(),
    last_name: z.string().nullish(),
    updated_at: z.string().nullish(),
    verified_email: z.boolean().nullish(),
    note: z.string().nullish(),
    default_address: address.nullish(),
    addresses: z.array(address).nullish(),
    email_marketing_consent: marketingConsent,
    sms_marketing_consent: marketingConsent,
  })
  ;

export const shopifyCustomerMergeSchema = z
  .object({
    admin_graphql_api_customer_kept_id: z.string(),
    admin_graphql_api_customer_deleted_id: z.string(),
    status: z.string().nullish(),
  })
  ;

export const shopifyLineItemSchema = z
  .object({
    id: shopifyId,
    variant_id: shopifyId.nullish(),
    sku: z.string().nullish(),
    title: z.string(),
    name: z.string().nullish(),
    quantity: z.number().int().positive(),
    price_set: moneySet,
    gift_card: z.boolean().default(false),
    discount_allocations: z.array(discountAllocation).default([]),
    tax_lines: z.array(z.object({ price_set: moneySet })).default([]),
  })
  ;

export const shopifyOrderSchema = z
  .object({
    id: shopifyId,
    name: z.string().nullish(),
    order_number: z.number().nullish(),
    created_at: z.string(),
    processed_at: z.string().nullish(),
    updated_at: z.string().nullish(),
    cancelled_at: z.string().nullish(),
    fulfillment_status: z.string().nullish(),
    email: z.string().nullish(),
    contact_email: z.string().nullish(),
    phone: z.string().nullish(),
    source_name: z.string().nullish(),
    location_id: shopifyId.nullish(),
    financial_status: z.string().nullish(),
    payment_gateway_names: z.array(z.string()).default([]),
    customer: shopifyCustomerSchema.nullish(),
    billing_address: address.nullish(),
    line_items: z.array(shopifyLineItemSchema).min(1),
    shipping_lines: z.array(z.object({ discounted_price_set: moneySet.nullish(), price_set: moneySet, discount_allocations: z.array(discountAllocation).default([]) })).default([]),
    // Each discount the order got, in the order its allocations name them: `discount_code` (with
    // its code), `automatic` (with its title), `manual` or `script`.
    discount_applications: z.array(z.object({ type: z.string(), title: z.string().nullish(), code: z.string().nullish() })).default([]),
    discount_codes: z.array(z.object({ code: z.string(), amount: z.union([z.string(), z.number()]) })).default([]),
    total_line_items_price_set: moneySet,
    total_tax_set: moneySet,
    total_price_set: moneySet,
  })
  ;

export const shopifyRefundSchema = z
  .object({
    id: shopifyId,
    order_id: shopifyId,
    note: z.string().nullish(),
    created_at: z.string(),
    processed_at: z.string().nullish(),
    refund_line_items: z
      .array(
        z.object({
          line_item_id: shopifyId,
          quantity: z.number().int().positive(),
          restock_type: z.string().nullish(),
          location_id: shopifyId.nullish(),
          subtotal_set: moneySet,
          total_tax_set: moneySet,
        }),
      )
      .default([]),
    transactions: z.array(z.object({ kind: z.string(), status: z.string(), amount: z.union([z.string(), z.number()]), currency: z.string() })).default([]),
    // Shipping given back: `refund_shipping_lines` (an older shape gives `amount` alone), or in
    // refunds made before them an order adjustment of kind `shipping_refund` (negative amounts).
    refund_shipping_lines: z.array(z.object({ subtotal_amount_set: moneySet.nullish(), tax_amount_set: moneySet.nullish(), amount: z.union([z.string(), z.number()]).nullish() })).default([]),
    order_adjustments: z.array(z.object({ kind: z.string(), amount: z.union([z.string(), z.number()]), tax_amount: z.union([z.string(), z.number()]).nullish() })).default([]),
  })
  ;

export type ShopifyOrder = z.infer<typeof shopifyOrderSchema>;
export type ShopifyRefund = z.infer<typeof shopifyRefundSchema>;
export type ShopifyCustomer = z.infer<typeof shopifyCustomerSchema>;

/** The webhook headers Continuum reads; names are case-insensitive (HTTP/2 lowercases them). */
export interface ShopifyWebhookHeaders {
  topic: string;
  hmac: string;
  shopDomain: string;
  webhookId: string;
  eventId: string | null;
  triggeredAt: string | null;
  apiVersion: string | null;
}
export type ShopifyAddress = z.infer<typeof address>;

// The mandatory privacy (compliance) webhooks: customers/data_request, customers/redact and
// shop/redact. Shapes as Shopify's own app template documents them
// (Shopify/shopify-app-template-node, web/gdpr.js, which links
// https://shopify.dev/apps/webhooks/configuration/mandatory-webhooks), topics and rules as
// https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance gives them. Every field of
// `customer` may be missing: Shopify's guidance says a record may hold only the email.
const privacyCustomer = z.object({ id: shopifyId.nullish(), email: z.string().nullish(), phone: z.string().nullish() });

export const shopifyCustomerDataRequestSchema = z
  .object({
    shop_id: shopifyId.nullish(),
    shop_domain: z.string().min(1),
    orders_requested: z.array(shopifyId).nullish(),
    customer: privacyCustomer,
    data_request: z.object({ id: shopifyId }),
  })
  ;

export const shopifyCustomerRedactSchema = z
  .object({
    shop_id: shopifyId.nullish(),
    shop_domain: z.string().min(1),
    customer: privacyCustomer,
    orders_to_redact: z.array(shopifyId).nullish(),
  })
  ;

export const shopifyShopRedactSchema = z.object({ shop_id: shopifyId.nullish(), shop_domain: z.string().min(1) });

export type ShopifyPrivacyCustomer = z.infer<typeof privacyCustomer>;

export const shopifyInventoryLevelSchema = z
  .object({
    inventory_item_id: shopifyId,
    location_id: shopifyId,
    available: z.number().int().nullable(),
    updated_at: z.string(),
  })
  ;

export const shopifyProductSchema = z
  .object({
    id: shopifyId,
    title: z.string(),
    updated_at: z.string().nullish(),
    variants: z.array(z.object({ id: shopifyId, sku: z.string().nullish(), title: z.string().nullish(), price: z.union([z.string(), z.number()]), inventory_item_id: shopifyId.nullish() })).default([]),
  })
  ;

// Topics added for issue #7. Shapes as Shopify's webhook reference documents them
// (https://shopify.dev/docs/api/webhooks/latest): `locations/*` send the REST Location (id, name,
// address1…zip, country_code, province_code, active, legacy, updated_at, admin_graphql_api_id);
// `products/delete` sends only the id ("Deleted objects are not available in the API. The product
// ID is the only detail", https://help.shopify.com/en/manual/shopify-flow/reference/triggers/product-deleted);
// `customers/delete` sends the id with empty personal fields; `locations/delete` sends the id;
// `app/uninstalled` sends the Shop (id, name, myshopify_domain, …).
export const shopifyLocationSchema = z
  .object({
    id: shopifyId,
    name: z.string(),
    active: z.boolean().nullish(),
    address1: z.string().nullish(), address2: z.string().nullish(), city: z.string().nullish(), zip: z.string().nullish(),
    province_code: z.string().nullish(), country_code: z.string().nullish(),
    updated_at: z.string().nullish(),
  })
  ;

/** The body of a delete topic (products, customers, locations): at least the deleted record's id. */
export const shopifyDeletionSchema = z.object({ id: shopifyId });

export const shopifyShopSchema = z.object({ id: shopifyId.nullish(), myshopify_domain: z.string().min(1).nullish(), domain: z.string().nullish() });
