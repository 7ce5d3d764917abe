import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { FakeShopifyProcessMessage, FakeShopifyProcessReply } from './fake-shopify-process.ts';
import type { ObservedPush, PushCounts } from './shopify-push-recorder.ts';

/** The fake's rate limits (Shopify's GraphQL cost bucket: points restored a second, bucket size). */
export type FakeShopifyLimits = Extract<FakeShopifyProcessMessage, { type: 'start' }>['limits'];

export interface FakeShopifyChild {
  url: string;
  token: string;
  /** Stops the fake and returns the pushes it saw. */
  stop(): Promise<{ pushes: ObservedPush[]; counts: PushCounts }>;
  /** Ends the process if it is still running (after a failure). */
  kill(): void;
}

/**
 * Starts the fake Shopify Admin API in a child process (bench/fake-shopify-process.ts) with these
 * rate limits, holding `quantity` of each item at the location and recording pushes to them from the
 * start: in a process of its own, so that it never shares the engine's event loop.
 */
export function startFakeShopifyChild(limits: FakeShopifyLimits, locationId: string, inventoryItemIds: string[], quantity: number): Promise<FakeShopifyChild> {
  const child = fork(join(import.meta.dirname, 'fake-shopify-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: ((reply: FakeShopifyProcessReply) => void)[] = [];
  child.on('message', (reply: FakeShopifyProcessReply) => replies.shift()?.(reply));
  const next = () => new Promise<FakeShopifyProcessReply>((resolve, reject) => {
    replies.push(resolve);
    child.once('exit', (code) => reject(new Error(`the fake Shopify process exited with ${code}`)));
  });
  const send = (message: FakeShopifyProcessMessage) => child.send(message);
  const started = next();
  send({ type: 'start', limits, locationId, inventoryItemIds, quantity });
  return started.then((reply) => {
    if (reply.type !== 'started') throw new Error(`the fake Shopify did not start: ${JSON.stringify(reply).slice(0, 500)}`);
    return {
      url: reply.url, token: reply.token,
      async stop() {
        const stopped = next();
        send({ type: 'stop' });
        const answer = await stopped;
        if (answer.type !== 'stopped') throw new Error(`the fake Shopify did not stop cleanly: ${JSON.stringify(answer).slice(0, 500)}`);
        return { pushes: answer.pushes, counts: answer.counts };
      },
      kill: () => void (child.exitCode === null && child.kill()),
    };
  });
}
