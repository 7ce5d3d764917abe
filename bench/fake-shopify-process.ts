import { startFakeShopify, type FakeShopifyOptions } from '../fakes/fake-shopify.ts';
import { recordShopifyPushes, type ObservedPush, type PushCounts } from './shopify-push-recorder.ts';

// The fake Shopify Admin API of the stock benchmark, run as a child process (`fork`) so that its
// GraphQL parsing does not run on the engine's event loop, as a real shop's does not. It starts the
// fake on loopback with the given rate limits and quantities, records every push to the tracked
// items from the start, and on `stop` sends the observed pushes back and exits.

export type FakeShopifyProcessMessage =
  | { type: 'start'; limits: Pick<FakeShopifyOptions, 'restoreRate' | 'maximumAvailable'>; locationId: string; inventoryItemIds: string[]; quantity: number }
  | { type: 'stop' };

export type FakeShopifyProcessReply =
  | { type: 'started'; url: string; token: string }
  | { type: 'stopped'; pushes: ObservedPush[]; counts: PushCounts }
  | { type: 'error'; message: string };

// The process ends by itself if the parent never says stop.
const lifetimeMsMax = 15 * 60_000;

const reply = (message: FakeShopifyProcessReply, then: () => void = () => {}) => process.send?.(message, then);

process.once('message', (message: FakeShopifyProcessMessage) => {
  if (message.type !== 'start') return reply({ type: 'error', message: `expected start, got ${message.type}` }, () => process.exit(1));
  void (async () => {
    const fake = await startFakeShopify(message.limits);
    for (const item of message.inventoryItemIds) fake.setQuantity(item, message.locationId, message.quantity);
    const recorder = recordShopifyPushes(fake, message.locationId, message.inventoryItemIds);
    const lifetime = setTimeout(() => process.exit(2), lifetimeMsMax);
    process.once('message', (next: FakeShopifyProcessMessage) => {
      if (next.type !== 'stop') return;
      recorder.stop();
      clearTimeout(lifetime);
      void fake.close().finally(() => reply({ type: 'stopped', pushes: recorder.pushes, counts: recorder.counts }, () => process.disconnect()));
    });
    reply({ type: 'started', url: fake.url, token: fake.token });
  })().catch((error: unknown) => reply({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) }, () => process.exit(1)));
});
