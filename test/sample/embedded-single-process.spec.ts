import { jest } from '@jest/globals';
import { requestOnce, startedSamples, startSample } from '../harness/sample-process.js';
import { waitFor } from '../harness/writer-processes.js';

// A real sample process on a loaded machine.
jest.setTimeout(60_000);

describe('the sample without Redis and WORKERS=0 (one process, no cluster primary)', () => {
  afterAll(async () => {
    await Promise.all(startedSamples.map((sample) => sample.stop()));
  });

  it('serves, and its /metrics counts the orders it took', async () => {
    // WORKERS=0 starts no primary: the one process serves alone, with no IPC channel to a primary.
    const sample = await startSample({ WORKERS: '0', REDIS_FLUSH_INTERVAL_MS: '200' }, 1);
    for (let i = 0; i < 2; i += 1) {
      expect((await requestOnce('POST', `${sample.url}/orders/south`)).status).toBe(201);
    }
    // No other process to ask for a fresh flush: the scrape shows the next flush (every 200 ms).
    const orders = async () =>
      (await requestOnce('GET', `${sample.url}/metrics`)).body
        .split('\n')
        .find((line) => line.startsWith('shop_orders_placed_total{shop="south"}'));
    await waitFor(async () => (await orders())?.endsWith(' 2') === true, 10_000);

    expect(await orders()).toBe('shop_orders_placed_total{shop="south"} 2');
    expect(sample.output()).not.toContain('IpcMetricsStore needs an IPC channel');
    // Where it says its series are: no cluster primary here.
    expect(sample.output()).toContain("Storing metrics in this process's memory as ");
    expect(sample.output()).not.toContain('cluster primary');
  });
});
