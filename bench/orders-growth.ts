import assert from 'node:assert/strict';
import { cpus, loadavg } from 'node:os';
import type { Engine } from '../src/engine.ts';
import { createBenchDatabase, type BenchDatabase } from './bench-database.ts';
import { loadCustomers } from './customer-lookup-data.ts';
import { median, reportFigures, type BenchFigure } from './figures.ts';
import { countStatementsSent, orderIdOf, runWorkerUntilSettled, shopifyCustomerIdOf, startFakeShopify, startOrdersEngine, statementsSent, storeOrders, type FakeShopifyChild, type Shopper } from './orders-load.ts';

// Issue #9: how orders applied end to end grow from 10,000 to 1,000,000 customers already held
// (target ≤ 1.5×). Each size is a SQLite database of its own: the demo merchant, its stock, and the
// customers of the lookup benchmark loaded in bulk (bench/customer-lookup-data.ts: each with an
// email, a phone, a loyalty account; a fifth with past orders). The orders are bought by those
// customers, a store's regulars placing their first online order: each is recognised by email
// among all the merchant's customers, her Shopify customer id is claimed for her profile, and her
// points are earned on her existing account (bench/orders-load.ts makes the orders from the real
// fixture, and runs the engine's own worker until everything is applied and pushed).
//
// The sizes are measured in pairs, after a round of warm-up: each round stores the next `--orders`
// orders in both inboxes and runs one size's worker, then the other's, back to back (which goes
// first alternates). The figure is the median over the rounds of the large size's CPU per order over
// the small one's: paired, a drift of the machine's speed (up to 2.7× between hours here) falls on
// both sides of the ratio.
//
//   node --import tsx bench/orders-growth.ts [--quick] [--sizes=10000,1000000] [--orders=2000] [--rounds=3] [--keep]

interface Options {
  quick: boolean;
  sizes: [number, number];
  orders: number;
  rounds: number;
  keep: boolean;
}

const growthTargetMax = 1.5;
const sizeMax = 2_000_000;

function parseOptions(argv: string[]): Options {
  const value = (name: string) => argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
  const known = ['--quick', '--keep', '--sizes=', '--orders=', '--rounds='];
  const unknown = argv.filter((argument) => !known.some((option) => (option.endsWith('=') ? argument.startsWith(option) : argument === option)));
  if (unknown.length > 0) throw new Error(`unknown option(s) ${unknown.join(' ')}; known: ${known.join(' ')}`);
  const quick = argv.includes('--quick');
  const sizes = (value('sizes') ?? (quick ? '2000,20000' : '10000,1000000')).split(',').map(Number);
  if (sizes.length !== 2 || sizes.some((size) => !Number.isInteger(size) || size < 1_000 || size > sizeMax) || sizes[0]! >= sizes[1]!) {
    throw new Error(`--sizes must name a small and a larger number of customers, 1000 to ${sizeMax}`);
  }
  const orders = Number(value('orders') ?? (quick ? 300 : 2_000));
  const rounds = Number(value('rounds') ?? (quick ? 2 : 3));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error('--rounds must be 1 to 9');
  // Every order is a shopper's first online order at both sizes (the same work on each side).
  const shoppersMin = Math.min(sizes[0]!, 20_000);
  if (!Number.isInteger(orders) || orders < 10 || warmUpOrders({ orders }) + orders * rounds > shoppersMin) {
    throw new Error(`--orders × --rounds must be 10 to ${shoppersMin - warmUpOrders({ orders })}, one order for each of the shoppers sampled`);
  }
  return { quick, sizes: sizes as [number, number], orders, rounds, keep: argv.includes('--keep') };
}

const warmUpOrders = (options: Pick<Options, 'orders'>) => Math.min(200, options.orders);

/** One size: its database, its engine, and the customers who will order, with the profile each must be found as. */
interface Size {
  customers: number;
  database: BenchDatabase;
  engine: Engine;
  merchantId: string;
  shoppers: (Shopper & { customerId: string })[];
}

const capitalized = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

