import { freePort } from '../harness/redis-server.mjs';
import { respCall } from '../harness/resp-call.mjs';
import { startRedisSentinel, type RedisSentinelHandle } from '../harness/redis-sentinel.mjs';
import { startAppProcess } from '../harness/app-process.js';

// app.close() must let the process end by itself: a script, a job or a test runner that closes its
// app waits for the process to exit. What the module leaves behind (a socket, a timer) holds it up.
// Times are measured in a process of the app's own (test/fixtures/lifecycle-app.mjs, built library).

/** Time for a process to end once nothing holds it (Node's own exit, on a loaded machine). */
const EXITS_WITHIN_MS = 1500;

describe('a process with a Sentinel client ends promptly after app.close()', () => {
  let sentinel: RedisSentinelHandle;
  let sentinels: string;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    sentinels = sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(',');
  });
  afterAll(async () => {
    await sentinel?.stop();
  });

  it.each(['forRoot', 'async'])(
    'the master reachable (%s): flushed, and no failover-detector connection left for 2 s',
    async (style) => {
      const app = await startAppProcess({
        MODULE_STYLE: style,
        REDIS_ENABLED: 'true',
        REDIS_SENTINELS: sentinels,
        REDIS_SENTINEL_MASTER: sentinel.masterName,
        REDIS_KEY_PREFIX: `sentinel-exit-${style}`,
        COUNT: '3',
      });
      // Running: connected, subscribed to fresh-scrape requests, both clients' failover detectors on.
      await app.printed(/Storing metrics in Redis/);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { closeMs, exitedAfterMs } = await app.close();

      const master = await sentinel.masterAddress();
      expect(
        await respCall(
          { port: master.port },
          'HGET',
          `{sentinel-exit-${style}}:totals`,
          '["lifecycle_orders_total",{}]',
        ),
      ).toBe('v 3');
      expect(closeMs).toBeLessThan(1000);
      // ioredis closed the failover detector's connections twice (disconnect(), then again at 'end'):
      // each second close armed a 2 s timer that nothing cleared.
      expect(exitedAfterMs).toBeLessThan(EXITS_WITHIN_MS);
    },
  );

  it('no sentinel answers: no connection to a sentinel left for 2 s', async () => {
    const app = await startAppProcess({
      REDIS_ENABLED: 'true',
      REDIS_SENTINELS: `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`,
      REDIS_SENTINEL_MASTER: sentinel.masterName,
      REDIS_FRESH_SCRAPE_WAIT_MS: '0',
    });
    // Set-up has given up waiting (3 s): the client searches the sentinels in the background.
    await app.printed(/Sentinel: no sentinel answered/);
    const { closeMs, exitedAfterMs } = await app.close();

    expect(closeMs).toBeLessThan(5000);
    // Each connection ioredis made to ask a sentinel for the master was refused, and closing it armed
    // a 2 s timer. What is left: ioredis' wait before its next round (at most 1 s, not cancellable).
    expect(exitedAfterMs).toBeLessThan(EXITS_WITHIN_MS);
  });
});
