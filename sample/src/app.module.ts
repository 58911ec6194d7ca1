import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { IpcMetricsStore, RedisMetricsModule } from 'nestjs-redis-metrics';
import { redisMetricsConfig } from 'nestjs-redis-metrics/config';

import { ShopController } from './shop.controller.js';
import { ShopMetrics } from './shop.metrics.js';
import { embedded } from './storage-mode.js';

/** The module configured from the environment through @nestjs/config, as the README shows. */
@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true }),
    RedisMetricsModule.forRootAsync({
      imports: [ConfigModule.forFeature(redisMetricsConfig)],
      inject: [redisMetricsConfig.KEY],
      useFactory: (options: ConfigType<typeof redisMetricsConfig>) =>
        // Without Redis the workers hand their series to the cluster primary.
        embedded ? { ...options, enabled: true, store: new IpcMetricsStore() } : options,
    }),
  ],
  controllers: [ShopController],
  providers: [ShopMetrics],
})
export class AppModule {}
