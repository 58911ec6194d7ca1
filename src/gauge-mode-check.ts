import { RedisMetricsConfigError } from './errors.js';
import { GAUGE_MODES, type GaugeMode } from './redis-metrics.options.js';

/**
 * The mode asked for a gauge, checked: a mode the module does not know would be stored with the gauge's
 * samples, and every scrape would then skip the gauge with a warning, far from the typo.
 * @throws RedisMetricsConfigError naming the gauge, the mode and the known modes.
 */
export function checkGaugeMode(metricName: string, mode: unknown): GaugeMode {
  if ((GAUGE_MODES as readonly unknown[]).includes(mode)) return mode as GaugeMode;
  throw new RedisMetricsConfigError(
    `gauge "${metricName}"`,
    `has the multiprocessMode ${JSON.stringify(mode) ?? String(mode)}; a mode is one of ${GAUGE_MODES.join(', ')}`,
  );
}
