/**
 * Promotions defined in Continuum, as Shopify discounts (issue #6): what of a rule Shopify can
 * express, and the Admin GraphQL mutations that create, update and deactivate it. Facts relied on:
 *
 * - Code discounts: discountCodeBasicCreate(basicCodeDiscount:), discountCodeBxgyCreate(bxgyCodeDiscount:),
 *   discountCodeFreeShippingCreate(freeShippingCodeDiscount:) and their …Update(id:, …) answer
 *   {codeDiscountNode {id}, userErrors}; required on create: code, title, context:
 *   https://shopify.dev/docs/api/admin-graphql/2026-01/input-objects/DiscountCodeBxgyInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/payloads/DiscountCodeBxgyCreatePayload.md,
 *   https://shopify.dev/docs/api/admin-graphql/latest/payloads/DiscountCodeBasicUpdatePayload.md.
 *   They take usageLimit, appliesOncePerCustomer, startsAt, endsAt, combinesWith, minimumRequirement.
 * - Automatic discounts: discountAutomaticBasicCreate(automaticBasicDiscount:),
 *   discountAutomaticBxgyCreate(automaticBxgyDiscount:), discountAutomaticFreeShippingCreate(freeShippingAutomaticDiscount:)
 *   and their …Update(id:, …) answer {automaticDiscountNode {id}, userErrors}; only title is required;
 *   they have no code and no usage limit; a context other than ALL makes them apply on Shopify POS
 *   Pro locations, so ALL is sent (the register is priced by Continuum):
 *   https://shopify.dev/docs/api/admin-graphql/2026-07/input-objects/DiscountAutomaticBasicInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/payloads/DiscountAutomaticBasicCreatePayload.md,
 *   https://shopify.dev/docs/api/admin-graphql/latest/mutations/discountAutomaticFreeShippingCreate.md.
 *   discountAutomaticDeactivate(id:) ends one and keeps it:
 *   https://shopify.dev/docs/api/admin-graphql/2026-01/payloads/DiscountAutomaticDeactivatePayload.
 * - Values: customerGets.value is a percentage (0–1) or a discountAmount {amount, appliesOnEachItem};
 *   BXGY supports neither and takes discountOnQuantity {quantity, effect {percentage}}; customerBuys
 *   takes value {quantity} and items; quantities are UnsignedInt64, sent as strings; the minimum is
 *   minimumRequirement {subtotal {greaterThanOrEqualToSubtotal}} (a Decimal):
 *   https://shopify.dev/docs/api/admin-graphql/2025-04/input-objects/DiscountCustomerGetsValueInput,
 *   https://shopify.dev/docs/api/admin-graphql/2026-07/input-objects/DiscountOnQuantityInput,
 *   https://shopify.dev/docs/api/admin-graphql/2025-10/input-objects/DiscountCustomerBuysValueInput,
 *   https://shopify.dev/docs/api/admin-graphql/latest/input-objects/DiscountMinimumSubtotalInput.md.
 *
 * What Shopify cannot express is not pushed, and the note of the outbox message says why: store-only
 * promotions, member prices, and conditions on tier, membership, first order, location, hours or
 * cart contents (a discount without them would give more online than the rule allows). Priority has
 * no equivalent; exclusive and non-stackable promotions combine with nothing in Shopify.
 */
import { z } from 'zod';
import { findExternalId, findVariantBySku } from '../../catalog/index.ts';
import type { Db } from '../../db/index.ts';
import { getMerchant, type Merchant } from '../../merchants/index.ts';
import { countPromotionRedemptions, getPromotion, setPromotionShopifyDiscountId, type ItemSelector, type Promotion } from '../../promotions/index.ts';
import { AppError, assert } from '../../shared/app-error.ts';
import { minorToDecimal } from '../../shared/money.ts';
import { shopifyGid, type ShopifyAdminClient } from './client.ts';

export type DiscountMethod = 'code' | 'automatic';
export type DiscountType = 'basic' | 'bxgy' | 'free_shipping';

/** A promotion as a Shopify discount: which mutation, and its input as Shopify documents it. */
export interface PromotionDiscount {
  method: DiscountMethod;
  type: DiscountType;
  input: Record<string, unknown>;
}

interface MutationNames {
  create: string;
  update: string;
  /** The argument (and variable) name of the input. */
  argument: string;
  inputType: string;
  node: 'codeDiscountNode' | 'automaticDiscountNode';
}

