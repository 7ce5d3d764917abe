import type { ChannelStockReportCommand, CustomerDataRequestCommand, CustomerRedactCommand, PrivacySubject, RecordOrderCommand, RecordRefundCommand } from '../../commands/index.ts';
import type { AddressInput, ConsentState, CustomerClaim } from '../../customers/index.ts';
import type { MirroredProduct } from '../../catalog/index.ts';
import { AppError } from '../../shared/app-error.ts';
import { toIso } from '../../shared/clock.ts';
import { decimalToMinor } from '../../shared/money.ts';
import { parseRefundMarker } from '../refund-marker.ts';
import type { ChannelLocationInput } from '../../merchants/index.ts';
import type { ShopifyCustomerNode, ShopifyLocationNode, ShopifyOrderNode, ShopifyProductNode } from './admin-queries.ts';
import {
  shopifyDeletionSchema, shopifyLocationSchema, shopifyShopSchema,
  shopifyProductSchema,
  shopifyInventoryLevelSchema,
  shopifyCustomerDataRequestSchema, shopifyCustomerMergeSchema, shopifyCustomerRedactSchema, shopifyCustomerSchema, shopifyOrderSchema, shopifyRefundSchema, shopifyShopRedactSchema,
  type ShopifyAddress, type ShopifyCustomer, type ShopifyOrder, type ShopifyPrivacyCustomer, type ShopifyRefund,
} from './types.ts';

function parsePayload<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, payload: unknown, topic: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    throw new AppError('connectors.shopify.invalid_payload', `The ${topic} payload does not have the expected shape: ${issues[0]?.path} ${issues[0]?.message}`, { issues });
  }
  return result.data;
}

function money(set: { shop_money: { amount: string | number; currency_code: string } }): number {
  return decimalToMinor(set.shop_money.amount, set.shop_money.currency_code);
}

function customerClaim(order: ShopifyOrder): CustomerClaim | null {
  const customer = order.customer;
  const email = customer?.email ?? order.email ?? order.contact_email ?? null;
  const phone = customer?.phone ?? order.phone ?? order.billing_address?.phone ?? customer?.default_address?.phone ?? null;
  if (!customer && !email && !phone) return null;
  const base = customer ? customerObjectClaim(customer) : { channelIds: [], source: 'shopify' };
  return {
    ...base,
    email,
    phone,
    firstName: customer?.first_name ?? order.billing_address?.first_name ?? null,
    lastName: customer?.last_name ?? order.billing_address?.last_name ?? null,
  };
}

/**
 * Shopify's automatic discounts the order got, by title (a promotion pushed to Shopify as an
 * automatic discount is titled with its name), each with what it took off the lines and shipping.
 */
function automaticDiscountsOf(order: ShopifyOrder): { title: string; amountMinor: number }[] {
  const allocations = [...order.line_items.flatMap((line) => line.discount_allocations), ...order.shipping_lines.flatMap((shipping) => shipping.discount_allocations)];
  return order.discount_applications.flatMap((application, index) => {
    if (application.type !== 'automatic' || !application.title) return [];
    const amountMinor = allocations.filter((allocation) => allocation.discount_application_index === index).reduce((sum, allocation) => sum + money(allocation.amount_set), 0);
    return [{ title: application.title, amountMinor }];
  });
}

