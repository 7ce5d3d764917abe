/**
 * The Admin GraphQL reads behind the first-connection backfill and reconciliation, and the one
 * write of webhook subscriptions. Every list is a connection read page by page with
 * `pageInfo { hasNextPage endCursor }` (https://shopify.dev/docs/api/usage/pagination-graphql: at most
 * 250 per page; `nodes` rather than `edges`, https://shopify.dev/changelog/enhancements-to-pagination-for-graphql-connections).
 *
 * Page sizes keep each query's requested cost under Shopify's single-query cap of 1000 points
 * (protocols.md B1; a connection costs 2 plus `first` times its node,
 * https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits). Sources per query:
 * - products, variants (price is a decimal string, `inventoryItem { id }`):
 *   https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductEdge,
 *   https://www.shopify.dev/docs/apps/build/graphql/migrate/new-product-model/retrieve-data
 * - locations (`includeInactive`, `isActive`, `fulfillsOnlineOrders`, `address`):
 *   https://www.shopify.dev/docs/api/admin-graphql/2024-10/objects/location
 * - customers (`defaultEmailAddress`, `defaultPhoneNumber` from 2025-04, metafields by namespace and key):
 *   https://shopify.dev/changelog/adding-defaultphonenumber-field-to-customer
 * - inventory levels per location (`quantities(names:)`, `updatedAt`):
 *   https://shopify.dev/docs/api/admin-graphql/latest/objects/inventorylevel.md
 * - orders (`displayFinancialStatus`, `totalPriceSet`, `retailLocation`):
 *   https://shopify.dev/docs/api/admin-graphql/latest/enums/OrderDisplayFinancialStatus
 * - webhookSubscriptions / webhookSubscriptionCreate (`uri`; `callbackUrl` is deprecated; topics as
 *   the WebhookSubscriptionTopic enum, e.g. ORDERS_CREATE):
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/queries/webhookSubscriptions,
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/webhooksubscriptioncreate,
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/webhooksubscriptioninput,
 *   https://shopify.dev/docs/api/admin-graphql/2026-01/enums/WebhookSubscriptionTopic
 */
import { z } from 'zod';
import { AppError, assert } from '../../shared/app-error.ts';
import type { ShopifyAdminClient } from './client.ts';

/** Pages of one connection read by one call of `paginate`; a longer list is read by calling it again from the cursor. */
export const PAGES_PER_CALL_MAX = 10_000;
/** Shopify's own ceiling for `first` (https://shopify.dev/docs/api/usage/pagination-graphql). */
export const PAGE_SIZE_MAX = 250;

export const PRODUCTS_PAGE_SIZE = 20;
/** Variants read with their product; a product with more is read on in pages of VARIANTS_PAGE_SIZE. */
export const VARIANTS_WITH_PRODUCT = 20;
export const VARIANTS_PAGE_SIZE = 100;
/** Variants of one product read at most (Shopify allows 2048 per product). */
export const VARIANTS_PER_PRODUCT_MAX = 2_048;
export const LOCATIONS_PAGE_SIZE = 100;
export const CUSTOMERS_PAGE_SIZE = 100;
export const INVENTORY_LEVELS_PAGE_SIZE = 100;
export const ORDERS_PAGE_SIZE = 4;
/** Lines read with an order in a listing; an order with more is reported, not recorded from the listing. */
export const ORDER_LINES_WITH_ORDER = 20;
export const WEBHOOK_SUBSCRIPTIONS_PAGE_SIZE = 100;

export interface Page<Node> {
  nodes: Node[];
  hasNextPage: boolean;
  endCursor: string | null;
}

const pageInfoSchema = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable().optional() });

function connectionSchema<S extends z.ZodType>(node: S) {
  return z.object({ pageInfo: pageInfoSchema, nodes: z.array(node) });
}

function toPage<Node>(connection: { pageInfo: { hasNextPage: boolean; endCursor?: string | null | undefined }; nodes: Node[] }): Page<Node> {
  const endCursor = connection.pageInfo.endCursor ?? null;
  assert(!connection.pageInfo.hasNextPage || endCursor !== null, 'a page with a next page names its end cursor');
  return { nodes: connection.nodes, hasNextPage: connection.pageInfo.hasNextPage, endCursor };
}