const mutations: Record<`${DiscountMethod}:${DiscountType}`, MutationNames> = {
  'code:basic': { create: 'discountCodeBasicCreate', update: 'discountCodeBasicUpdate', argument: 'basicCodeDiscount', inputType: 'DiscountCodeBasicInput', node: 'codeDiscountNode' },
  'code:bxgy': { create: 'discountCodeBxgyCreate', update: 'discountCodeBxgyUpdate', argument: 'bxgyCodeDiscount', inputType: 'DiscountCodeBxgyInput', node: 'codeDiscountNode' },
  'code:free_shipping': { create: 'discountCodeFreeShippingCreate', update: 'discountCodeFreeShippingUpdate', argument: 'freeShippingCodeDiscount', inputType: 'DiscountCodeFreeShippingInput', node: 'codeDiscountNode' },
  'automatic:basic': { create: 'discountAutomaticBasicCreate', update: 'discountAutomaticBasicUpdate', argument: 'automaticBasicDiscount', inputType: 'DiscountAutomaticBasicInput', node: 'automaticDiscountNode' },
  'automatic:bxgy': { create: 'discountAutomaticBxgyCreate', update: 'discountAutomaticBxgyUpdate', argument: 'automaticBxgyDiscount', inputType: 'DiscountAutomaticBxgyInput', node: 'automaticDiscountNode' },
  'automatic:free_shipping': { create: 'discountAutomaticFreeShippingCreate', update: 'discountAutomaticFreeShippingUpdate', argument: 'freeShippingAutomaticDiscount', inputType: 'DiscountAutomaticFreeShippingInput', node: 'automaticDiscountNode' },
};

const userErrorSchema = z.object({ field: z.array(z.string()).nullable().optional(), message: z.string(), code: z.string().nullable().optional() });

function payloadSchema(operation: string, node: MutationNames['node']) {
  return z.object({ [operation]: z.object({ [node]: z.object({ id: z.string() }).nullable(), userErrors: z.array(userErrorSchema) }) });
}

/** Runs one discount mutation and returns the node id; userErrors throw `connectors.shopify.user_error`. */
async function runDiscountMutation(client: ShopifyAdminClient, operation: string, node: MutationNames['node'], document: string, variables: Record<string, unknown>): Promise<string> {
  const { data } = await client.request<unknown>(document, variables);
  const parsed = payloadSchema(operation, node).safeParse(data);
  if (!parsed.success) throw new AppError('connectors.shopify.unexpected_response', `Shopify answered ${operation} with an unexpected shape`, { operation, issues: parsed.error.issues });
  const payload = parsed.data[operation] as { userErrors: z.infer<typeof userErrorSchema>[] } & Record<string, { id: string } | null>;
  const found = payload[node] as { id: string } | null;
  if (payload.userErrors.length > 0 || !found) {
    throw new AppError('connectors.shopify.user_error', payload.userErrors.map((error) => error.message).join('; ') || `${operation} returned no discount`, { operation, userErrors: payload.userErrors });
  }
  return found.id;
}

/** Creates the discount; returns its node id (DiscountCodeNode or DiscountAutomaticNode). */
export async function createPromotionDiscount(client: ShopifyAdminClient, discount: PromotionDiscount): Promise<string> {
  const names = mutations[`${discount.method}:${discount.type}`];
  const document = `mutation CreatePromotionDiscount($${names.argument}: ${names.inputType}!) {
  ${names.create}(${names.argument}: $${names.argument}) { ${names.node} { id } userErrors { field message code } }
}`;
  return runDiscountMutation(client, names.create, names.node, document, { [names.argument]: discount.input });
}

/** Updates the discount with this id to the promotion as it is now. */
export async function updatePromotionDiscount(client: ShopifyAdminClient, id: string, discount: PromotionDiscount): Promise<string> {
  const names = mutations[`${discount.method}:${discount.type}`];
  const document = `mutation UpdatePromotionDiscount($id: ID!, $${names.argument}: ${names.inputType}!) {
  ${names.update}(id: $id, ${names.argument}: $${names.argument}) { ${names.node} { id } userErrors { field message code } }
}`;
  return runDiscountMutation(client, names.update, names.node, document, { id, [names.argument]: discount.input });
}