/** `orders/create` (and the first sight of an order) → RecordOrder. */
export function translateShopifyOrder(payload: unknown): RecordOrderCommand {
  const order = parsePayload(shopifyOrderSchema, payload, 'order');
  const currency = order.total_price_set.shop_money.currency_code;
  const lines = order.line_items.map((line) => ({
    sourceRef: line.id,
    channelVariantId: line.variant_id ?? null,
    sku: line.sku || null,
    title: line.name ?? line.title,
    quantity: line.quantity,
    unitPriceMinor: money(line.price_set),
    discountMinor: line.discount_allocations.reduce((sum, allocation) => sum + money(allocation.amount_set), 0),
    taxMinor: line.tax_lines.reduce((sum, tax) => sum + money(tax.price_set), 0),
    giftCard: line.gift_card,
  }));
  const subtotalMinor = lines.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
  const discountMinor = lines.reduce((sum, line) => sum + line.discountMinor, 0);
  const shippingMinor = order.shipping_lines.reduce((sum, shipping) => sum + money(shipping.discounted_price_set ?? shipping.price_set), 0);
  const taxMinor = money(order.total_tax_set);
  const totalMinor = money(order.total_price_set);
  if (subtotalMinor !== money(order.total_line_items_price_set) || subtotalMinor - discountMinor + shippingMinor + taxMinor !== totalMinor) {
    throw new AppError('connectors.shopify.inconsistent_totals', `Order ${order.id}: lines, discounts, shipping and tax do not add up to the total`, { subtotal_minor: subtotalMinor, discount_minor: discountMinor, shipping_minor: shippingMinor, tax_minor: taxMinor, total_minor: totalMinor });
  }
  const isStoreSale = order.source_name === 'pos';
  return {
    source: 'shopify',
    sourceRef: order.id,
    channel: isStoreSale ? 'store' : 'online',
    orderNumber: order.name ?? (order.order_number ? String(order.order_number) : null),
    placedAt: toIso(order.processed_at ?? order.created_at),
    sourceUpdatedAt: order.updated_at ? toIso(order.updated_at) : null,
    currency,
    status: order.cancelled_at ? 'cancelled' : order.financial_status ?? 'open',
    customer: customerClaim(order),
    channelLocationId: order.location_id ?? null,
    lines,
    subtotalMinor,
    discountMinor,
    shippingMinor,
    taxMinor,
    totalMinor,
    discountCodes: order.discount_codes.map((code) => ({ code: code.code, amountMinor: decimalToMinor(code.amount, currency) })),
    automaticDiscounts: automaticDiscountsOf(order),
    payments: order.financial_status === 'paid' ? [{ method: order.payment_gateway_names.join(',') || 'unknown', amountMinor: totalMinor }] : [],
    cancelledAt: order.cancelled_at ? toIso(order.cancelled_at) : null,
    fulfilmentStatus: order.fulfillment_status ?? null,
  };
}

// Shopify's restock types: `cancel` (never shipped) and `return` put units back on the shelf;
// `no_restock` does not. `legacy_restock` comes from refunds made before restock types existed.
const restockingTypes = new Set(['cancel', 'return', 'legacy_restock']);

/** `refunds/create` (the root is the refund itself, not wrapped) → RecordRefund. */
export function translateShopifyRefund(payload: unknown): RecordRefundCommand {
  const refund = parsePayload(shopifyRefundSchema, payload, 'refund');
  const refundTransactions = refund.transactions.filter((transaction) => transaction.kind === 'refund' && transaction.status === 'success');
  const lines = refund.refund_line_items.map((line) => ({
    lineSourceRef: line.line_item_id,
    quantity: line.quantity,
    amountMinor: money(line.subtotal_set),
    taxMinor: money(line.total_tax_set),
    restock: restockingTypes.has(line.restock_type ?? ''),
    channelLocationId: line.location_id ?? null,
  }));
  const currency = refundTransactions[0]?.currency ?? refund.refund_line_items[0]?.subtotal_set.shop_money.currency_code;
  if (!currency) throw new AppError('connectors.shopify.invalid_payload', `Refund ${refund.id} names no currency`, { refund_id: refund.id });
  const shipping = refundedShipping(refund, currency);
  const amountMinor = refundTransactions.length > 0
    ? refundTransactions.reduce((sum, transaction) => sum + decimalToMinor(transaction.amount, transaction.currency), 0)
    : lines.reduce((sum, line) => sum + line.amountMinor + line.taxMinor, shipping.minor);
  // A refund Continuum pushed names its return in the note: it is linked to that return, not recorded again.
  const continuumReturnId = parseRefundMarker(refund.note);
  return { source: 'shopify', sourceRef: refund.id, orderSourceRef: refund.order_id, amountMinor, shippingMinor: shipping.minor, shippingTaxMinor: shipping.taxMinor, currency, note: refund.note ?? null, occurredAt: toIso(refund.processed_at ?? refund.created_at), ...(continuumReturnId ? { continuumReturnId } : {}), lines };
}

