import { RedisMetricsConfigError } from './errors.js';

/**
 * Credentials a scraper must present to read the module's routes (`/metrics` and its health route).
 * With both set, either one is accepted. Never logged, never in an error message.
 */
export interface MetricsAuthOptions {
  /**
   * Accept `Authorization: Bearer <token>` (Prometheus `authorization: { credentials }`). Printable
   * ASCII, without whitespace at either end: a header carries no other token as it was written.
   */
  bearerToken?: string;
  /**
   * Accept `Authorization: Basic ...` with this user and password (Prometheus `basic_auth`). Neither may
   * be empty (without a password the user name, rarely a secret, would be the only check), and the
   * username holds no `:`, which ends it in the header.
   */
  basic?: { username: string; password: string };
}

/** Environment variables read by {@link readMetricsAuthFromEnv}. */
export const METRICS_AUTH_ENV = {
  token: 'METRICS_AUTH_TOKEN',
  username: 'METRICS_AUTH_USERNAME',
  password: 'METRICS_AUTH_PASSWORD',
} as const;

/**
 * Reads the protection of the module's routes from the environment: `METRICS_AUTH_TOKEN` for a bearer
 * token, `METRICS_AUTH_USERNAME` and `METRICS_AUTH_PASSWORD` for basic auth. `undefined` when none is set.
 * Values are trimmed, as Prometheus trims a `credentials_file` or `password_file`: a secret mounted as a
 * file often ends with a newline, and no `Authorization` header can carry a token's surrounding
 * whitespace.
 *
 * @throws RedisMetricsConfigError when only one half of the basic credentials is set, or a variable
 *   holds nothing but whitespace.
 */
export function readMetricsAuthFromEnv(
  env: Record<string, string | undefined> = process.env,
): MetricsAuthOptions | undefined {
  const value = (name: string) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const trimmed = raw.trim();
    // Blank rather than empty is a mistake, not a wish for open routes: say so.
    if (trimmed === '') throw new RedisMetricsConfigError(name, 'holds only whitespace');
    return trimmed;
  };
  const token = value(METRICS_AUTH_ENV.token);
  const username = value(METRICS_AUTH_ENV.username);
  const password = value(METRICS_AUTH_ENV.password);
  if ((username === undefined) !== (password === undefined)) {
    const missing = username === undefined ? METRICS_AUTH_ENV.username : METRICS_AUTH_ENV.password;
    throw new RedisMetricsConfigError(
      missing,
      `must be set as well: basic auth needs both ${METRICS_AUTH_ENV.username} and ${METRICS_AUTH_ENV.password}`,
    );
  }
  const auth: MetricsAuthOptions = {};
  if (token !== undefined) auth.bearerToken = token;
  if (username !== undefined && password !== undefined) auth.basic = { username, password };
  return auth.bearerToken === undefined && auth.basic === undefined ? undefined : auth;
}
