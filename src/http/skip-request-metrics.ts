import { UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';

const UNCOUNTED = Symbol('nestjs-redis-metrics: not counted');

type Marked = Record<typeof UNCOUNTED, boolean | undefined>;

/** Whether the route that answered `response` (an Express response or a Fastify reply) is skipped. */
export function isUncounted(response: object): boolean {
  return (response as Marked)[UNCOUNTED] === true;
}

/**
 * Marks the response of a skipped route. A guard, because it is the cheapest enhancer that sees the
 * response, and it runs only on the routes it decorates: the request hooks themselves cannot tell
 * which controller answered a request, and comparing paths would have to redo Nest's global prefix,
 * versioning and module paths.
 */
class SkipRequestMetricsGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      (context.switchToHttp().getResponse<object>() as Marked)[UNCOUNTED] = true;
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
