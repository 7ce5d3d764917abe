/**
 * The shop's own records for the fake Shopify Admin server (fake-shopify.ts): products with
 * variants, locations, customers, orders and webhook subscriptions, read through paginated
 * connections the way Shopify documents them:
 *
 * - Connections take `first` (1 to 250) and `after` (an opaque cursor), and answer
 *   `pageInfo { hasNextPage endCursor }` with `nodes` (and `edges { cursor node }`):
 *   https://shopify.dev/docs/api/usage/pagination-graphql,
 *   https://shopify.dev/changelog/enhancements-to-pagination-for-graphql-connections. The error for a
 *   `first` over 250 and the cursor format were not retrieved; the fake's are invented.
 * - `products(first, after, sortKey)`, `product(id) { variants(first, after) }`, variants with `sku`,
 *   `title`, `price` (a decimal string) and `inventoryItem { id }`.
 * - `locations(first, after, includeInactive)`, `location(id) { inventoryLevels(first, after) { nodes
 *   { updatedAt item { id tracked } quantities(names:) { name quantity } } } }`.
 * - `customers(first, after)` with `defaultEmailAddress { emailAddress }`, `defaultPhoneNumber
 *   { phoneNumber }` (https://shopify.dev/changelog/adding-defaultphonenumber-field-to-customer) and
 *   `metafield(namespace:, key:) { value }` read from the metafields metafieldsSet wrote.
 * - `orders(first, after, query)`: only the `created_at:>='ISO'` term of Shopify's search syntax is
 *   understood; the nodes are what the test gave, projected on the fields asked for.
 * - `productsCount`, `customersCount`, `locationsCount` answer `{ count }`.
 * - `webhookSubscriptions(first, after)` nodes `{ id topic uri }` and
 *   `webhookSubscriptionCreate(topic:, webhookSubscription: { uri, format })`
 *   (https://shopify.dev/docs/api/admin-graphql/2025-10/mutations/webhooksubscriptioncreate). The
 *   userError for a topic already subscribed at the same address is the REST API's message
 *   ("Address for this topic has already been taken"); the GraphQL one was not retrieved.
 *
 * Products and customers keep every version the test set: an "answer stale" knob makes the next
 * reads return the version before the latest, as a lagging replica would.
 */
import { isRecord } from './fake-server-kit.ts';

/** A GraphQL error for the whole request (bad `first`, unknown cursor): nothing is answered. */
export class ShopQueryFault extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

const PAGE_SIZE_MAX = 250;

export interface FakeVariantInput { id: string; sku: string | null; title?: string | null; price: string; inventoryItemId: string }
export interface FakeProductInput { id: string; title: string; updatedAt?: string; variants: FakeVariantInput[] }
export interface FakeLocationInput { id: string; name: string; isActive?: boolean; fulfillsOnlineOrders?: boolean; address?: Record<string, string | null> }
export interface FakeCustomerInput { id: string; firstName?: string | null; lastName?: string | null; email?: string | null; phone?: string | null; note?: string | null; updatedAt?: string; tags?: string[]; verifiedEmail?: boolean }
export interface FakeWebhookSubscription { id: string; topic: string; uri: string; format: string; createdAt: string }

export interface ShopRecords {
  products: Map<string, FakeProductInput[]>;
  locations: Map<string, FakeLocationInput>;
  customers: Map<string, FakeCustomerInput[]>;
  /** Customers deleted in the shop: metafieldsSet refuses them as owners. */
  deletedCustomers: Set<string>;
  orders: Map<string, Record<string, unknown>>;
  webhookSubscriptions: Map<string, FakeWebhookSubscription>;
  /** When each level (`item|location`) last changed, for `InventoryLevel.updatedAt`. */
  levelUpdatedAt: Map<string, string>;
  sequence: number;
}

/** What the shop records need from the rest of the fake: quantities and metafields live there. */
export interface ShopLookups {
  readQuantity(inventoryItemId: string, locationId: string, name: string): number;
  /** Inventory item GIDs with an `available` quantity at the location. */
  itemsAt(locationId: string): string[];
  metafieldValue(ownerId: string, namespace: string, key: string): string | null;
}

