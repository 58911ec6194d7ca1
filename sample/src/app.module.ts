import cluster from 'node:cluster';

import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { IpcMetricsStore, MemoryMetricsStore, RedisMetricsModule } from 'nestjs-redis-metrics';
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
        // Without Redis the workers hand their series to the cluster primary; with WORKERS=0 there
        // is no primary (nor IPC channel), so the one process keeps them in its own memory.
        embedded
          ? {
              ...options,
              enabled: true,
              store: cluster.isWorker ? new IpcMetricsStore() : new MemoryMetricsStore(),
            }
          : options,
    }),
  ],
  controllers: [ShopController],
  providers: [ShopMetrics],
})
export class AppModule {}