async function openSize(customers: number, fake: FakeShopifyChild, keep: boolean): Promise<Size> {
  const database = await createBenchDatabase({ keep }, `orders_growth_${customers}`);
  try {
    const { engine, merchantId } = await startOrdersEngine(database, fake);
    const loaded = await loadCustomers(engine.database.db, 'sqlite', merchantId, customers);
    // The lookup sample: an even spread over the customers loaded, shuffled. Emails are
    // `first.last.index@domain`, the names the profile was loaded with.
    const shoppers = loaded.queries.email.map((query, index) => {
      const [first = '', last = ''] = query.stored.split('@')[0]!.split('.');
      assert(query.expectedCustomerId !== undefined, 'an email lookup names its customer');
      return { email: query.stored, shopifyCustomerId: shopifyCustomerIdOf(index), firstName: capitalized(first), lastName: capitalized(last), customerId: query.expectedCustomerId };
    });
    console.log(`${customers.toLocaleString('en-US')} customers and ${loaded.orderCount.toLocaleString('en-US')} past orders loaded in ${(loaded.loadMs / 1000).toFixed(1)} s`);
    return { customers, database, engine, merchantId, shoppers };
  } catch (error) {
    await database.dispose();
    throw error;
  }
}

interface RoundRun {
  ordersPerSecond: number;
  cpuMicrosPerOrder: number;
  /** Statements sent to the database per order (bench/orders-load.ts counts them at the driver). */
  statementsPerOrder: number;
}

const countCustomers = async (size: Size) => Number((await size.engine.database.db.selectFrom('customers').select((eb) => eb.fn.countAll<number>().as('count')).where('merchant_id', '=', size.merchantId).executeTakeFirstOrThrow()).count);

/**
 * Stores orders `first` to `first + orders - 1` and applies them; then checks, outside the measured
 * time, that each was applied to the profile its shopper already had and that no profile was added.
 */