export function createShopRecords(): ShopRecords {
  return { products: new Map(), locations: new Map(), customers: new Map(), deletedCustomers: new Set(), orders: new Map(), webhookSubscriptions: new Map(), levelUpdatedAt: new Map(), sequence: 0 };
}

export function gidOf(type: string, id: string): string {
  return id.startsWith('gid://') ? id : `gid://shopify/${type}/${id}`;
}

function numericTail(gid: string): bigint {
  const tail = gid.split('/').pop() ?? '0';
  return /^\d+$/.test(tail) ? BigInt(tail) : 0n;
}

function byId<T extends { id: string }>(a: T, b: T): number {
  const difference = numericTail(a.id) - numericTail(b.id);
  return difference < 0n ? -1 : difference > 0n ? 1 : a.id.localeCompare(b.id);
}

function encodeCursor(index: number): string {
  return Buffer.from(JSON.stringify({ last: index }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: unknown): number {
  if (cursor === undefined || cursor === null) return -1;
  try {
    const decoded = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as { last?: unknown };
    if (typeof decoded.last === 'number' && Number.isSafeInteger(decoded.last) && decoded.last >= 0) return decoded.last;
  } catch {
    // Falls through to the fault below.
  }
  throw new ShopQueryFault(`Invalid cursor for pagination: ${String(cursor)}`, 'INVALID_CURSOR');
}

/** One page of `items` (already in order) as a connection, after the cursor, `first` at most. */
export function connectionOf<T>(items: T[], args: Record<string, unknown>): Record<string, unknown> {
  const first = args.first;
  if (typeof first !== 'number' || !Number.isSafeInteger(first) || first < 1 || first > PAGE_SIZE_MAX) {
    throw new ShopQueryFault(`first must be between 1 and ${PAGE_SIZE_MAX} (got ${String(first)})`, 'BAD_PAGE_SIZE');
  }
  const start = decodeCursor(args.after) + 1;
  const slice = items.slice(start, start + first);
  const endIndex = start + slice.length - 1;
  return {
    __typename: 'Connection',
    nodes: slice,
    edges: slice.map((node, offset) => ({ cursor: encodeCursor(start + offset), node })),
    pageInfo: { hasNextPage: start + slice.length < items.length, hasPreviousPage: start > 0, endCursor: slice.length > 0 ? encodeCursor(endIndex) : null, startCursor: slice.length > 0 ? encodeCursor(start) : null },
  };
}

type FieldResolver = (args: Record<string, unknown>) => unknown;
type RootResolver = (args: Record<string, unknown>, idempotencyKey: string | null) => unknown;

/** The latest version, or with `stale` the one before it (the latest when there is only one). */
function versionOf<T>(versions: T[], stale: boolean): T | undefined {
  return stale && versions.length > 1 ? versions[versions.length - 2] : versions[versions.length - 1];
}

function productNode(product: FakeProductInput) {
  const variants = product.variants.map((variant) => ({
    __typename: 'ProductVariant', id: gidOf('ProductVariant', variant.id), sku: variant.sku, title: variant.title ?? 'Default Title', price: variant.price,
    inventoryItem: { __typename: 'InventoryItem', id: gidOf('InventoryItem', variant.inventoryItemId) },
  }));
  return { __typename: 'Product', id: gidOf('Product', product.id), title: product.title, updatedAt: product.updatedAt ?? null, variants: ((args) => connectionOf(variants, args)) satisfies FieldResolver };
}

function customerNode(customer: FakeCustomerInput, lookups: ShopLookups) {
  const id = gidOf('Customer', customer.id);
  return {
    __typename: 'Customer', id, firstName: customer.firstName ?? null, lastName: customer.lastName ?? null, note: customer.note ?? null, updatedAt: customer.updatedAt ?? null,
    verifiedEmail: customer.verifiedEmail ?? false, tags: customer.tags ?? [],
    defaultEmailAddress: customer.email ? { emailAddress: customer.email } : null,
    defaultPhoneNumber: customer.phone ? { phoneNumber: customer.phone } : null,
    metafield: ((args) => {
      const value = lookups.metafieldValue(id, String(args.namespace), String(args.key));
      return value === null ? null : { __typename: 'Metafield', value };
    }) satisfies FieldResolver,
  };
}

function locationNode(location: FakeLocationInput, records: ShopRecords, lookups: ShopLookups) {
  const id = gidOf('Location', location.id);
  return {
    __typename: 'Location', id, name: location.name, isActive: location.isActive ?? true, fulfillsOnlineOrders: location.fulfillsOnlineOrders ?? false, address: location.address ?? {},
    inventoryLevels: ((args) => {
      const levels = lookups.itemsAt(id).sort((a, b) => byId({ id: a }, { id: b })).map((itemId) => ({
        __typename: 'InventoryLevel', updatedAt: records.levelUpdatedAt.get(`${itemId}|${id}`) ?? null, item: { __typename: 'InventoryItem', id: itemId, tracked: true },
        quantities: ((quantityArgs) => (Array.isArray(quantityArgs.names) ? quantityArgs.names : []).map((name) => ({ __typename: 'InventoryQuantity', name, quantity: lookups.readQuantity(itemId, id, String(name)) }))) satisfies FieldResolver,
      }));
      return connectionOf(levels, args);
    }) satisfies FieldResolver,
  };
}

/** `created_at:>='2026-01-01T00:00:00Z'` → that instant; other search terms are not understood. */
function createdAtMinimumOf(query: unknown): string | null {
  if (typeof query !== 'string' || query.trim() === '') return null;
  const match = /created_at:>=\s*'?([^'\s]+)'?/.exec(query);
  if (!match?.[1]) throw new ShopQueryFault(`The fake understands only created_at:>= in order searches (got ${query})`, 'UNSUPPORTED');
  return new Date(match[1]).toISOString();
}

