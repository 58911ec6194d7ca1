/** The designs the hot-path benchmark compares, as `BENCH_MODE` of `server.ts`. */
export const HOT_PATH_MODES = {
  none: 'no metrics',
  'prom-client': 'plain prom-client, in memory',
  'hand-written':
    'prom-client, default metrics and the four request metrics by a hand-written Express middleware',
  module: 'this module, Redis (request and default metrics off)',
  'module-defaults': 'this module, Redis, defaults (request and default metrics on)',
  'write-through': 'write-through: one Redis write per metric update',
  // Not run by default (`--modes`): they split the cost of module-defaults in two.
  'module-http': 'this module, Redis, request metrics on, default metrics off',
  'module-default-metrics': 'this module, Redis, default metrics on, request metrics off',
  'module-async-http-off': 'this module by forRootAsync, request and default metrics off',
  // Not run by default either: the same on Fastify.
  'fastify-prom-client': 'Fastify: plain prom-client, in memory',
  'fastify-module': 'Fastify: this module, Redis (request and default metrics off)',
  'fastify-module-http': 'Fastify: this module, Redis, request metrics on, default metrics off',
  'fastify-module-defaults':
    'Fastify: this module, Redis, defaults (request and default metrics on)',
} as const;

export type HotPathMode = keyof typeof HOT_PATH_MODES;

/**
 * What `npm run bench` compares unless `--modes` names others, in the order the windows take turns:
 * each goal's two designs next to each other (see `benchHotPath`).
 */
export const DEFAULT_HOT_PATH_MODES: HotPathMode[] = [
  'none',
  'prom-client',
  'module',
  'module-defaults',
  'hand-written',
  'write-through',
];
