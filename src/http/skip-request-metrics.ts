import type { CanActivate, ExecutionContext, Type } from '@nestjs/common';

const UNCOUNTED = Symbol('nestjs-redis-metrics: not counted');
const IN_FLIGHT = Symbol('nestjs-redis-metrics: in flight');

/** What counts a request in flight: the request metrics of one app. */
interface InFlightCounter {
  started(method: string): void;
  stopped(method: string): void;
}

type Marked = {
  method?: string;
  [UNCOUNTED]?: boolean;
  [IN_FLIGHT]?: InFlightCounter;
};

/** Counts `request` (an Express or a Fastify request) in flight, until {@link leaveInFlight}. */
export function enterInFlight(request: object, method: string, counter: InFlightCounter): void {
  counter.started(method);
  (request as Marked)[IN_FLIGHT] = counter;
}

/** Ends what {@link enterInFlight} began, once; nothing for a request that never entered. */
export function leaveInFlight(request: object, method: string): void {
  const marked = request as Marked;
  const counter = marked[IN_FLIGHT];
  if (counter === undefined) return;
  marked[IN_FLIGHT] = undefined;
  counter.stopped(method);
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
      leaveInFlight(request, request.method ?? 'UNKNOWN');
    }
    return true;
  }
}

// Nest's GUARDS_METADATA key (like PATH_METADATA, not exported from the package root).
const GUARDS_METADATA = '__guards__';

/**
 * Leaves the routes of `controller` out of the request metrics: the module's own metrics and health
 * routes. Its guard goes first among the controller's guards, inherited ones included, so a request
 * they turn away is not counted either; a global guard still runs before it.
 */
export function skipRequestMetrics(controller: Type<unknown>): void {
  const guards = (Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? [];
  Reflect.defineMetadata(GUARDS_METADATA, [new SkipRequestMetricsGuard(), ...guards], controller);
}