/** A page size the caller chose is within Shopify's ceiling; the defaults also keep the cost under the cap. */
function checkedPageSize(first: number): number {
  assert(Number.isSafeInteger(first) && first >= 1 && first <= PAGE_SIZE_MAX, `a page holds 1 to ${PAGE_SIZE_MAX} items`);
  return first;
}

function parseData<S extends z.ZodType>(schema: S, data: unknown, operation: string): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new AppError('connectors.shopify.unexpected_response', `Shopify answered ${operation} with an unexpected shape`, { operation, issues: parsed.error.issues });
  }
  return parsed.data;
}

/**
 * Reads a connection page after page from `after` (null: the start), at most `pagesMax` pages,
 * yielding each page as it arrives so the caller can apply it (and remember its cursor) before the
 * next one is read. Ends when Shopify says there is no next page.
 * Example: `for await (const page of paginate((after) => readLocationsPage(client, after), { after: null })) …`
 */
export async function* paginate<Node>(readPage: (after: string | null) => Promise<Page<Node>>, options: { after: string | null; pagesMax?: number }): AsyncGenerator<Page<Node>> {
  const pagesMax = options.pagesMax ?? PAGES_PER_CALL_MAX;
  assert(Number.isSafeInteger(pagesMax) && pagesMax >= 1 && pagesMax <= PAGES_PER_CALL_MAX, `paginate: pagesMax is between 1 and ${PAGES_PER_CALL_MAX}`);
  let after = options.after;
  for (let page = 0; page < pagesMax; page += 1) {
    const current = await readPage(after);
    yield current;
    if (!current.hasNextPage) return;
    assert(current.endCursor !== after, 'paginate: the cursor moves on');
    after = current.endCursor;
  }
}

// ---------------------------------------------------------------------------------------------
// Products

const moneyDecimal = z.union([z.string(), z.number()]).transform((value) => String(value));
const variantNodeSchema = z.object({ id: z.string(), sku: z.string().nullable(), title: z.string().nullable(), price: moneyDecimal, inventoryItem: z.object({ id: z.string() }).nullable() });
const productNodeSchema = z.object({ id: z.string(), title: z.string(), updatedAt: z.string().nullable(), variants: connectionSchema(variantNodeSchema) });

export type ShopifyVariantNode = z.infer<typeof variantNodeSchema>;
export interface ShopifyProductNode {
  id: string;
  title: string;
  updatedAt: string | null;
  variants: ShopifyVariantNode[];
}

const VARIANT_FIELDS = 'id sku title price inventoryItem { id }';

const PRODUCTS_QUERY = `query BackfillProducts($first: Int!, $after: String) {
  products(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id title updatedAt
      variants(first: ${VARIANTS_WITH_PRODUCT}) { pageInfo { hasNextPage endCursor } nodes { ${VARIANT_FIELDS} } }
    }
  }
}`;

const PRODUCT_VARIANTS_QUERY = `query ProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${VARIANT_FIELDS} } }
  }
}`;

/** One page of products, each with all its variants (read on in further pages when it has many). */
export async function readProductsPage(client: ShopifyAdminClient, after: string | null, first: number = PRODUCTS_PAGE_SIZE): Promise<Page<ShopifyProductNode>> {
  const { data } = await client.request<unknown>(PRODUCTS_QUERY, { first: checkedPageSize(first), after });
  const products = toPage(parseData(z.object({ products: connectionSchema(productNodeSchema) }), data, 'products').products);
  const nodes: ShopifyProductNode[] = [];
  for (const product of products.nodes) {
    const variants = [...product.variants.nodes];
    if (product.variants.pageInfo.hasNextPage) {
      for await (const page of paginate((cursor) => readProductVariantsPage(client, product.id, cursor), { after: product.variants.pageInfo.endCursor ?? null, pagesMax: Math.ceil(VARIANTS_PER_PRODUCT_MAX / VARIANTS_PAGE_SIZE) })) {
        variants.push(...page.nodes);
      }
    }
    nodes.push({ id: product.id, title: product.title, updatedAt: product.updatedAt, variants });
  }
  return { ...products, nodes };
}

