import { METHODS } from 'node:http';

import { UNMATCHED_ROUTE, type RequestMetrics } from './request-metrics.js';
import { isUncounted, leftInFlight, trackInFlight } from './skip-request-metrics.js';
import { unfinishedStatus, type Connection } from './unfinished-response.js';

const NOT_FOUND = Symbol('nestjs-redis-metrics: not found');

/** What the middleware reads of an Express request. */
interface ExpressRequest {
  method?: string;
  /** Where the router that matched is mounted ('' at the top). */
  baseUrl?: string;
  /** The route that matched last, set by Express's router; absent when none did. */
  route?: { path?: unknown };
  /** Set when Nest's not-found handler answered it. */
  [NOT_FOUND]?: boolean;
  socket?: Connection | null;
}

/** What the middleware reads of an Express response. */
interface ExpressResponse {
  statusCode: number;
  /** Whether the whole response was handed to the operating system. */
  writableFinished: boolean;
  on(event: 'close', listener: () => void): unknown;
}

type Middleware = (request: ExpressRequest, response: ExpressResponse, next: () => void) => void;

/** The parts of an Express 5 application the installation uses. */
export interface ExpressApp {
  use(middleware: Middleware): unknown;
  router?: { stack?: { handle?: unknown }[] };
}

/**
 * The not-found handlers {@link markExpressNotFound} handed to Nest. With a global prefix, Nest's
 * Express adapter also mounts its handler on the path of every route excluded from the prefix, with
 * `app.all()`, which Express 5 spells as one route per method it knows (34 of them).
 */
const notFoundHandlers = new WeakSet<object>();

/** Whether every handler of an Express route is Nest's not-found handler: no route of the app. */
function answersNotFound(route: { stack?: { handle?: unknown }[] }): boolean {
  const stack = route.stack ?? [];
  return (
    stack.length > 0 &&
    stack.every(({ handle }) => typeof handle === 'function' && notFoundHandlers.has(handle))
  );
}

/**
 * Whether an Express route answers every method Express knows: one made by `app.all()` (a controller's
 * `@All()`), which Express 5 spells as one route of each of its methods (`M-SEARCH` and `UNSUBSCRIBE`
 * among them), where Fastify makes one route of many methods.
 */
function answersEveryMethod(methods: Record<string, boolean>): boolean {
  return METHODS.every((method) => methods[method.toLowerCase()] === true);
}

/**
 * Express routes as `method route` pairs, for {@link RequestMetrics.expectRoute}: the routes of the
 * app of one method, as on Fastify; not the not-found handler Nest mounts on the paths excluded from
 * the global prefix, and not a route of every method (`@All()`), which would start 34 series at 0 (HEAD aside).
 */
export function expressRoutes(app: ExpressApp): [method: string, route: string][] {
  const routes: [string, string][] = [];
  for (const layer of app.router?.stack ?? []) {
    const route = (
      layer as {
        route?: {
          path?: unknown;
          methods?: Record<string, boolean>;
          stack?: { handle?: unknown }[];
        };
      }
    ).route;
    if (typeof route?.path !== 'string' || answersNotFound(route)) continue;
    const methods = route.methods ?? {};
    if (answersEveryMethod(methods)) continue;
    for (const method of Object.keys(methods)) {
      if (method !== '_all') routes.push([method.toUpperCase(), route.path]);
    }
  }
  return routes;
}

/**
 * The Express routes of the module's own GET routes (metrics, health), which are never counted: not
 * even when a guard of the app's that runs before the module's (a global guard) answers them.
 */
const ownRoutes = new WeakSet<object>();

/**
 * Leaves the Express route that serves `handler` out of the request metrics. Call it right after the
 * route is registered (with the handler Nest gave the adapter's `get()`).
 */
export function skipExpressRoute(app: ExpressApp, handler: unknown): void {
  for (const layer of app.router?.stack ?? []) {
    const route = (layer as { route?: { stack?: { handle?: unknown }[] } }).route;
    if (route?.stack?.some(({ handle }) => handle === handler)) ownRoutes.add(route);
  }
}

/** The part of Nest's HTTP adapter that registers the handler of requests no route took. */
export interface NotFoundHandlerHost {
  setNotFoundHandler(
    handler: (request: ExpressRequest, ...rest: unknown[]) => unknown,
    ...rest: unknown[]
  ): unknown;
}

/**
 * Marks the requests Nest's not-found handler answers, so they are counted under
 * {@link UNMATCHED_ROUTE}: `req.route` alone does not tell, as Nest answers them from routes too (a
 * catch-all under the global prefix, the other methods of a route excluded from it), and a versioned
 * route whose handler has no such version passes the request on with `req.route` still set. Call it
 * before Nest registers that handler, which it does after every route.
 */
export function markExpressNotFound(adapter: NotFoundHandlerHost): void {
  const setNotFoundHandler = adapter.setNotFoundHandler.bind(adapter);
  adapter.setNotFoundHandler = (handler, ...rest) => {
    const marking: typeof handler = (request, ...args) => {
      request[NOT_FOUND] = true;
      return handler(request, ...args);
    };
    notFoundHandlers.add(marking);
    return setNotFoundHandler(marking, ...rest);
  };
}

/**
 * Counts every request the app answers with one Express middleware, first in the app's stack. It
 * reads the route when the response closes: by then the router has set `req.route` to the route that
 * matched (its template, never the URL), or left it unset for a request that matched none; one that
 * {@link markExpressNotFound} marked matched none either.
 */
export function installExpressRequestMetrics(app: ExpressApp, metrics: RequestMetrics): void {
  const middleware: Middleware = function requestMetricsMiddleware(request, response, next) {
    const method = request.method ?? 'UNKNOWN';
    const startedAt = performance.now();
    metrics.started(method);
    // 'close' comes after 'finish', and also when the connection closed first (the client went away or
    // the server cut the response short): one listener for both.
    response.on('close', () => {
      if (!leftInFlight(request)) metrics.stopped(method);
      if (isUncounted(request) || (request.route && ownRoutes.has(request.route))) return;
      const path = request.route?.path;
      const route =
        path === undefined || request[NOT_FOUND]
          ? UNMATCHED_ROUTE
          : `${request.baseUrl ?? ''}${String(path)}`;
      const status = response.writableFinished
        ? response.statusCode
        : unfinishedStatus(request.socket);
      metrics.answered(method, route, status, (performance.now() - startedAt) / 1000);
    });
    next();
  };
  app.use(middleware);
  // Every request of the app passes the middleware first (below), so every one entered; one whose
  // response has closed has left already (a client that went away before the guard ran).
  trackInFlight(app, {
    entered: (request) => (request as { res?: { closed?: boolean } }).res?.closed !== true,
    stopped: (method) => metrics.stopped(method),
  });
  // Nest has already added its body parsers, and the app may have added middleware of its own
  // (app.use in main.ts): moved in front of them, the middleware also sees what they answer (a
  // malformed body, a CORS preflight, a rate limit) and times the request from its start.
  const stack = app.router?.stack;
  if (stack?.at(-1)?.handle === middleware) stack.unshift(stack.pop()!);
}