/** The shipping a refund gives back with its tax (`minor`), and that tax. */
function refundedShipping(refund: ShopifyRefund, currency: string): { minor: number; taxMinor: number } {
  let minor = 0;
  let taxMinor = 0;
  for (const line of refund.refund_shipping_lines) {
    const tax = line.tax_amount_set ? money(line.tax_amount_set) : 0;
    minor += (line.subtotal_amount_set ? money(line.subtotal_amount_set) : decimalToMinor(line.amount ?? 0, currency)) + tax;
    taxMinor += tax;
  }
  // Older refunds: an adjustment of kind shipping_refund, its amounts negative.
  for (const adjustment of refund.order_adjustments.filter((candidate) => candidate.kind === 'shipping_refund')) {
    const tax = -decimalToMinor(adjustment.tax_amount ?? 0, currency);
    minor += -decimalToMinor(adjustment.amount, currency) + tax;
    taxMinor += tax;
  }
  return { minor, taxMinor };
}

function addressInput(address: ShopifyAddress, isDefault: boolean): AddressInput {
  return { line1: address.address1 ?? null, line2: address.address2 ?? null, city: address.city ?? null, region: address.province_code ?? address.province ?? null, postalCode: address.zip ?? null, countryCode: address.country_code ?? null, phone: address.phone ?? null, isDefault };
}

const consentStates = new Set<ConsentState>(['subscribed', 'unsubscribed', 'not_subscribed', 'pending']);

function consentState(value: string | null | undefined): ConsentState | undefined {
  const state = value?.toLowerCase() as ConsentState | undefined;
  return state && consentStates.has(state) ? state : undefined;
}

/** Everything a Shopify customer object says about her profile. */
function customerObjectClaim(customer: ShopifyCustomer): CustomerClaim {
  const addresses = [...(customer.addresses ?? []), ...(customer.default_address ? [customer.default_address] : [])];
  const consents: CustomerClaim['consents'] = [];
  const email = consentState(customer.email_marketing_consent?.state);
  const sms = consentState(customer.sms_marketing_consent?.state);
  if (email) consents.push({ topic: 'email_marketing', state: email });
  if (sms) consents.push({ topic: 'sms_marketing', state: sms });
  return {
    channelIds: [{ kind: 'shopify_id', value: customer.id }],
    email: customer.email ?? null,
    emailVerified: customer.verified_email === true,
    phone: customer.phone ?? customer.default_address?.phone ?? null,
    firstName: customer.first_name ?? customer.default_address?.first_name ?? null,
    lastName: customer.last_name ?? customer.default_address?.last_name ?? null,
    addresses: addresses.map((address) => addressInput(address, address === customer.default_address || address.default === true)),
    consents,
    note: customer.note ?? null,
    source: 'shopify',
  };
}

/** The Shopify id and `updated_at` of a `customers/*` payload: which version of whom it is. */
export function translateShopifyCustomerVersion(payload: unknown): { shopifyId: string; updatedAt: string | null } {
  const customer = parsePayload(shopifyCustomerSchema, payload, 'customer');
  return { shopifyId: customer.id, updatedAt: customer.updated_at ? toIso(customer.updated_at) : null };
}

/** `customers/create` and `customers/update` → the claim that resolves her profile. */
export function translateShopifyCustomer(payload: unknown): CustomerClaim {
  return customerObjectClaim(parsePayload(shopifyCustomerSchema, payload, 'customer'));
}

/** `customers/merge`: which Shopify customer was kept and which deleted, once Shopify has finished. */
export function translateShopifyCustomerMerge(payload: unknown): { keptId: string; deletedId: string; completed: boolean } {
  const merge = parsePayload(shopifyCustomerMergeSchema, payload, 'customer merge');
  const numericId = (gid: string) => gid.split('/').pop() ?? gid;
  return { keptId: numericId(merge.admin_graphql_api_customer_kept_id), deletedId: numericId(merge.admin_graphql_api_customer_deleted_id), completed: (merge.status ?? 'completed') === 'completed' };
}

// The mandatory privacy webhooks (sources in types.ts). The shop domain comes back beside the
// command so the connector can check the body names the shop that signed it.