async function readProductVariantsPage(client: ShopifyAdminClient, productId: string, after: string | null): Promise<Page<ShopifyVariantNode>> {
  const { data } = await client.request<unknown>(PRODUCT_VARIANTS_QUERY, { id: productId, first: VARIANTS_PAGE_SIZE, after });
  const { product } = parseData(z.object({ product: z.object({ variants: connectionSchema(variantNodeSchema) }).nullable() }), data, 'product.variants');
  if (product === null) return { nodes: [], hasNextPage: false, endCursor: null };
  return toPage(product.variants);
}

// ---------------------------------------------------------------------------------------------
// Locations

const addressSchema = z.object({
  address1: z.string().nullable().optional(), address2: z.string().nullable().optional(), city: z.string().nullable().optional(),
  provinceCode: z.string().nullable().optional(), countryCode: z.string().nullable().optional(), zip: z.string().nullable().optional(),
});
const locationNodeSchema = z.object({ id: z.string(), name: z.string(), isActive: z.boolean(), fulfillsOnlineOrders: z.boolean().optional(), address: addressSchema.nullable().optional() });
export type ShopifyLocationNode = z.infer<typeof locationNodeSchema>;

const LOCATIONS_QUERY = `query BackfillLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after, includeInactive: true) {
    pageInfo { hasNextPage endCursor }
    nodes { id name isActive fulfillsOnlineOrders address { address1 address2 city provinceCode countryCode zip } }
  }
}`;

export async function readLocationsPage(client: ShopifyAdminClient, after: string | null, first: number = LOCATIONS_PAGE_SIZE): Promise<Page<ShopifyLocationNode>> {
  const { data } = await client.request<unknown>(LOCATIONS_QUERY, { first: checkedPageSize(first), after });
  return toPage(parseData(z.object({ locations: connectionSchema(locationNodeSchema) }), data, 'locations').locations);
}

// ---------------------------------------------------------------------------------------------
// Customers

const metafieldValueSchema = z.object({ value: z.string() }).nullable().optional();
const customerNodeSchema = z.object({
  id: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  note: z.string().nullable().optional(),
  updatedAt: z.string().nullable(),
  verifiedEmail: z.boolean().nullable().optional(),
  tags: z.array(z.string()).default([]),
  defaultEmailAddress: z.object({ emailAddress: z.string().nullable() }).nullable().optional(),
  defaultPhoneNumber: z.object({ phoneNumber: z.string().nullable() }).nullable().optional(),
  points: metafieldValueSchema,
  tier: metafieldValueSchema,
});
export type ShopifyCustomerNode = z.infer<typeof customerNodeSchema>;

const CUSTOMERS_QUERY = `query BackfillCustomers($first: Int!, $after: String) {
  customers(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id firstName lastName note updatedAt verifiedEmail tags
      defaultEmailAddress { emailAddress }
      defaultPhoneNumber { phoneNumber }
      points: metafield(namespace: "continuum", key: "points") { value }
      tier: metafield(namespace: "continuum", key: "tier") { value }
    }
  }
}`;

export async function readCustomersPage(client: ShopifyAdminClient, after: string | null, first: number = CUSTOMERS_PAGE_SIZE): Promise<Page<ShopifyCustomerNode>> {
  const { data } = await client.request<unknown>(CUSTOMERS_QUERY, { first: checkedPageSize(first), after });
  return toPage(parseData(z.object({ customers: connectionSchema(customerNodeSchema) }), data, 'customers').customers);
}

// ---------------------------------------------------------------------------------------------
// Inventory levels of one location

const inventoryLevelNodeSchema = z.object({
  updatedAt: z.string().nullable().optional(),
  item: z.object({ id: z.string(), tracked: z.boolean().optional() }),
  quantities: z.array(z.object({ name: z.string(), quantity: z.number().int() })),
});
export type ShopifyInventoryLevelNode = z.infer<typeof inventoryLevelNodeSchema>;

const INVENTORY_LEVELS_QUERY = `query BackfillInventoryLevels($locationId: ID!, $first: Int!, $after: String) {
  location(id: $locationId) {
    inventoryLevels(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { updatedAt item { id tracked } quantities(names: ["available"]) { name quantity } }
    }
  }
}`;