/** Ends a discount (code or automatic, by its GID); Shopify keeps it and its history. */
export async function deactivatePromotionDiscount(client: ShopifyAdminClient, id: string): Promise<void> {
  if (id.startsWith('gid://shopify/DiscountCodeNode/')) return client.deactivateCodeDiscount(id);
  assert(id.startsWith('gid://shopify/DiscountAutomaticNode/'), 'a promotion discount is a code or an automatic discount node');
  const document = `mutation DeactivateAutomaticDiscount($id: ID!) {
  discountAutomaticDeactivate(id: $id) { automaticDiscountNode { id } userErrors { field message code } }
}`;
  await runDiscountMutation(client, 'discountAutomaticDeactivate', 'automaticDiscountNode', document, { id });
}

/** Why Shopify cannot carry the promotion faithfully, or null when it can. */
export function whyNotPushable(promotion: Promotion): string | null {
  const { conditions } = promotion;
  if (!promotion.channels.includes('online')) return 'the promotion is valid in store only';
  if (promotion.action.type === 'member_price') return 'a member price is unlocked by a tier or membership, which a Shopify discount cannot check';
  const unexpressed = [
    conditions.customerTiers.length > 0 ? 'customer tiers' : null, conditions.memberships.length > 0 ? 'memberships' : null, conditions.firstOrder ? 'first order' : null,
    conditions.locationIds.length > 0 ? 'locations' : null, conditions.hours ? 'hours' : null, conditions.items ? 'products in the cart' : null,
  ].filter((entry): entry is string => entry !== null);
  if (unexpressed.length > 0) return `Shopify discounts cannot check ${unexpressed.join(', ')}; the promotion applies in Continuum-priced channels only`;
  return null;
}

/** Our SKUs and products as Shopify items; an empty selector is every item. */
async function discountItems(db: Db, merchantId: string, selector: ItemSelector): Promise<Record<string, unknown>> {
  if (selector.skus.length === 0 && selector.productIds.length === 0) return { all: true };
  const productVariantsToAdd: string[] = [];
  for (const sku of selector.skus) {
    const variant = await findVariantBySku(db, merchantId, sku);
    const shopifyId = variant ? await findExternalId(db, merchantId, 'variant', variant.id, 'shopify') : undefined;
    if (!shopifyId) throw new AppError('connectors.shopify.unmapped_variant', `SKU ${sku} has no Shopify variant`, { sku });
    productVariantsToAdd.push(shopifyGid('ProductVariant', shopifyId));
  }
  const productsToAdd: string[] = [];
  for (const productId of selector.productIds) {
    const shopifyId = await findExternalId(db, merchantId, 'product', productId, 'shopify');
    if (!shopifyId) throw new AppError('connectors.shopify.unmapped_product', `Product ${productId} has no Shopify product`, { product_id: productId });
    productsToAdd.push(shopifyGid('Product', shopifyId));
  }
  return { products: { ...(productVariantsToAdd.length > 0 ? { productVariantsToAdd } : {}), ...(productsToAdd.length > 0 ? { productsToAdd } : {}) } };
}

/** Fields every discount shares; codes add their code and limits. */
function commonFields(promotion: Promotion, merchant: Merchant): Record<string, unknown> {
  const combines = !promotion.exclusive && promotion.stackable;
  const minimum = promotion.conditions.minSubtotalMinor;
  return {
    title: promotion.name, startsAt: promotion.startsAt ?? promotion.createdAt, endsAt: promotion.endsAt, context: { all: 'ALL' },
    combinesWith: combines ? { orderDiscounts: true, productDiscounts: true, shippingDiscounts: true } : {},
    ...(minimum !== null ? { minimumRequirement: { subtotal: { greaterThanOrEqualToSubtotal: minorToDecimal(minimum, merchant.currency) } } } : {}),
    ...(promotion.automatic ? {} : { code: promotion.code, usageLimit: promotion.totalUsageMax, appliesOncePerCustomer: promotion.perCustomerUsageMax === 1 }),
  };
}

