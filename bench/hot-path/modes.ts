/** The designs the hot-path benchmark compares, as `BENCH_MODE` of `server.ts`. */
export const HOT_PATH_MODES = {
  none: 'no metrics',
  'prom-client': 'plain prom-client, in memory',
  module: 'this module, Redis (request and default metrics off)',
  'module-defaults': 'this module, Redis, defaults (request and default metrics on)',
  'write-through': 'write-through: one Redis write per metric update',
} as const;

export type HotPathMode = keyof typeof HOT_PATH_MODES;