export async function readInventoryLevelsPage(client: ShopifyAdminClient, locationId: string, after: string | null, first: number = INVENTORY_LEVELS_PAGE_SIZE): Promise<Page<ShopifyInventoryLevelNode>> {
  const { data } = await client.request<unknown>(INVENTORY_LEVELS_QUERY, { locationId, first: checkedPageSize(first), after });
  const { location } = parseData(z.object({ location: z.object({ inventoryLevels: connectionSchema(inventoryLevelNodeSchema) }).nullable() }), data, 'location.inventoryLevels');
  if (location === null) throw new AppError('connectors.shopify.not_found', `Shopify has no location ${locationId}`, { locationId });
  return toPage(location.inventoryLevels);
}

// ---------------------------------------------------------------------------------------------
// Orders

const shopMoneySchema = z.object({ shopMoney: z.object({ amount: moneyDecimal, currencyCode: z.string() }) });
// Which discount an allocation comes from: an automatic one by its title (the name of the promotion Continuum pushed).
const discountAllocationsSchema = z.array(z.object({ allocatedAmountSet: shopMoneySchema, discountApplication: z.object({ __typename: z.string(), title: z.string().nullish() }).nullish() })).default([]);
const orderLineNodeSchema = z.object({
  id: z.string(), name: z.string(), sku: z.string().nullable(), quantity: z.number().int().positive(), isGiftCard: z.boolean().default(false),
  variant: z.object({ id: z.string() }).nullable(),
  originalUnitPriceSet: shopMoneySchema,
  discountAllocations: discountAllocationsSchema,
  taxLines: z.array(z.object({ priceSet: shopMoneySchema })).default([]),
});
const orderNodeSchema = z.object({
  id: z.string(), name: z.string().nullable(), createdAt: z.string(), processedAt: z.string().nullable().optional(), updatedAt: z.string().nullable().optional(),
  cancelledAt: z.string().nullable().optional(), sourceName: z.string().nullable().optional(), email: z.string().nullable().optional(), phone: z.string().nullable().optional(),
  displayFinancialStatus: z.string().nullable().optional(), displayFulfillmentStatus: z.string().nullable().optional(),
  paymentGatewayNames: z.array(z.string()).default([]), discountCodes: z.array(z.string()).default([]),
  retailLocation: z.object({ id: z.string() }).nullable().optional(),
  customer: z.object({
    id: z.string(), firstName: z.string().nullable().optional(), lastName: z.string().nullable().optional(), verifiedEmail: z.boolean().nullable().optional(),
    defaultEmailAddress: z.object({ emailAddress: z.string().nullable() }).nullable().optional(),
    defaultPhoneNumber: z.object({ phoneNumber: z.string().nullable() }).nullable().optional(),
  }).nullable().optional(),
  totalPriceSet: shopMoneySchema, totalTaxSet: shopMoneySchema, totalShippingPriceSet: shopMoneySchema, totalDiscountsSet: shopMoneySchema,
  lineItems: z.object({ pageInfo: z.object({ hasNextPage: z.boolean() }), nodes: z.array(orderLineNodeSchema) }),
  // ShippingLine.discountAllocations: what a discount took off the shipping (a free-shipping one).
  shippingLines: z.object({ nodes: z.array(z.object({ discountAllocations: discountAllocationsSchema })) }).default({ nodes: [] }),
});
export type ShopifyOrderNode = z.infer<typeof orderNodeSchema>;

const MONEY = '{ shopMoney { amount currencyCode } }';
const DISCOUNT_ALLOCATIONS = `{ allocatedAmountSet ${MONEY} discountApplication { __typename ... on AutomaticDiscountApplication { title } } }`;
/** An order has one shipping line, or a few when it ships from several places. */
const ORDER_SHIPPING_LINES = 2;
const ORDERS_QUERY = `query RecentOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name createdAt processedAt updatedAt cancelledAt sourceName email phone
      displayFinancialStatus displayFulfillmentStatus paymentGatewayNames discountCodes
      retailLocation { id }
      customer { id firstName lastName verifiedEmail defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
      totalPriceSet ${MONEY} totalTaxSet ${MONEY} totalShippingPriceSet ${MONEY} totalDiscountsSet ${MONEY}
      lineItems(first: ${ORDER_LINES_WITH_ORDER}) {
        pageInfo { hasNextPage }
        nodes {
          id name sku quantity isGiftCard variant { id }
          originalUnitPriceSet ${MONEY}
          discountAllocations ${DISCOUNT_ALLOCATIONS}
          taxLines { priceSet ${MONEY} }
        }
      }
      shippingLines(first: ${ORDER_SHIPPING_LINES}) { nodes { discountAllocations ${DISCOUNT_ALLOCATIONS} } }
    }
  }
}`;

