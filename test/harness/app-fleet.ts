import 'reflect-metadata';

import { Controller, Module, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry, type Counter } from 'prom-client';

import {
  RedisMetricsModule,
  RedisMetricsService,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';

/** The series every app of a fleet counts: one per order placed. */
export const ORDERS = 'fleet_orders_total';

/** What a scrape of the fleet answered, at a moment. */
export interface ScrapeSample {
  at: number;
  status: number;
  /** The merged counter, when the scrape answered 200 with it. */
  orders: number | undefined;
}

/**
 * Several NestJS apps in one process, each with its own registry and flusher, sharing one Redis through
 * the module as the workers of a cluster would; a load that counts every request it got an answer to,
 * and a scraper that records every answer of `/metrics`.
 */
export interface AppFleet {
  apps: INestApplication[];
  /** Requests answered (each counted once by exactly one app). */
  sent(): number;
  /** Every scrape so far. */
  scrapes: ScrapeSample[];
  /** Starts sending `perSecond` requests, round robin over the apps, and scraping every `scrapeMs`. */
  start(perSecond: number, scrapeMs: number): void;
  /** Stops the load and the scraper (the apps keep running). */
  pause(): Promise<void>;
  /** A scrape now, of the first app. */
  scrape(): Promise<ScrapeSample>;
  close(): Promise<void>;
}

@Controller()
class OrdersController {
  private readonly orders: Counter;
  constructor(metrics: RedisMetricsService) {
    this.orders = metrics.counter({ name: ORDERS, help: 'Orders placed' });
  }

  @Post('orders')
  place(): string {
    this.orders.inc();
    return 'ok';
  }
}

/** Starts `size` apps; `options(i)` configures the module of app `i` (its Redis client, say). */
export async function startAppFleet(
  size: number,
  options: (index: number) => RedisMetricsModuleOptions,
): Promise<AppFleet> {
  const apps: INestApplication[] = [];
  for (let i = 0; i < size; i += 1) {
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          registry: new Registry(),
          defaultMetrics: false,
          httpMetrics: false,
          ...options(i),
        }),
      ],
      controllers: [OrdersController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    await app.get(RedisStorageManager).setup();
    apps.push(app);
  }
  const urls = await Promise.all(apps.map((app) => app.getUrl()));

  let answered = 0;
  let next = 0;
  const scrapes: ScrapeSample[] = [];
  let timers: NodeJS.Timeout[] = [];
  let stopScraping = () => false as boolean;
  const inFlight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };

  const scrapeOf = async (url: string): Promise<ScrapeSample> => {
    const at = Date.now();
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const line = new RegExp(`^${ORDERS} (\\S+)$`, 'm').exec(text);
    return {
      at,
      status: response.status,
      orders: response.status === 200 && line ? Number(line[1]) : undefined,
    };
  };

  return {
    apps,
    sent: () => answered,
    scrapes,
    start(perSecond, scrapeMs) {
      timers.push(
        setInterval(() => {
          const url = urls[next++ % urls.length];
          track(
            fetch(`${url}/orders`, { method: 'POST', signal: AbortSignal.timeout(5000) }).then(
              (response) => {
                if (response.status !== 201) throw new Error(`an order got ${response.status}`);
                answered += 1;
              },
            ),
          );
        }, 1000 / perSecond),
      );
      // One scrape at a time, as Prometheus scrapes a target: each sees at least what the last saw.
      let scraping = true;
      const loop = (async () => {
        while (scraping) {
          const url = urls[Math.floor(Math.random() * urls.length)];
          scrapes.push(await scrapeOf(url));
          await new Promise((resolve) => setTimeout(resolve, scrapeMs));
        }
      })();
      track(loop);
      stopScraping = () => (scraping = false);
    },
    async pause() {
      timers.forEach(clearInterval);
      timers = [];
      stopScraping();
      await Promise.all([...inFlight]);
    },
    scrape: () => scrapeOf(urls[0]),
    async close() {
      timers.forEach(clearInterval);
      stopScraping();
      await Promise.allSettled([...inFlight]);
      await Promise.all(apps.map((app) => app.close()));
    },
  };
}

/** Scrapes that answered 200 but showed less than an earlier one: what Prometheus reads as a reset. */
export function decreases(scrapes: ScrapeSample[]): ScrapeSample[] {
  const ordered = [...scrapes].sort((a, b) => a.at - b.at);
  const found: ScrapeSample[] = [];
  let highest = -Infinity;
  for (const sample of ordered) {
    if (sample.orders === undefined) continue;
    if (sample.orders < highest) found.push(sample);
    highest = Math.max(highest, sample.orders);
  }
  return found;
}
