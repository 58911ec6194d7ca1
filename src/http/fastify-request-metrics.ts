import { UNMATCHED_ROUTE, type RequestMetrics } from './request-metrics.js';
import { isUncounted } from './skip-request-metrics.js';

const STARTED = Symbol('nestjs-redis-metrics: started');

/** What the hooks read of a Fastify request. */
interface FastifyRequest {
  method: string;
  /** Whether the not-found handler answers it. */
  is404: boolean;
  /** `url` is the template the route was declared with, prefix included. */
  routeOptions: { url?: string };
  [STARTED]?: boolean;
}

/** What the hooks read of a Fastify reply. */
interface FastifyReply {
  statusCode: number;
  /** Milliseconds from the start of the request to the end of the response. */
  elapsedTime: number;
}

type Done = () => void;

/** The parts of a Fastify instance the installation uses. */
export interface FastifyApp {
  addHook(
    name: 'onRequest',
    hook: (request: FastifyRequest, reply: object, done: Done) => void,
  ): unknown;
  addHook(
    name: 'onResponse',
    hook: (request: FastifyRequest, reply: FastifyReply, done: Done) => void,
  ): unknown;
  addHook(
    name: 'onRoute',
    hook: (route: { method: string | string[]; url: string }) => void,
  ): unknown;
}

/**
 * Counts every request the app answers with an `onRequest` and an `onResponse` hook on the root
 * instance, which every route and the not-found handler inherit. Returns the routes declared after
 * it (method and template), as they are declared, for {@link RequestMetrics.expectRoute}.
 */
export function installFastifyRequestMetrics(
  fastify: FastifyApp,
  metrics: RequestMetrics,
): [method: string, route: string][] {
  fastify.addHook('onRequest', (request, _reply, done) => {
    request[STARTED] = true;
    metrics.started(request.method);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    // Hooks of Nest's adapter (CORS preflight, 503 while closing) may answer before ours started it.
    if (request[STARTED]) metrics.stopped(request.method);
    if (!isUncounted(reply)) {
      const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
      metrics.answered(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    }
    done();
  });
  const routes: [string, string][] = [];
  fastify.addHook('onRoute', ({ method, url }) => {
    for (const one of Array.isArray(method) ? method : [method]) routes.push([one, url]);
  });
  return routes;
}
