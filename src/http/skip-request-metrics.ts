import { UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';

const UNCOUNTED = Symbol('nestjs-redis-metrics: not counted');

type Marked = Record<typeof UNCOUNTED, boolean | undefined>;

/** Whether the route that took `request` (an Express or a Fastify request) is skipped. */
export function isUncounted(request: object): boolean {
  return (request as Marked)[UNCOUNTED] === true;
}

/**
 * Marks the requests of a skipped route. A guard, because it is the cheapest enhancer that sees the
 * request, and it runs only on the routes it decorates: the request hooks themselves cannot tell
 * which controller answered a request, and comparing paths would have to redo Nest's global prefix,
 * versioning and module paths.
 */
class SkipRequestMetricsGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      (context.switchToHttp().getRequest<object>() as Marked)[UNCOUNTED] = true;
    }
    return true;
  }
}

const guard = new SkipRequestMetricsGuard();

/**
 * Leaves a controller's routes out of the HTTP request metrics: the module's own metrics and health
 * routes. A request that a global guard turns away before this one runs is still counted.
 */
export const SkipRequestMetrics = (): ClassDecorator & MethodDecorator => UseGuards(guard);
