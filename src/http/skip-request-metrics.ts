import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';

const UNCOUNTED = Symbol('nestjs-redis-metrics: not counted');
const LEFT_IN_FLIGHT = Symbol('nestjs-redis-metrics: left in flight');

/** How the request hooks of one app count its requests in flight. */
export interface InFlightTracker {
  /**
   * Whether `request` is in flight by the hooks' count: they counted it (a hook before them may have
   * answered it) and have not taken it out (its client may have gone before the guard ran).
   */
  entered(request: object): boolean;
  stopped(method: string): void;
}

type Marked = {
  method?: string;
  /** Express: the app, through the request's prototype. */
  app?: object;
  /** Fastify: the instance. */
  server?: object;
  [UNCOUNTED]?: boolean;
  [LEFT_IN_FLIGHT]?: boolean;
};

// Each app's tracker, under the object its requests reach without a write (Express's `req.app`,
// Fastify's `request.server`): a marker written on every request cost about 2 µs on Express, more
// than counting the request; only the few requests of skipped routes are written on.
const trackers = new WeakMap<object, InFlightTracker>();

/** Lets the guard of skipped routes take the requests of `app` out of flight early. */
export function trackInFlight(app: object, tracker: InFlightTracker): void {
  trackers.set(app, tracker);
}

/** Whether the guard already took `request` out of flight: the hooks must not do it again. */
export function leftInFlight(request: object): boolean {
  return (request as Marked)[LEFT_IN_FLIGHT] === true;
}

/** Whether the route that took `request` is left out of the request metrics. */
export function isUncounted(request: object): boolean {
  return (request as Marked)[UNCOUNTED] === true;
}

/**
 * Marks the requests of a skipped route, and takes them out of the in-flight gauge at once (a scrape
 * that asks every process to flush would otherwise count itself). A guard, because it is the cheapest
 * enhancer that sees the request, and it runs only on the routes it guards: the request hooks
 * themselves cannot tell which controller answered a request, and comparing paths would have to redo
 * Nest's global prefix, versioning and module paths.
 */
class SkipRequestMetricsGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<Marked>();
      request[UNCOUNTED] = true;
      const app = request.app ?? request.server;
      const tracker = app === undefined ? undefined : trackers.get(app);
      // Not found (an app without request metrics): the hooks, if any, take it out at the end.
      if (tracker?.entered(request) && !leftInFlight(request)) {
        request[LEFT_IN_FLIGHT] = true;
        tracker.stopped(request.method ?? 'UNKNOWN');
      }
    }
    return true;
  }
}

// Nest's GUARDS_METADATA and PATH_METADATA keys (not exported from the package root).
const GUARDS_METADATA = '__guards__';
const PATH_METADATA = 'path';
const SKIPPED_ROUTE = 'nestjs-redis-metrics:skipped-route';

/**
 * Whether `handler`, as Nest registers it with the platform, serves a route of a skipped controller:
 * Nest copies the metadata of the controller's method onto the function it registers.
 */
export function isSkippedRoute(handler: unknown): boolean {
  return typeof handler === 'function' && Reflect.getMetadata(SKIPPED_ROUTE, handler) === true;
}

/**
 * Leaves the routes of `controller` out of the request metrics: the module's own metrics and health
 * routes. Its guard goes first among the controller's guards, inherited ones included, so a request
 * they turn away is not counted either. A global guard still runs before it: the request hooks leave
 * the module's own metrics and health routes out of what that answers (see the installer).
 */
export function skipRequestMetrics(controller: Type<unknown>): void {
  const guards = (Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? [];
  Reflect.defineMetadata(GUARDS_METADATA, [new SkipRequestMetricsGuard(), ...guards], controller);
  // Its routes are marked too, for the installer, which seeds failure series before any request.
  const prototype = controller.prototype as Record<string, unknown>;
  for (let own = prototype; own && own !== Object.prototype; own = Object.getPrototypeOf(own)) {
    for (const name of Object.getOwnPropertyNames(own)) {
      const method = name === 'constructor' ? undefined : prototype[name];
      if (typeof method === 'function' && Reflect.hasMetadata(PATH_METADATA, method)) {
        Reflect.defineMetadata(SKIPPED_ROUTE, true, method);
      }
    }
  }
}