/** Who a privacy webhook is about; a payload naming nobody cannot be applied. */
function privacySubject(customer: ShopifyPrivacyCustomer, topic: string): PrivacySubject {
  const subject: PrivacySubject = { channelId: customer.id ? { kind: 'shopify_id', value: customer.id } : null, email: customer.email?.trim() || null, phone: customer.phone?.trim() || null };
  if (!subject.channelId && !subject.email && !subject.phone) {
    throw new AppError('connectors.shopify.invalid_payload', `The ${topic} payload names no customer id, email or phone`, { issues: [{ path: 'customer', message: 'needs id, email or phone' }] });
  }
  return subject;
}

/** `customers/data_request` → the export request, once per `data_request.id`. */
export function translateShopifyCustomerDataRequest(payload: unknown): { shopDomain: string; command: CustomerDataRequestCommand } {
  const request = parsePayload(shopifyCustomerDataRequestSchema, payload, 'customers/data_request');
  return {
    shopDomain: request.shop_domain.toLowerCase(),
    command: { source: 'shopify', requestRef: request.data_request.id, subject: privacySubject(request.customer, 'customers/data_request'), ordersRequested: request.orders_requested ?? [] },
  };
}

/** `customers/redact` → forget the shopper. */
export function translateShopifyCustomerRedact(payload: unknown): { shopDomain: string; command: CustomerRedactCommand } {
  const request = parsePayload(shopifyCustomerRedactSchema, payload, 'customers/redact');
  return { shopDomain: request.shop_domain.toLowerCase(), command: { source: 'shopify', subject: privacySubject(request.customer, 'customers/redact'), ordersToRedact: request.orders_to_redact ?? [] } };
}

/** `shop/redact` (48 hours after the merchant uninstalls the app) → the shop whose data must go. */
export function translateShopifyShopRedact(payload: unknown): { shopDomain: string } {
  return { shopDomain: parsePayload(shopifyShopRedactSchema, payload, 'shop/redact').shop_domain.toLowerCase() };
}

/** `inventory_levels/update` → a channel stock report; `available: null` (untracked) reports nothing. */
export function translateShopifyInventoryLevel(payload: unknown, eventRef: string): ChannelStockReportCommand | undefined {
  const level = parsePayload(shopifyInventoryLevelSchema, payload, 'inventory level');
  if (level.available === null) return undefined;
  return { channel: 'shopify', channelItemId: level.inventory_item_id, channelLocationId: level.location_id, available: level.available, reportedAt: toIso(level.updated_at), eventRef };
}

