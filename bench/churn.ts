// What a SIGKILL costs at the default flush interval: the sample (`npm run build:sample`) as a
// node:cluster of 3 workers storing in Redis, orders at a steady rate, a worker SIGKILLed again and
// again; what the merged counter misses in the end, per kill.
import { spawn } from 'node:child_process';
import { request } from 'node:http';

import { DEFAULT_REDIS_METRICS_OPTIONS } from 'nestjs-redis-metrics';

import { median } from './lib/stats.js';

export interface ChurnResult {
  workers: number;
  perSecond: number;
  kills: number;
  sent: number;
  counted: number;
  /** Requests lost per kill, on average. */
  lostPerKill: number;
  /** What 250 ms of one worker's traffic holds: the goal for `lostPerKill`. */
  quarterSecondOfAWorker: number;
  /** The default flush interval the sample ran with, ms. */
  flushIntervalMs: number;
}

const SAMPLE = new URL('../../sample/dist/main.js', import.meta.url).pathname;

/** One request on its own connection, retried when a dying worker drops it (as a client would). */
async function send(method: string, url: string): Promise<string> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = request(url, { method, agent: false }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += String(chunk)));
          res.on('end', () => (res.statusCode! < 300 ? resolve(body) : reject(new Error(body))));
        });
        req.setTimeout(3000, () => req.destroy(new Error('no answer')));
        req.on('error', reject);
        req.end();
      });
    } catch (error) {
      if (attempt === 4) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Runs the sample with `workers` workers, `perSecond` orders a second, a kill every 1.2 s. */
export async function benchChurn(
  redisUrl: string,
  { kills, workers = 3, perSecond = 50 }: { kills: number; workers?: number; perSecond?: number },
): Promise<ChurnResult> {
  const port = 43_000 + (process.pid % 1000);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(REDIS_|PROMETHEUS_REDIS_URL$)/.test(name)),
  );
  const child = spawn(process.execPath, [SAMPLE], {
    env: {
      ...env,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: 'bench-churn',
      WORKERS: String(workers),
      PORT: String(port),
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  const pids = () => [...output.matchAll(/^Worker (\d+) serving/gm)].map((m) => Number(m[1]));
  const url = `http://127.0.0.1:${port}`;
  try {
    while (pids().length < workers) await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const victims = new Set<number>();
    let sent = 0;
    while (victims.size < kills) {
      const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
      while (sent < due) {
        await send('POST', `${url}/orders/north`);
        sent += 1;
      }
      const alive = pids().filter((pid) => !victims.has(pid));
      if (Date.now() - started > (victims.size + 1) * 1200 && alive.length === workers) {
        process.kill(alive[0], 'SIGKILL');
        victims.add(alive[0]);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    while (pids().length < workers + kills) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Several scrapes, the median: every one should agree.
    const counts: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const text = await send('GET', `${url}/metrics`);
      counts.push(Number(/^shop_orders_placed_total\{shop="north"\} (\S+)$/m.exec(text)?.[1]));
    }
    const counted = median(counts);
    const result: ChurnResult = {
      workers,
      perSecond,
      kills,
      sent,
      counted,
      lostPerKill: (sent - counted) / kills,
      quarterSecondOfAWorker: (perSecond / workers) * 0.25,
      flushIntervalMs: DEFAULT_REDIS_METRICS_OPTIONS.flushIntervalMs,
    };
    console.log(
      `  churn: ${kills} SIGKILLs, ${sent} orders, ${counted} counted, ${result.lostPerKill.toFixed(2)} lost per kill`,
    );
    return result;
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