export function shopQueryResolvers(records: ShopRecords, lookups: ShopLookups, options: { stale: boolean }): Record<string, RootResolver> {
  const latestProducts = () => [...records.products.values()].map((versions) => versionOf(versions, options.stale)).filter((product): product is FakeProductInput => product !== undefined).map((product) => ({ ...product, id: gidOf('Product', product.id) })).sort(byId);
  const latestCustomers = () => [...records.customers.values()].map((versions) => versionOf(versions, options.stale)).filter((customer): customer is FakeCustomerInput => customer !== undefined).map((customer) => ({ ...customer, id: gidOf('Customer', customer.id) })).sort(byId);
  return {
    products: (args) => connectionOf(latestProducts().map(productNode), args),
    product: (args) => {
      const versions = records.products.get(gidOf('Product', String(args.id)));
      const product = versions ? versionOf(versions, options.stale) : undefined;
      return product ? productNode(product) : null;
    },
    customers: (args) => connectionOf(latestCustomers().map((customer) => customerNode(customer, lookups)), args),
    locations: (args) => connectionOf([...records.locations.values()].filter((location) => args.includeInactive === true || location.isActive !== false).map((location) => ({ ...location, id: gidOf('Location', location.id) })).sort(byId).map((location) => locationNode(location, records, lookups)), args),
    location: (args) => {
      const location = records.locations.get(gidOf('Location', String(args.id)));
      return location ? locationNode(location, records, lookups) : null;
    },
    orders: (args) => {
      const minimum = createdAtMinimumOf(args.query);
      const orders = [...records.orders.values()].filter((order) => minimum === null || new Date(String(order.createdAt)).toISOString() >= minimum);
      orders.sort((a, b) => String(a.createdAt).localeCompare(String(b.createdAt)) || byId({ id: String(a.id) }, { id: String(b.id) }));
      return connectionOf(orders, args);
    },
    productsCount: () => ({ __typename: 'Count', count: records.products.size, precision: 'EXACT' }),
    customersCount: () => ({ __typename: 'Count', count: records.customers.size, precision: 'EXACT' }),
    locationsCount: () => ({ __typename: 'Count', count: records.locations.size, precision: 'EXACT' }),
    webhookSubscriptions: (args) => connectionOf([...records.webhookSubscriptions.values()].sort(byId), args),
  };
}