/** `products/create` and `products/update` → the product as Shopify, the catalogue's owner, has it. Prices are in the shop's currency. */
export function translateShopifyProduct(payload: unknown, shopCurrency: string): MirroredProduct {
  const product = parsePayload(shopifyProductSchema, payload, 'product');
  return {
    channel: 'shopify',
    productRef: product.id,
    title: product.title,
    updatedAt: product.updated_at ? toIso(product.updated_at) : null,
    variants: product.variants.map((variant) => ({
      variantRef: variant.id,
      inventoryItemRef: variant.inventory_item_id ?? null,
      sku: variant.sku?.trim() || null,
      title: variant.title && variant.title !== 'Default Title' ? `${product.title} - ${variant.title}` : product.title,
      priceMinor: decimalToMinor(variant.price, shopCurrency),
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Topics and Admin API reads added for issue #7.

/** `gid://shopify/Product/123` → `123`: Continuum keeps Shopify's numeric ids, as its webhooks carry them. */
export function numericShopifyId(id: string): string {
  const numeric = id.startsWith('gid://') ? id.split('/').pop()?.split('?')[0] : id;
  if (!numeric || !/^\d+$/.test(numeric)) throw new AppError('connectors.shopify.invalid_id', `Expected a Shopify id or GID, got ${id}`, { id });
  return numeric;
}

/** `locations/create` and `locations/update` → the channel's location as Continuum keeps it. */
export function translateShopifyLocation(payload: unknown): ChannelLocationInput {
  const location = parsePayload(shopifyLocationSchema, payload, 'location');
  return {
    externalId: location.id,
    name: location.name,
    active: location.active !== false,
    address: { line1: location.address1 ?? null, line2: location.address2 ?? null, city: location.city ?? null, region: location.province_code ?? null, postalCode: location.zip ?? null, countryCode: location.country_code ?? null },
    sourceUpdatedAt: location.updated_at ? toIso(location.updated_at) : null,
  };
}

/** A location read from the Admin API (backfill); the API gives no `updatedAt`, so no version. */
export function translateShopifyLocationNode(node: ShopifyLocationNode): ChannelLocationInput {
  const address = node.address ?? {};
  return {
    externalId: numericShopifyId(node.id),
    name: node.name,
    active: node.isActive,
    address: { line1: address.address1 ?? null, line2: address.address2 ?? null, city: address.city ?? null, region: address.provinceCode ?? null, postalCode: address.zip ?? null, countryCode: address.countryCode ?? null },
    sourceUpdatedAt: null,
  };
}

/** `products/delete`, `customers/delete`, `locations/delete` → the deleted record's id. */
export function translateShopifyDeletion(payload: unknown, topic: string): { id: string } {
  return { id: parsePayload(shopifyDeletionSchema, payload, topic).id };
}

/** `app/uninstalled` → the shop that uninstalled the app (its myshopify domain, when the body names it). */
export function translateShopifyUninstall(payload: unknown): { shopDomain: string | null } {
  const shop = parsePayload(shopifyShopSchema, payload, 'app/uninstalled');
  return { shopDomain: shop.myshopify_domain?.toLowerCase() ?? null };
}

/** A product read from the Admin API → the same mirror `products/update` makes. */
export function translateShopifyProductNode(node: ShopifyProductNode, shopCurrency: string): MirroredProduct {
  return {
    channel: 'shopify',
    productRef: numericShopifyId(node.id),
    title: node.title,
    updatedAt: node.updatedAt ? toIso(node.updatedAt) : null,
    variants: node.variants.map((variant) => ({
      variantRef: numericShopifyId(variant.id),
      inventoryItemRef: variant.inventoryItem ? numericShopifyId(variant.inventoryItem.id) : null,
      sku: variant.sku?.trim() || null,
      title: variant.title && variant.title !== 'Default Title' ? `${node.title} - ${variant.title}` : node.title,
      priceMinor: decimalToMinor(variant.price, shopCurrency),
    })),
  };
}

/** A customer read from the Admin API → the claim `customers/update` makes, and her version. */
export function translateShopifyCustomerNode(node: ShopifyCustomerNode): { claim: CustomerClaim; shopifyId: string; updatedAt: string | null } {
  const shopifyId = numericShopifyId(node.id);
  return {
    shopifyId,
    updatedAt: node.updatedAt ? toIso(node.updatedAt) : null,
    claim: {
      channelIds: [{ kind: 'shopify_id', value: shopifyId }],
      email: node.defaultEmailAddress?.emailAddress ?? null,
      emailVerified: node.verifiedEmail === true,
      phone: node.defaultPhoneNumber?.phoneNumber ?? null,
      firstName: node.firstName,
      lastName: node.lastName,
      note: node.note ?? null,
      source: 'shopify',
    },
  };
}

function nodeMoney(set: { shopMoney: { amount: string; currencyCode: string } }): number {
  return decimalToMinor(set.shopMoney.amount, set.shopMoney.currencyCode);
}

/** OrderDisplayFulfillmentStatus → the REST `fulfillment_status` Continuum keeps (null while nothing shipped). */
function fulfilmentStatusOf(status: string | null | undefined): string | null {
  switch (status) {
    case null: case undefined: case 'UNFULFILLED': return null;
    case 'FULFILLED': return 'fulfilled';
    case 'PARTIALLY_FULFILLED': return 'partial';
    default: return status.toLowerCase();
  }
}

/**
 * The automatic discounts of an order read from the Admin API, by title, with what each took off
 * its lines and its shipping (a free-shipping discount allocates to the shipping lines only).
 */
function automaticDiscountsOfNode(node: ShopifyOrderNode): { title: string; amountMinor: number }[] {
  const byTitle = new Map<string, number>();
  const allocations = [...node.lineItems.nodes, ...node.shippingLines.nodes].flatMap((line) => line.discountAllocations);
  for (const allocation of allocations) {
    const application = allocation.discountApplication;
    if (application?.__typename !== 'AutomaticDiscountApplication' || !application.title) continue;
    byTitle.set(application.title, (byTitle.get(application.title) ?? 0) + nodeMoney(allocation.allocatedAmountSet));
  }
  return [...byTitle].map(([title, amountMinor]) => ({ title, amountMinor }));
}

/**
 * An order read from the Admin API → the same RecordOrder command `orders/create` makes, so an order
 * whose webhook never came is recorded as the webhook would have recorded it. GraphQL lists an
 * order's discount codes without their amounts: a single code takes the order's whole discount;
 * with several, Shopify does not say how the discount splits between them, so each is recorded with
 * 0 and the discount stays on the lines (where loyalty and returns read it).
 */
export function translateShopifyOrderNode(node: ShopifyOrderNode): RecordOrderCommand {
  const currency = node.totalPriceSet.shopMoney.currencyCode;
  if (node.lineItems.pageInfo.hasNextPage) {
    throw new AppError('connectors.shopify.too_many_lines', `Order ${node.id} has more than ${node.lineItems.nodes.length} lines; it is recorded from its webhook or by hand`, { order_id: node.id });
  }
  const lines = node.lineItems.nodes.map((line) => ({
    sourceRef: numericShopifyId(line.id),
    channelVariantId: line.variant ? numericShopifyId(line.variant.id) : null,
    sku: line.sku || null,
    title: line.name,
    quantity: line.quantity,
    unitPriceMinor: nodeMoney(line.originalUnitPriceSet),
    discountMinor: line.discountAllocations.reduce((sum, allocation) => sum + nodeMoney(allocation.allocatedAmountSet), 0),
    taxMinor: line.taxLines.reduce((sum, tax) => sum + nodeMoney(tax.priceSet), 0),
    giftCard: line.isGiftCard,
  }));
  const subtotalMinor = lines.reduce((sum, line) => sum + line.unitPriceMinor * line.quantity, 0);
  const discountMinor = lines.reduce((sum, line) => sum + line.discountMinor, 0);
  const shippingMinor = nodeMoney(node.totalShippingPriceSet);
  const taxMinor = nodeMoney(node.totalTaxSet);
  const totalMinor = nodeMoney(node.totalPriceSet);
  if (subtotalMinor - discountMinor + shippingMinor + taxMinor !== totalMinor) {
    throw new AppError('connectors.shopify.inconsistent_totals', `Order ${node.id}: lines, discounts, shipping and tax do not add up to the total`, { subtotal_minor: subtotalMinor, discount_minor: discountMinor, shipping_minor: shippingMinor, tax_minor: taxMinor, total_minor: totalMinor });
  }
  const financialStatus = node.displayFinancialStatus?.toLowerCase() ?? null;
  const customer = node.customer;
  const email = customer?.defaultEmailAddress?.emailAddress ?? node.email ?? null;
  const phone = customer?.defaultPhoneNumber?.phoneNumber ?? node.phone ?? null;
  const claim: CustomerClaim | null = customer || email || phone
    ? { channelIds: customer ? [{ kind: 'shopify_id', value: numericShopifyId(customer.id) }] : [], email, emailVerified: customer?.verifiedEmail === true, phone, firstName: customer?.firstName ?? null, lastName: customer?.lastName ?? null, source: 'shopify' }
    : null;
  return {
    source: 'shopify',
    sourceRef: numericShopifyId(node.id),
    channel: node.sourceName === 'pos' ? 'store' : 'online',
    orderNumber: node.name ?? null,
    placedAt: toIso(node.processedAt ?? node.createdAt),
    sourceUpdatedAt: node.updatedAt ? toIso(node.updatedAt) : null,
    currency,
    status: node.cancelledAt ? 'cancelled' : financialStatus ?? 'open',
    customer: claim,
    channelLocationId: node.retailLocation ? numericShopifyId(node.retailLocation.id) : null,
    lines,
    subtotalMinor,
    discountMinor,
    shippingMinor,
    taxMinor,
    totalMinor,
    discountCodes: node.discountCodes.map((code) => ({ code, amountMinor: node.discountCodes.length === 1 ? nodeMoney(node.totalDiscountsSet) : 0 })),
    automaticDiscounts: automaticDiscountsOfNode(node),
    payments: financialStatus === 'paid' ? [{ method: node.paymentGatewayNames.join(',') || 'unknown', amountMinor: totalMinor }] : [],
    cancelledAt: node.cancelledAt ? toIso(node.cancelledAt) : null,
    fulfilmentStatus: fulfilmentStatusOf(node.displayFulfillmentStatus),
  };
}
