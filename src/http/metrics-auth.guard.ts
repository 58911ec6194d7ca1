import {
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';

import type { MetricsAuthOptions } from '../metrics-auth.options.js';
import { REDIS_METRICS_MODULE_OPTIONS } from '../redis-metrics.constants.js';
import type { RedisMetricsModuleOptions } from '../redis-metrics.module-options.js';
import { constantTimeEqual } from './constant-time-equal.js';

/** What the guard reads of an Express or Fastify request, and writes to a response or reply. */
interface HttpRequest {
  headers?: Record<string, string | string[] | undefined>;
}
interface HttpReply {
  setHeader?: (name: string, value: string) => unknown;
  header?: (name: string, value: string) => unknown;
}

/**
 * Lets a request through to the module's routes only with the credentials of the `auth` option: a
 * bearer token or basic auth, compared in constant time. Without an `auth` option every request passes.
 * Always on the module's controller, a replaced controller class included.
 */
@Injectable()
export class MetricsAuthGuard implements CanActivate {
  private readonly auth: MetricsAuthOptions | undefined;

  constructor(@Inject(REDIS_METRICS_MODULE_OPTIONS) options: RedisMetricsModuleOptions) {
    const auth = options.auth;
    this.auth = auth?.bearerToken !== undefined || auth?.basic !== undefined ? auth : undefined;
  }

  /**
   * Whether an HTTP request may reach the route: `true` without an `auth` option, for a context that
   * is not HTTP, or with accepted credentials.
   * @throws UnauthorizedException (401, with a `WWW-Authenticate` challenge) otherwise.
   */
  canActivate(context: ExecutionContext): boolean {
    const auth = this.auth;
    if (!auth || context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const header = http.getRequest<HttpRequest>().headers?.authorization;
    if (typeof header === 'string' && accepts(auth, header)) return true;

    const reply = http.getResponse<HttpReply>();
    const challenge = auth.basic
      ? 'Basic realm="metrics", charset="UTF-8"'
      : 'Bearer realm="metrics"';
    if (typeof reply.setHeader === 'function') reply.setHeader('WWW-Authenticate', challenge);
    else reply.header?.('WWW-Authenticate', challenge);
    // The message says what is expected, never what was sent or what would be right.
    throw new UnauthorizedException('Credentials for the metrics routes are missing or wrong');
  }
}

/** Whether an Authorization header carries one of the accepted credentials. */
function accepts(auth: MetricsAuthOptions, header: string): boolean {
  const space = header.indexOf(' ');
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const credentials = header.slice(space + 1).trim();
  if (scheme === 'bearer' && auth.bearerToken !== undefined) {
    return constantTimeEqual(credentials, auth.bearerToken);
  }
  if (scheme === 'basic' && auth.basic !== undefined) {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Both halves are always compared, so the time says nothing about which one was wrong.
    const userOk = constantTimeEqual(decoded.slice(0, colon), auth.basic.username);
    const passwordOk = constantTimeEqual(decoded.slice(colon + 1), auth.basic.password);
    return userOk && passwordOk;
  }
  return false;
}