export function shopMutationResolvers(records: ShopRecords): Record<string, RootResolver> {
  return {
    webhookSubscriptionCreate: (args) => {
      const topic = typeof args.topic === 'string' ? args.topic : '';
      const input = isRecord(args.webhookSubscription) ? args.webhookSubscription : {};
      const uri = typeof input.uri === 'string' ? input.uri : typeof input.callbackUrl === 'string' ? input.callbackUrl : '';
      if (!/^[A-Z_]+$/.test(topic)) throw new ShopQueryFault(`Variable $topic of type WebhookSubscriptionTopic! was provided invalid value (${topic})`, 'INVALID_VARIABLE');
      if (!/^https?:\/\//.test(uri)) return { webhookSubscription: null, userErrors: [{ field: ['webhookSubscription', 'uri'], message: 'Address is invalid' }] };
      if ([...records.webhookSubscriptions.values()].some((subscription) => subscription.topic === topic && subscription.uri === uri)) {
        return { webhookSubscription: null, userErrors: [{ field: ['webhookSubscription', 'uri'], message: 'Address for this topic has already been taken' }] };
      }
      records.sequence += 1;
      const subscription: FakeWebhookSubscription = { id: `gid://shopify/WebhookSubscription/${records.sequence}`, topic, uri, format: typeof input.format === 'string' ? input.format : 'JSON', createdAt: new Date().toISOString() };
      records.webhookSubscriptions.set(subscription.id, subscription);
      return { webhookSubscription: { __typename: 'WebhookSubscription', ...subscription }, userErrors: [] };
    },
    webhookSubscriptionDelete: (args) => {
      const id = String(args.id);
      const deleted = records.webhookSubscriptions.delete(id);
      return { deletedWebhookSubscriptionId: deleted ? id : null, userErrors: deleted ? [] : [{ field: ['id'], message: 'Webhook subscription does not exist' }] };
    },
  };
}

/** What tests may do to the shop's records. */
export interface FakeShopControls {
  /** Adds a version of the product (the latest is what Shopify shows). */
  setProduct(product: FakeProductInput): void;
  deleteProduct(id: string): void;
  setLocation(location: FakeLocationInput): void;
  /** Adds a version of the customer (the latest is what Shopify shows). */
  setCustomer(customer: FakeCustomerInput): void;
  deleteCustomer(id: string): void;
  /** An order as `orders` lists it: a GraphQL Order node with at least `id` and `createdAt` (`shippingLines` none when not given). */
  setListedOrder(order: Record<string, unknown>): void;
  webhookSubscriptions(): FakeWebhookSubscription[];
  /** Removes every subscription of the topic (`ORDERS_CREATE`), as Shopify does after repeated delivery failures. */
  removeWebhookSubscriptions(topic: string): number;
}

export function shopControls(records: ShopRecords): FakeShopControls {
  return {
    setProduct: (product) => {
      const id = gidOf('Product', product.id);
      records.products.set(id, [...(records.products.get(id) ?? []), structuredClone(product)]);
    },
    deleteProduct: (id) => void records.products.delete(gidOf('Product', id)),
    setLocation: (location) => void records.locations.set(gidOf('Location', location.id), structuredClone(location)),
    setCustomer: (customer) => {
      const id = gidOf('Customer', customer.id);
      records.customers.set(id, [...(records.customers.get(id) ?? []), structuredClone(customer)]);
      records.deletedCustomers.delete(id);
    },
    deleteCustomer: (id) => {
      records.customers.delete(gidOf('Customer', id));
      records.deletedCustomers.add(gidOf('Customer', id));
    },
    setListedOrder: (order) => {
      if (typeof order.id !== 'string' || typeof order.createdAt !== 'string') throw new Error('a listed order has a GID id and createdAt');
      // Order.shippingLines is a non-null connection: an order shipped nowhere lists none.
      records.orders.set(order.id, { shippingLines: { nodes: [] }, ...structuredClone(order) });
    },
    webhookSubscriptions: () => [...records.webhookSubscriptions.values()].map((subscription) => ({ ...subscription })),
    removeWebhookSubscriptions: (topic) => {
      let removed = 0;
      for (const [id, subscription] of records.webhookSubscriptions) {
        if (subscription.topic === topic) {
          records.webhookSubscriptions.delete(id);
          removed += 1;
        }
      }
      return removed;
    },
  };
}
