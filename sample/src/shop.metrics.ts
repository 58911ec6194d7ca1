import { Injectable } from '@nestjs/common';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { RedisMetricsService } from 'nestjs-redis-metrics';

import { SHOPS, type Shop } from './shops.js';

/** The shop's business metrics, made through the module's service like any app would. */
@Injectable()
export class ShopMetrics {
  /** By shop, one of {@link SHOPS} only: every shop's series exists at 0 from the start. */
  readonly ordersPlaced: Counter<'shop'>;
  readonly openCarts: Gauge;
  readonly lookupSeconds: Histogram;
  /** 1 in every worker: summed over live workers it counts them, and a dead one drops out. */
  readonly workerUp: Gauge;

  constructor(metrics: RedisMetricsService) {
    this.ordersPlaced = metrics.counter({
      name: 'shop_orders_placed_total',
      help: 'Orders placed, by shop',
      labelNames: ['shop'],
    });
    for (const shop of SHOPS) this.ordersPlaced.inc({ shop } satisfies { shop: Shop }, 0);
    this.openCarts = metrics.gauge({
      name: 'shop_open_carts',
      help: 'Carts open right now, summed over live workers',
      multiprocessMode: 'livesum',
    });
    this.lookupSeconds = metrics.histogram({
      name: 'shop_order_lookup_seconds',
      help: 'Time to look up an order',
      buckets: [0.001, 0.01, 0.1, 1],
    });
    this.workerUp = metrics.gauge({
      name: 'shop_worker_up',
      help: 'One series per live worker',
      multiprocessMode: 'liveall',
    });
    this.workerUp.set(1);
  }
}
