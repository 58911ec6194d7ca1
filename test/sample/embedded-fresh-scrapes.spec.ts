import { jest } from '@jest/globals';
import { requestOnce, startedSamples, startSample } from '../harness/sample-process.js';

// A real node:cluster sample on a loaded machine.
jest.setTimeout(60_000);

/** The body of one request on a connection of its own (the next worker in turn). */
const send = async (method: string, url: string) => (await requestOnce(method, url)).body;

describe('the sample without Redis (the embedded store): fresh scrapes through the cluster primary', () => {
  afterAll(async () => {
    await Promise.all(startedSamples.map((sample) => sample.stop()));
  });

  it('shows an order placed in one worker in the next scrape of another, with no background flush due', async () => {
    // A minute between background flushes: only a fresh scrape can show a new order. A wait long
    // enough for a loaded machine; a scrape goes on as soon as every worker has flushed.
    const sample = await startSample({
      WORKERS: '2',
      REDIS_FLUSH_INTERVAL_MS: '60000',
      REDIS_FRESH_SCRAPE_WAIT_MS: '2000',
    });
    const seen: (string | undefined)[] = [];
    const answeredBy = new Set<number>();
    for (let round = 1; round <= 6; round += 1) {
      await send('POST', `${sample.url}/orders/north`);
      const text = await send('GET', `${sample.url}/metrics`);
      seen.push(
        text.split('\n').find((line) => line.startsWith('shop_orders_placed_total{shop="north"}')),
      );
      answeredBy.add(
        (JSON.parse(await send('GET', `${sample.url}/metrics/health`)) as { pid: number }).pid,
      );
    }

    expect(sample.output()).toContain('Metrics storage: the memory of the cluster primary');
    expect(seen).toEqual(
      [1, 2, 3, 4, 5, 6].map((count) => `shop_orders_placed_total{shop="north"} ${count}`),
    );
    // Orders and scrapes went to both workers.
    expect(answeredBy.size).toBe(2);
  });
});
