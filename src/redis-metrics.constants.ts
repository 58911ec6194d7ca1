/** Injection token of the module's options (what `forRoot`/`forRootAsync` were given). */
export const REDIS_METRICS_MODULE_OPTIONS = Symbol('REDIS_METRICS_MODULE_OPTIONS');
