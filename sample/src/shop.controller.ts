import { Controller, Get, Param, Post } from '@nestjs/common';

import { ShopMetrics } from './shop.metrics.js';

@Controller()
export class ShopController {
  constructor(private readonly metrics: ShopMetrics) {}

  /** Places an order: counts it. */
  @Post('orders/:shop')
  place(@Param('shop') shop: string): { placedBy: number } {
    this.metrics.ordersPlaced.inc({ shop });
    return { placedBy: process.pid };
  }

  /** Opens and closes a cart: moves the live gauge. */
  @Post('carts')
  openCart(): { open: number } {
    this.metrics.openCarts.inc();
    return { open: 1 };
  }

  /** Looks an order up: observes how long it took. */
  @Get('orders/:id')
  lookup(@Param('id') id: string): { id: string; worker: number } {
    const end = this.metrics.lookupSeconds.startTimer();
    const result = { id, worker: process.pid };
    end();
    return result;
  }
}