/** Orders created at or after `createdAtMin` (ISO-8601), oldest first, in Shopify's search syntax. */
export async function readOrdersPage(client: ShopifyAdminClient, createdAtMin: string, after: string | null): Promise<Page<ShopifyOrderNode>> {
  const { data } = await client.request<unknown>(ORDERS_QUERY, { first: ORDERS_PAGE_SIZE, after, query: `created_at:>='${createdAtMin}'` });
  return toPage(parseData(z.object({ orders: connectionSchema(orderNodeSchema) }), data, 'orders').orders);
}

// ---------------------------------------------------------------------------------------------
// Webhook subscriptions

const subscriptionNodeSchema = z.object({ id: z.string(), topic: z.string(), uri: z.string().nullable().optional() });
export type ShopifyWebhookSubscriptionNode = z.infer<typeof subscriptionNodeSchema>;

const WEBHOOK_SUBSCRIPTIONS_QUERY = `query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri }
  }
}`;

const CREATE_WEBHOOK_SUBSCRIPTION_MUTATION = `mutation CreateWebhookSubscription($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}`;

export async function readWebhookSubscriptionsPage(client: ShopifyAdminClient, after: string | null): Promise<Page<ShopifyWebhookSubscriptionNode>> {
  const { data } = await client.request<unknown>(WEBHOOK_SUBSCRIPTIONS_QUERY, { first: WEBHOOK_SUBSCRIPTIONS_PAGE_SIZE, after });
  return toPage(parseData(z.object({ webhookSubscriptions: connectionSchema(subscriptionNodeSchema) }), data, 'webhookSubscriptions').webhookSubscriptions);
}

/** `orders/create` → `ORDERS_CREATE`, the WebhookSubscriptionTopic enum value. */
export function toWebhookSubscriptionTopic(topic: string): string {
  assert(/^[a-z_]+\/[a-z_]+$/.test(topic), `a webhook topic is resource/event: ${topic}`);
  return topic.replace('/', '_').toUpperCase();
}

/** Subscribes `uri` to `topic` (JSON bodies); userErrors throw `connectors.shopify.user_error`. */
export async function createWebhookSubscription(client: ShopifyAdminClient, topic: string, uri: string): Promise<ShopifyWebhookSubscriptionNode> {
  const variables = { topic: toWebhookSubscriptionTopic(topic), webhookSubscription: { uri, format: 'JSON' } };
  const { data } = await client.request<unknown>(CREATE_WEBHOOK_SUBSCRIPTION_MUTATION, variables);
  const schema = z.object({ webhookSubscriptionCreate: z.object({ webhookSubscription: subscriptionNodeSchema.nullable(), userErrors: z.array(z.object({ field: z.array(z.string()).nullable().optional(), message: z.string() })) }) });
  const payload = parseData(schema, data, 'webhookSubscriptionCreate').webhookSubscriptionCreate;
  if (payload.userErrors.length > 0 || payload.webhookSubscription === null) {
    throw new AppError('connectors.shopify.user_error', payload.userErrors.map((error) => error.message).join('; ') || 'webhookSubscriptionCreate returned no subscription', { userErrors: payload.userErrors, topic });
  }
  return payload.webhookSubscription;
}

// ---------------------------------------------------------------------------------------------
// Counts, for a progress bar

const COUNTS_QUERY = `query ResourceCounts {
  productsCount { count }
  customersCount { count }
  locationsCount { count }
}`;

export interface ShopifyResourceCounts {
  products: number;
  customers: number;
  locations: number;
}

export async function readResourceCounts(client: ShopifyAdminClient): Promise<ShopifyResourceCounts> {
  const { data } = await client.request<unknown>(COUNTS_QUERY, {});
  const count = z.object({ count: z.number().int().min(0) });
  const parsed = parseData(z.object({ productsCount: count, customersCount: count, locationsCount: count }), data, 'counts');
  return { products: parsed.productsCount.count, customers: parsed.customersCount.count, locations: parsed.locationsCount.count };
}