/** The action as customerGets (and customerBuys for a buy-X-get-Y), and which kind of discount carries it. */
async function actionFields(db: Db, merchant: Merchant, promotion: Promotion): Promise<{ type: DiscountType; fields: Record<string, unknown> }> {
  const action = promotion.action;
  const amount = (amountMinor: number) => ({ discountAmount: { amount: minorToDecimal(amountMinor, merchant.currency), appliesOnEachItem: false } });
  switch (action.type) {
    case 'percent_off_order':
      return { type: 'basic', fields: { customerGets: { value: { percentage: action.percentBps / 10_000 }, items: { all: true } } } };
    case 'amount_off_order':
      return { type: 'basic', fields: { customerGets: { value: amount(action.amountMinor), items: { all: true } } } };
    case 'percent_off_lines':
      return { type: 'basic', fields: { customerGets: { value: { percentage: action.percentBps / 10_000 }, items: await discountItems(db, merchant.id, action.items) } } };
    case 'amount_off_lines':
      return { type: 'basic', fields: { customerGets: { value: amount(action.amountMinor), items: await discountItems(db, merchant.id, action.items) } } };
    case 'free_item': {
      // The SKU's price times the free quantity, split over its units in the cart (as a reward's free product).
      const variant = await findVariantBySku(db, merchant.id, action.sku);
      if (!variant) throw new AppError('connectors.shopify.unmapped_variant', `SKU ${action.sku} is not in the catalogue`, { sku: action.sku });
      return { type: 'basic', fields: { customerGets: { value: amount(variant.priceMinor * action.quantity), items: await discountItems(db, merchant.id, { skus: [action.sku], productIds: [] }) } } };
    }
    case 'buy_x_get_y':
      return {
        type: 'bxgy',
        fields: {
          customerBuys: { value: { quantity: String(action.buy.quantity) }, items: await discountItems(db, merchant.id, action.buy) },
          customerGets: { value: { discountOnQuantity: { quantity: String(action.get.quantity), effect: { percentage: action.get.percentBps / 10_000 } } }, items: await discountItems(db, merchant.id, action.get) },
          ...(action.usesPerOrderMax !== null ? { usesPerOrderLimit: action.usesPerOrderMax } : {}),
        },
      };
    case 'free_shipping':
      return { type: 'free_shipping', fields: { destination: { all: true } } };
    case 'member_price':
      throw new Error('Assertion failed: member prices are never pushed (whyNotPushable)');
  }
}

/**
 * The Shopify discount for a promotion Shopify can carry (check `whyNotPushable` first).
 * Example: SUMMER10, 10 % off the order → a code basic discount with customerGets {value: {percentage: 0.1}, items: {all: true}}.
 */
export async function promotionDiscountFor(db: Db, merchant: Merchant, promotion: Promotion): Promise<PromotionDiscount> {
  assert(whyNotPushable(promotion) === null, 'only a pushable promotion becomes a Shopify discount');
  const { type, fields } = await actionFields(db, merchant, promotion);
  return { method: promotion.automatic ? 'automatic' : 'code', type, input: { ...commonFields(promotion, merchant), ...fields } };
}

/**
 * Brings Shopify's copy of a promotion in line with the promotion as it is now (`promotion.push`
 * and `promotion.deactivate` messages): created, updated, or deactivated when it is inactive, its
 * total usage limit is reached across channels, or Shopify can no longer carry it. A code discount
 * Shopify already holds (an earlier attempt whose answer was lost) is updated, not created twice.
 */
export async function syncPromotionDiscount(db: Db, client: ShopifyAdminClient, merchantId: string, promotionId: string): Promise<string | void> {
  const merchant = await getMerchant(db, merchantId);
  const promotion = await getPromotion(db, merchantId, promotionId);
  const existingId = promotion.shopifyDiscountId ?? (promotion.code !== null && !promotion.automatic ? await client.findCodeDiscountId(promotion.code) : null);
  const usedUp = promotion.totalUsageMax !== null && (await countPromotionRedemptions(db, merchantId, promotion.id)).total >= promotion.totalUsageMax;
  const reason = !promotion.active ? 'the promotion is inactive' : usedUp ? 'its total usage limit is reached across channels' : whyNotPushable(promotion);
  if (reason) {
    if (!existingId) return `skipped: ${reason}`;
    await deactivatePromotionDiscount(client, existingId);
    if (existingId !== promotion.shopifyDiscountId) await setPromotionShopifyDiscountId(db, merchantId, promotion.id, existingId);
    return `deactivated: ${reason}`;
  }
  const discount = await promotionDiscountFor(db, merchant, promotion);
  const id = existingId ? await updatePromotionDiscount(client, existingId, discount) : await createPromotionDiscount(client, discount);
  if (id !== promotion.shopifyDiscountId) await setPromotionShopifyDiscountId(db, merchantId, promotion.id, id);
}
