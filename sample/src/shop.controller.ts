import { Controller, Get, NotFoundException, Param, Post } from '@nestjs/common';

import { ShopMetrics } from './shop.metrics.js';
import { isShop, SHOPS } from './shops.js';

@Controller()
export class ShopController {
  constructor(private readonly metrics: ShopMetrics) {}

  /** Places an order in one of the known shops: counts it. An unknown shop is a 404, and no series. */
  @Post('orders/:shop')
  place(@Param('shop') shop: string): { placedBy: number } {
    if (!isShop(shop))
      throw new NotFoundException(`No shop "${shop}"; the shops are ${SHOPS.join(', ')}`);
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