async function runRound(size: Size, first: number, orders: number): Promise<RoundRun> {
  const customersBefore = await countCustomers(size);
  await storeOrders(size.engine, size.merchantId, first, orders, (index) => size.shoppers[index]!);
  const cpuAtStart = process.cpuUsage();
  const statementsAtStart = statementsSent();
  const startedAt = performance.now();
  const { pollStatements } = await runWorkerUntilSettled(size.engine, size.merchantId);
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  const statementsPerOrder = (statementsSent() - statementsAtStart - pollStatements) / orders;

  const orderIds = Array.from({ length: orders }, (_, offset) => String(orderIdOf(first + offset)));
  const applied = await size.engine.database.db.selectFrom('orders').select(['source_ref', 'customer_id'])
    .where('merchant_id', '=', size.merchantId).where('source', '=', 'shopify').where('source_ref', 'in', orderIds).execute();
  const customerOf = new Map(applied.map((row) => [row.source_ref, row.customer_id]));
  orderIds.forEach((orderId, offset) => {
    const shopper = size.shoppers[first + offset]!;
    assert.equal(customerOf.get(orderId), shopper.customerId, `order ${orderId} (${shopper.email}) applied to the profile she already had, among ${size.customers} customers`);
  });
  assert.equal(await countCustomers(size), customersBefore, 'no profile added: every shopper was recognised');
  return { ordersPerSecond: orders / seconds, cpuMicrosPerOrder: (cpu.user + cpu.system) / orders, statementsPerOrder };
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');
const ratio = (value: number) => `${value.toFixed(2)}×`;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  countStatementsSent();
  const [smallCount, largeCount] = options.sizes;
  console.log(`orders-growth: ${options.rounds} rounds of ${options.orders} Shopify orders/create from customers already held, ${count(smallCount)} against ${count(largeCount)} customers; SQLite (WAL, every commit synced)`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at start`);
  const fake = await startFakeShopify();
  const sizes: Size[] = [];
  try {
    sizes.push(await openSize(smallCount, fake, options.keep));
    sizes.push(await openSize(largeCount, fake, options.keep));
    const [small, large] = sizes as [Size, Size];
    // A round not counted first, so that neither size pays for compiling the engine's code.
    const warmUp = warmUpOrders(options);
    await runRound(small, 0, warmUp);
    await runRound(large, 0, warmUp);
    const rounds: { small: RoundRun; large: RoundRun }[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      const first = warmUp + round * options.orders;
      // Which size goes first alternates, so a machine slowing down or speeding up over the pair
      // does not always fall on the same side.
      const [smallRun, largeRun] = round % 2 === 0
        ? [await runRound(small, first, options.orders), await runRound(large, first, options.orders)]
        : [await runRound(large, first, options.orders), await runRound(small, first, options.orders)].reverse() as [RoundRun, RoundRun];
      rounds.push({ small: smallRun, large: largeRun });
    }
    console.table(rounds.map(({ small: smallRun, large: largeRun }, round) => ({
      round: round + 1,
      [`orders/s at ${count(smallCount)}`]: count(smallRun.ordersPerSecond), [`orders/s at ${count(largeCount)}`]: count(largeRun.ordersPerSecond),
      [`CPU µs/order at ${count(smallCount)}`]: count(smallRun.cpuMicrosPerOrder), [`CPU µs/order at ${count(largeCount)}`]: count(largeRun.cpuMicrosPerOrder),
      [`statements/order at ${count(smallCount)}`]: smallRun.statementsPerOrder.toFixed(1), [`statements/order at ${count(largeCount)}`]: largeRun.statementsPerOrder.toFixed(1),
      'CPU growth': ratio(largeRun.cpuMicrosPerOrder / smallRun.cpuMicrosPerOrder), 'throughput drop': ratio(smallRun.ordersPerSecond / largeRun.ordersPerSecond),
    })));
    const cpuGrowth = rounds.map((run) => run.large.cpuMicrosPerOrder / run.small.cpuMicrosPerOrder);
    const throughputDrop = rounds.map((run) => run.small.ordersPerSecond / run.large.ordersPerSecond);
    const medianOf = (pick: (run: { small: RoundRun; large: RoundRun }) => number) => median(rounds.map(pick));
    console.log(`growth ${count(smallCount)} → ${count(largeCount)} customers: CPU per order ${ratio(median(cpuGrowth))}, throughput drop ${ratio(median(throughputDrop))} (medians of ${options.rounds} paired rounds; target ≤ ${ratio(growthTargetMax)})`);
    console.log(`load average ${(loadavg()[0] ?? Number.NaN).toFixed(1)} at the end`);
    const sizesSaid = `${count(smallCount)} → ${count(largeCount)} customers held`;
    reportFigures('orders-growth', [
      {
        figure: `growth of CPU per Shopify order applied end to end, ${sizesSaid}, paired runs`, value: median(cpuGrowth), unit: '×', target: { atMost: growthTargetMax },
        note: `median of ${cpuGrowth.map(ratio).join(', ')}; ${count(medianOf((run) => run.small.cpuMicrosPerOrder))} → ${count(medianOf((run) => run.large.cpuMicrosPerOrder))} µs; ${medianOf((run) => run.small.statementsPerOrder).toFixed(1)} → ${medianOf((run) => run.large.statementsPerOrder).toFixed(1)} statements; ${count(options.orders)} orders a round, each shopper recognised by email among them`,
      },
      {
        figure: `throughput drop of Shopify orders applied end to end, ${sizesSaid}, paired runs`, value: median(throughputDrop), unit: '×', target: { atMost: growthTargetMax },
        note: `median of ${throughputDrop.map(ratio).join(', ')}; ${count(medianOf((run) => run.small.ordersPerSecond))} → ${count(medianOf((run) => run.large.ordersPerSecond))} orders/s`,
      },
    ] satisfies BenchFigure[]);
  } finally {
    for (const size of sizes) {
      await size.engine.close();
      await size.database.dispose();
    }
    // A fake that already died must not hide the error that ended the run.
    await fake.stop().catch(() => fake.kill());
  }
}

await main();
