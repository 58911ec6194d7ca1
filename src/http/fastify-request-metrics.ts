import { UNMATCHED_ROUTE, type RequestMetrics } from './request-metrics.js';
import { isUncounted, leftInFlight, trackInFlight } from './skip-request-metrics.js';
import { unfinishedStatus, type Connection } from './unfinished-response.js';

const STARTED_AT = Symbol('nestjs-redis-metrics: started at');
const ENDED = Symbol('nestjs-redis-metrics: ended');
/** In the `config` of a route the hooks leave out (Fastify copies it into the route's own). */
const NOT_COUNTED = Symbol('nestjs-redis-metrics: not counted');

/** What the hooks read of a Fastify request. */
interface FastifyRequest {
  method: string;
  /** Whether the not-found handler answers it. */
  is404: boolean;
  /** `url` is the template the route was declared with, prefix included. */
  routeOptions: { url?: string; config?: { [NOT_COUNTED]?: boolean } };
  /** Node's request. */
  raw: { socket?: Connection | null };
  [STARTED_AT]?: number;
  [ENDED]?: boolean;
}

/** What the hooks read of a Fastify reply. */
interface FastifyReply {
  statusCode: number;
  /** Milliseconds from the start of the request to the end of the response. */
  elapsedTime: number;
}

/** What the `onRequest` hook reads of a Fastify reply: Node's response. */
interface FastifyStartingReply {
  raw: {
    /** Whether the whole response was handed to the operating system. */
    writableFinished: boolean;
    /** Whether the response has closed already (its `close` has been emitted). */
    closed?: boolean;
    once(event: 'close', listener: () => void): unknown;
  };
}

type Done = () => void;

/** The parts of a Fastify instance the installation uses. */
export interface FastifyApp {
  addHook(
    name: 'onRequest',
    hook: (request: FastifyRequest, reply: FastifyStartingReply, done: Done) => void,
  ): unknown;
  addHook(
    name: 'onResponse',
    hook: (request: FastifyRequest, reply: FastifyReply, done: Done) => void,
  ): unknown;
  addHook(name: 'onRequestAbort', hook: (request: FastifyRequest, done: Done) => void): unknown;
  addHook(
    name: 'onRoute',
    hook: (route: { method: string | string[]; url: string; config?: object }) => void,
  ): unknown;
}

/** What {@link installFastifyRequestMetrics} returns. */
export interface FastifyRequestMetrics {
  /** The routes declared after the installation (method and template), as they are declared. */
  routes: [method: string, route: string][];
  /**
   * Registers routes with `register` (which returns at once), leaving them out of the request
   * metrics: the module's own metrics and health routes, never counted, not even when a guard of the
   * app's that runs before the module's (a global guard) answers them.
   */
  skipRoutes<T>(register: () => T): T;
}

/**
 * Counts every request the app answers with hooks on the root instance, which every route and the
 * not-found handler inherit: `onRequest`, `onResponse`, and, for a connection that closed first (by
 * the client or by a server that cut the response short, when Fastify never runs `onResponse`), the
 * `close` of the response and `onRequestAbort`. Returns the routes declared after it (method and
 * template), as they are declared, for {@link RequestMetrics.expectRoute}, and a way to declare
 * routes that are not counted.
 */
export function installFastifyRequestMetrics(
  fastify: FastifyApp,
  metrics: RequestMetrics,
): FastifyRequestMetrics {
  let skipping = false;
  fastify.addHook('onRequest', (request, reply, done) => {
    // A client that went away while an onRequest hook of the app's ran before this one (an async one):
    // onRequestAbort counted it already, or its response closed and no close is to come. It never
    // entered: started here, it stayed in flight for good.
    if (request[ENDED] === true || reply.raw.closed === true) {
      ended(request, unfinishedStatus(request.raw.socket), 0);
      return done();
    }
    const startedAt = performance.now();
    request[STARTED_AT] = startedAt;
    metrics.started(request.method);
    // Fastify runs onRequestAbort only for a request whose body was never read (Node's req.aborted):
    // a client that sent a body and went away while the handler ran got neither hook, and its request
    // stayed in flight for good. The response's close tells, whatever was read.
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return; // finished: onResponse counts it
      const seconds = (performance.now() - startedAt) / 1000;
      ended(request, unfinishedStatus(request.raw.socket), seconds);
    });
    done();
  });
  // A request this hook saw has its start time: that is what says it entered.
  const entered = (request: FastifyRequest) => request[STARTED_AT] !== undefined;
  trackInFlight(fastify, {
    // One that ended has left already (a client that went away before the guard ran).
    entered: (request) =>
      entered(request as FastifyRequest) && (request as FastifyRequest)[ENDED] !== true,
    stopped: (method) => metrics.stopped(method),
  });
  // Fastify runs one of onResponse and onRequestAbort for a request; the flag makes sure of it.
  const ended = (request: FastifyRequest, status: number, seconds: number) => {
    if (request[ENDED]) return;
    request[ENDED] = true;
    // Hooks of Nest's adapter (CORS preflight, 503 while closing) may answer before ours started it:
    // then it never entered.
    if (entered(request) && !leftInFlight(request)) metrics.stopped(request.method);
    if (isUncounted(request)) return;
    const { url, config } = request.routeOptions;
    if (config?.[NOT_COUNTED] === true) return;
    const route = request.is404 ? UNMATCHED_ROUTE : (url ?? UNMATCHED_ROUTE);
    metrics.answered(request.method, route, status, seconds);
  };
  fastify.addHook('onResponse', (request, reply, done) => {
    ended(request, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    const startedAt = request[STARTED_AT] ?? performance.now();
    ended(request, unfinishedStatus(request.raw.socket), (performance.now() - startedAt) / 1000);
    done();
  });
  const routes: [string, string][] = [];
  // Routes of one method only, as on Express: `@All()` would make one per method Fastify knows.
  fastify.addHook('onRoute', (route) => {
    // Its HEAD route, declared from the same options, gets the mark too.
    if (skipping) route.config = { ...route.config, [NOT_COUNTED]: true };
    if (typeof route.method === 'string') routes.push([route.method, route.url]);
  });
  // Fastify runs onRoute hooks as a route is declared, inside fastify.route().
  const skipRoutes = <T>(register: () => T): T => {
    skipping = true;
    try {
      return register();
    } finally {
      skipping = false;
    }
  };
  return { routes, skipRoutes };
}
