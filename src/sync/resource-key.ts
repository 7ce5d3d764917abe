import type { InboxSource } from './inbox.ts';

// Which resource an inbound event is about, so the worker applies the events of one resource in the
// order they were received (docs/inbox.md). The key is read from the raw payload's identifiers at
// ingest, before anything is translated: it names the channel's own ids, scoped by source, and the
// inbox scopes it by merchant. Events of different resources never wait for each other.
//
// The key is the one thing the inbox reads out of a channel's payload. It lives beside the inbox,
// not in the connectors, so that the ordering rule and the resources it groups are in one place.

/** The longest id a key takes from a payload; a longer value is no id we know, and keys nothing. */
const idLengthMax = 100;
/** Shopify's numeric ids go past 2^53; a payload parsed with JSON.parse holds them rounded. */
const gidPattern = /^gid:\/\/shopify\/[A-Za-z]+\/(\d+)(?:\?.*)?$/;

/**
 * Returned when an id the key needs is a number beyond 2^53, which JSON.parse rounds: parse the
 * body again without loss (`parseJsonExactly`, which keeps such numbers as text) and ask again.
 */
export const needsExactNumbers = Symbol('needsExactNumbers');

type Json = Record<string, unknown>;
type IdText = string | undefined | typeof needsExactNumbers;

/**
 * The resource an inbound event is about, as `source:kind:id`, or null when its events need no
 * order (an unknown topic, a notification spanning several resources, a shop-wide event).
 * Example: computeResourceKey('shopify', 'refunds/create', parseJsonExactly('{"id": 7, "order_id": 820982911946154508}'))
 * → 'shopify:order:820982911946154508' — a refund follows its order.
 */
export function computeResourceKey(source: InboxSource, topic: string, payload: unknown): string | null | typeof needsExactNumbers {
  if (!isObject(payload)) return null;
  if (source === 'shopify') return keyOf('shopify', shopifyResource(topic, payload));
  if (source === 'square') return keyOf('square', squareResource(topic, payload));
  return null;
}

function keyOf(source: string, resource: [kind: string, ...ids: IdText[]] | null): string | null | typeof needsExactNumbers {
  if (!resource) return null;
  const [kind, ...ids] = resource;
  if (ids.includes(needsExactNumbers)) return needsExactNumbers;
  if (ids.some((id) => id === undefined)) return null;
  return `${source}:${kind}:${ids.join(':')}`;
}

/**
 * Shopify topics are `resource/action`. Refunds, fulfilments and transactions follow their order;
 * a merge is about the customer kept; privacy requests about the customer they name.
 */
function shopifyResource(topic: string, body: Json): [string, ...IdText[]] | null {
  const [resource] = topic.split('/');
  switch (resource) {
    case 'orders':
      return ['order', shopifyId(body['admin_graphql_api_id'], body['id'])];
    case 'refunds':
    case 'fulfillments':
    case 'order_transactions':
      return ['order', shopifyId(undefined, body['order_id'])];
    case 'customers': {
      if (topic === 'customers/merge') return ['customer', shopifyId(body['admin_graphql_api_customer_kept_id'], undefined)];
      if (topic === 'customers/data_request' || topic === 'customers/redact') {
        const customer = isObject(body['customer']) ? body['customer'] : {};
        return ['customer', shopifyId(undefined, customer['id'])];
      }
      return ['customer', shopifyId(body['admin_graphql_api_id'], body['id'])];
    }
    case 'customers_marketing_consent':
    case 'customers_email_marketing_consent':
      return ['customer', shopifyId(undefined, body['customer_id'])];
    case 'inventory_levels':
      return ['inventory_level', shopifyId(undefined, body['inventory_item_id']), shopifyId(undefined, body['location_id'])];
    case 'inventory_items':
      return ['inventory_item', shopifyId(body['admin_graphql_api_id'], body['id'])];
    case 'products':
      return ['product', shopifyId(body['admin_graphql_api_id'], body['id'])];
    default:
      return null;
  }
}

/** A Shopify id: from its GraphQL id when there is one (always exact), else from the numeric id. */
function shopifyId(gid: unknown, id: unknown): IdText {
  if (typeof gid === 'string') {
    const match = gidPattern.exec(gid);
    if (match?.[1]) return match[1];
  }
  return idText(id);
}

/**
 * Square notifications are `{ type, data: { id, object } }`. A payment follows the order it pays
 * (its COMPLETED update records that order), so payments and order updates of one sale share a key.
 */
function squareResource(type: string, envelope: Json): [string, ...IdText[]] | null {
  const data = isObject(envelope['data']) ? envelope['data'] : {};
  const object = isObject(data['object']) ? data['object'] : {};
  const [resource] = type.split('.');
  switch (resource) {
    case 'order': {
      const summary = Object.values(object).find(isObject);
      return ['order', idText(summary?.['order_id'] ?? data['id'])];
    }
    case 'payment': {
      const payment = isObject(object['payment']) ? object['payment'] : {};
      const orderId = idText(payment['order_id']);
      return orderId === undefined ? ['payment', idText(payment['id'] ?? data['id'])] : ['order', orderId];
    }
    case 'refund': {
      const refund = isObject(object['refund']) ? object['refund'] : {};
      return ['refund', idText(refund['id'] ?? data['id'])];
    }
    case 'customer': {
      const customer = isObject(object['customer']) ? object['customer'] : {};
      return ['customer', idText(customer['id'] ?? data['id'])];
    }
    case 'inventory':
      // A count says what the shelf holds, not why: the changes behind it are read from Square and
      // applied once each by id, in the order they happened there, whatever the order counts are
      // applied in. Holding a count back behind an earlier one waiting for its retry would only
      // delay the stock Square reports (connectors/square/inbound.ts).
      return null;
    default:
      return null;
  }
}

function idText(value: unknown): IdText {
  if (typeof value === 'string') return value.length > 0 && value.length <= idLengthMax && !value.includes(':') ? value : undefined;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return String(value);
    return Number.isInteger(value) && value > 0 ? needsExactNumbers : undefined;
  }
  return undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
