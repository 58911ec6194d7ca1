import {
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Cluster, Redis, ReplyError } from 'ioredis';
import {
  collectDefaultMetrics,
  register as globalRegistry,
  type Registry,
  type RegistryContentType,
} from 'prom-client';

import { RedisMultiProcessCollector } from './aggregation/redis-multi-process-collector.js';
import { RedisTimeoutError } from './errors.js';
import { checkGaugeMode } from './gauge-mode-check.js';
import { MetricsScrape, type ScrapeResponse } from './metrics-scrape.js';
import { checkModuleOptions } from './redis-metrics.module-options-check.js';
import type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
import {
  lostDataGraceMs,
  resolveRedisMetricsOptions,
  type GaugeMode,
  type RedisMetricsOptions,
} from './redis-metrics.options.js';
import { createRedisClient } from './storage/create-redis-client.js';
import { connectionHistory, trackConnectionHistory } from './storage/connection-history.js';
import {
  describeRedisError,
  explainRedisError,
  nameKeyPrefix,
  nameSettings,
  namedSettingsOf,
} from './storage/describe-redis-error.js';
import { evictingPolicy } from './storage/eviction-policy.js';
import { FlushRequests } from './storage/flush-requests.js';
import { isImpossibleHeartbeat } from './storage/heartbeat-bound.js';
import { IpcMetricsStore } from './storage/ipc-metrics-store.js';
import { PrefixKeys } from './storage/keys.js';
import { claimRegistry } from './storage/registry-claims.js';
import { leaveDelivered, placeOfObject, takeDelivered } from './storage/registry-handover.js';
import type { RedisClient } from './storage/lua-scripts.js';
import type { FlushRequestChannel, MetricsStore } from './storage/metrics-store.js';
import { RedisMetricsStore } from './storage/redis-metrics-store.js';
import { MetricsFlusher, type FlushResult } from './storage/metrics-flusher.js';
import { isPassingRefusal } from './storage/passing-refusal.js';
import { ProcessIdentity } from './storage/process-identity.js';
import { storageHealth, type RedisMetricsHealth } from './storage-health.js';
import { clientSettingNames, settingNamesOf } from './setting-names.js';
import { storageOffMessage } from './storage-off-message.js';
import { urlOverriddenMessage } from './url-overridden-options.js';

/** How long set-up waits for the module's own client to be ready before its first flush. */
const CONNECT_WAIT_MS = 3000;

/** Client states on the way to ready (not ready, not closed for good). */
const CONNECTING = new Set(['wait', 'connecting', 'connect', 'reconnecting']);

/**
 * Settles when the client is ready or its connection attempt failed (so a failure has a cause to name).
 * Connects a lazy client (the module's own, or a user's made with `lazyConnect`), as ioredis would at
 * its first command: a Cluster client's writes fail while it is not ready, and would never connect it.
 */
function connected(client: RedisClient): Promise<unknown> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') return client.connect();
  return new Promise<void>((resolve) => {
    const done = () => {
      client.off('ready', done);
      client.off('error', done);
      client.off('end', done);
      resolve();
    };
    client.once('ready', done);
    client.once('error', done);
    client.once('end', done);
  });
}

/** What `work` resolves with, or `undefined` when it rejects or takes longer than `ms`. */
async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let result: T | undefined;
  await waitAtMost(
    work.then((value) => (result = value)),
    ms,
  );
  return result;
}

/** Settles when `work` settles or after `ms`, whichever is first; never rejects. */
function waitAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Owns this process's Redis storage: the client, the background flush, the collector and the
 * process's end. NestJS drives it through lifecycle hooks; outside DI call {@link setup} and
 * {@link teardown} yourself. The counterpart of the Python original's `RedisStorageManager`.
 */
export class RedisStorageManager
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  /** The resolved settings. */
  readonly options: RedisMetricsOptions;
  /** The registry this process writes. */
  readonly registry: Registry<RegistryContentType>;
  /** This process's identity in Redis. */
  readonly identity: ProcessIdentity;
  /** The Redis keys of {@link RedisMetricsOptions.keyPrefix} (see docs/redis-layout.md). */
  readonly keys: PrefixKeys;
  private readonly gaugeModes = new Map<string, GaugeMode>();
  /** Gauges whose mode in code the `gaugeModes` option overrides, once said so. */
  private readonly overriddenGaugeModes = new Set<string>();
  /** Gauges that `gaugeModes` names by the name they were made with, not in the registry, once said so. */
  private readonly misnamedGaugeModes = new Set<string>();
  private readonly client: RedisClient | undefined;
  private readonly ownsClient: boolean;
  private readonly store: MetricsStore | undefined;
  private readonly flusher: MetricsFlusher | undefined;
  private readonly collector: RedisMultiProcessCollector | undefined;
  private readonly scrape: MetricsScrape;
  private readonly flushRequests: FlushRequestChannel | undefined;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  /** The teardown of a running manager, once begun. */
  private tearingDown: Promise<void> | undefined;
  private started: Promise<boolean> | undefined;
  /**
   * What is left of the time the shutdown may wait on Redis (`scrapeTimeoutMs` in all, not per step):
   * each wait of it takes from one allowance, so a stalled Redis holds a stop up once, not per step.
   */
  private shutdownAllowanceMs: number | undefined;
  /** Gives up this manager's claim on its registry and prefix (see {@link claimFlushing}). */
  private releaseRegistry: (() => void) | undefined;
  /** Ends the waits of a set-up still under way, when the teardown begins. */
  private endSetupWaits: () => void = () => undefined;
  private readonly setupWaitsEnded = new Promise<void>((resolve) => (this.endSetupWaits = resolve));

  constructor(
    private readonly moduleOptions: RedisMetricsModuleOptions = {},
    private readonly logger: Pick<Logger, 'log' | 'warn' | 'error'> = new Logger('RedisMetrics'),
  ) {
    checkModuleOptions(moduleOptions);
    const {
      client,
      store,
      registry,
      gaugeModes,
      identity,
      defaultMetrics,
      httpMetrics,
      defaultLabels,
      customMetricPrefix,
      auth,
      ...settings
    } = moduleOptions;
    void defaultMetrics;
    void httpMetrics;
    void customMetricPrefix; // applied by RedisMetricsService
    void auth; // applied by the controller's guard
    this.options = resolveRedisMetricsOptions({
      ...settings,
      // Handing over a client or a URL in code means "use Redis" unless said otherwise.
      enabled:
        settings.enabled ??
        (client !== undefined ||
          store !== undefined ||
          settings.url !== undefined ||
          settings.sentinels !== undefined),
    });
    this.registry = registry ?? globalRegistry;
    if (defaultLabels) this.registry.setDefaultLabels(defaultLabels);
    this.identity = ProcessIdentity.create(identity);
    this.keys = new PrefixKeys(this.options.keyPrefix);
    for (const [name, mode] of Object.entries(gaugeModes ?? {})) {
      if (mode !== undefined) this.gaugeModes.set(name, mode);
    }
    this.ownsClient = client === undefined && store === undefined;
    this.scrape = this.makeScrape(undefined);
    if (!this.options.enabled) return;

    // Made now (nothing connects yet), so the client and the collector can be injected.
    if (store) {
      this.store = store;
      if (this.options.freshScrapeWaitMs > 0) this.flushRequests = store.flushRequests?.();
    } else {
      this.client = client ?? createRedisClient(this.options, settingNamesOf(settings));
      // A client of the user's is watched too, so its failures name their cause in logs and health.
      if (client instanceof Redis || client instanceof Cluster) trackConnectionHistory(client);
      // Its hints name its own options, which the user set (a Cluster's name its redisOptions); one
      // made by createRedisClient() keeps the names it was made with.
      if (client instanceof Redis && !namedSettingsOf(client)) {
        nameSettings(client, clientSettingNames());
      }
      if (this.ownsClient) this.client.on('error', () => undefined); // reported by flush results, once
      nameKeyPrefix(this.client, this.options.keyPrefix);
      this.store = new RedisMetricsStore(this.client, this.options.keyPrefix);
      if (this.options.freshScrapeWaitMs > 0) {
        this.flushRequests = new FlushRequests(
          this.client,
          this.options.keyPrefix,
          this.identity.id,
          () => this.flusher?.liveProcesses,
          (message) => this.logger.warn(message),
        );
      }
    }
    this.flusher = new MetricsFlusher({
      store: this.store,
      identity: this.identity,
      registry: this.registry,
      intervalMs: this.options.flushIntervalMs,
      gaugeModeOf: (name) => this.gaugeModeOf(name),
      reapAfterMs: this.options.ttlSeconds * 1000,
      livenessWindowMs: this.options.livenessWindowMs,
      collectIntervalMs: this.options.collectIntervalMs,
      describeError: (error) => this.explained(error),
      describeWait: () => this.connectionError(),
      isPassing: isPassingRefusal,
      isReconnecting: () => this.client !== undefined && CONNECTING.has(this.client.status),
      logger: this.logger,
    });
    this.collector = new RedisMultiProcessCollector({
      store: this.store,
      livenessWindowMs: this.options.livenessWindowMs,
      lostDataGraceMs: lostDataGraceMs(this.options.flushIntervalMs),
      acknowledged: () => this.flusher?.acknowledged(),
      logger: this.logger,
    });
    this.scrape = this.makeScrape(this.collector);
  }

  private makeScrape(collector: RedisMultiProcessCollector | undefined): MetricsScrape {
    return new MetricsScrape({
      collector,
      registry: this.registry,
      timeoutMs: this.options.scrapeTimeoutMs,
      fallback: this.options.scrapeFallback,
      logger: this.logger,
      onLostData: () => {
        if (this.state === 'running') void this.flusher?.flush();
      },
      // A scrape right after start waits (within its timeout) for the connection and first write.
      whenReady: () => this.started ?? Promise.resolve(false),
      describeError: (error) => this.explained(error),
      beforeRead: (budgetMs) =>
        this.flushRequests?.request(
          Math.min(this.options.freshScrapeWaitMs, budgetMs),
          this.flusher?.liveProcesses,
        ) ?? Promise.resolve(),
    });
  }

  /**
   * What `util.inspect` (console.log) shows of a manager: its settings without their secrets, and not
   * the options given nor the client, which hold the passwords and the `auth` credentials in clear.
   */
  [Symbol.for('nodejs.util.inspect.custom')](
    depth: number,
    inspectOptions: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    const shown = { options: this.options, process: this.identity.id, state: this.state };
    return `RedisStorageManager ${inspect(shown, inspectOptions)}`;
  }

  /** Whether HTTP requests are counted (the `httpMetrics` option, default true). */
  countsHttp(): boolean {
    return this.moduleOptions.httpMetrics !== false;
  }

  /**
   * Sets the multiprocess mode of a gauge (before its first flush). A gauge the module option
   * `gaugeModes` names keeps the mode it gives there: the option is where a deployment overrides the
   * mode a gauge was made with in code (the module's own `http_requests_in_flight` too), so a
   * different mode asked for here is logged and not used.
   * @throws RedisMetricsConfigError when `mode` is not a gauge mode.
   */
  setGaugeMode(metricName: string, mode: GaugeMode): void {
    const checked = checkGaugeMode(metricName, mode);
    const configured = this.moduleOptions.gaugeModes;
    // Own keys only: a gauge named `constructor` is not given Object's.
    const optionMode =
      configured && Object.hasOwn(configured, metricName) ? configured[metricName] : undefined;
    if (optionMode !== undefined) {
      // Said once per gauge: feature modules may each ask for a shared gauge.
      if (optionMode !== checked && !this.overriddenGaugeModes.has(metricName)) {
        this.overriddenGaugeModes.add(metricName);
        this.logger.log(
          `gauge "${metricName}" is merged in the mode "${optionMode}" that the module option gaugeModes gives it, not in the multiprocessMode "${checked}" it was made with`,
        );
      }
      return;
    }
    this.gaugeModes.set(metricName, checked);
  }

  /**
   * Warns once when the `gaugeModes` option names a gauge by the name it was made with (`madeAs`) and
   * not by its name in the registry (`metricName`, with `customMetricPrefix`): that entry gives it no
   * mode, and the gauge is merged in the mode it was made with, or `defaultGaugeMode`.
   */
  checkGaugeModeName(madeAs: string, metricName: string): void {
    const configured = this.moduleOptions.gaugeModes;
    if (madeAs === metricName || !configured || this.misnamedGaugeModes.has(metricName)) return;
    if (Object.hasOwn(configured, metricName) || !Object.hasOwn(configured, madeAs)) return;
    const named = configured[madeAs];
    if (named === undefined) return;
    this.misnamedGaugeModes.add(metricName);
    this.logger.warn(
      `the module option gaugeModes names "${madeAs}", the name the gauge "${metricName}" was made with: gaugeModes takes the name in the registry, with customMetricPrefix, so the gauge is merged in the mode "${this.gaugeModeOf(metricName)}", not "${named}" (name it "${metricName}" in gaugeModes)`,
    );
  }

  /** The multiprocess mode of a gauge. */
  gaugeModeOf(metricName: string): GaugeMode {
    return this.gaugeModes.get(metricName) ?? this.options.defaultGaugeMode;
  }

  /**
   * Connects and starts the background flush; resolves with whether the first flush reached the store
   * (`false` when storage is disabled or Redis unreachable: the app runs on, counting in memory, and the
   * client keeps trying). Calling it again returns the first call's promise. NestJS calls it at
   * bootstrap without waiting for it, so an app never waits on Redis to start.
   */
  setup(): Promise<boolean> {
    this.started ??= this.start();
    return this.started;
  }

  /**
   * Claims the flushing of the registry to the prefix, and says so loudly when another manager of
   * this process holds it: every series would be counted twice. Not an error that stops start-up: a
   * test file that starts an app per test and closes them late (or never), as Nest's starter does,
   * is a common way to get there, and it must keep running.
   */
  /**
   * Where this manager's store keeps the series, for the handover to a next manager of its registry:
   * the server and key prefix of a client the module made, or else the very client or store given.
   */
  private storePlace(): string {
    const { keyPrefix, host, port, db, sentinels, sentinelMaster } = this.options;
    if (this.ownsClient) {
      const server = sentinels
        ? `sentinels ${sentinelMaster} ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
        : `${host}:${port}`;
      return `${server}/${db} ${keyPrefix}`;
    }
    // A plain client of the user's (often made anew per app) names its server; others only themselves.
    if (this.client instanceof Redis && !this.client.options.sentinels) {
      const { host: clientHost, port: clientPort, db: clientDb } = this.client.options;
      return `${clientHost}:${clientPort}/${clientDb ?? 0} ${keyPrefix}`;
    }
    // Each IpcMetricsStore (the sample makes one per app) reaches the same primary's store.
    if (this.store instanceof IpcMetricsStore) {
      return `${placeOfObject(this.store.channel)} ${keyPrefix}`;
    }
    return `${placeOfObject(this.client ?? this.store!)} ${keyPrefix}`;
  }

  private claimFlushing(): void {
    const claim = claimRegistry(this.registry, this.options.keyPrefix);
    this.releaseRegistry = claim.release;
    if (!claim.shared) return;
    this.logger.error(
      `Another RedisStorageManager of this process already flushes this registry under the key prefix ` +
        `"${this.options.keyPrefix}": every series will be counted twice, the HTTP request metrics ` +
        'included (a second forRoot() does not count requests again on the same HTTP server, but both ' +
        'managers flush what the registry counted). Import ' +
        'RedisMetricsModule.forRoot() once, in the root module (it is global: feature modules inject ' +
        'RedisMetricsService without importing it), and close an app (app.close()) before starting ' +
        'another in the same process, as tests do; or give each manager its own registry or keyPrefix.',
    );
  }

  private async start(): Promise<boolean> {
    this.collectDefaultMetrics();
    const { flusher, store } = this;
    if (!flusher || !store) {
      const off = storageOffMessage(this.moduleOptions);
      if (off.warning) this.logger.warn(off.text);
      else this.logger.log(off.text);
      return false;
    }
    const overridden = urlOverriddenMessage(this.moduleOptions, this.options);
    if (overridden) this.logger.warn(overridden);
    this.state = 'running';
    this.claimFlushing();
    // An earlier manager of this registry in this process delivered its counts already.
    const delivered = takeDelivered(this.registry, this.storePlace());
    if (delivered) flusher.startFrom(delivered);
    // Each wait is bounded, and a teardown meanwhile ends the set-up where it is: its timer would keep
    // a closed app's process alive (a Cluster client's subscriber, closed while it connects, may keep
    // its SUBSCRIBE queued rather than fail it).
    const stopped = () => this.state !== 'running';
    const setupWait = (work: Promise<unknown>) =>
      waitAtMost(Promise.race([work, this.setupWaitsEnded]), CONNECT_WAIT_MS);
    // A server that accepts connections but never answers would hold a connection forever: the
    // first flush then fails at once, and the client keeps trying in the background.
    if (this.client) await setupWait(connected(this.client));
    if (stopped()) return false;
    const first = await flusher.flush();
    if (stopped()) return false;
    flusher.start();
    if (this.flushRequests) {
      // With Redis away the subscription completes whenever it comes back. A fresh scrape wants
      // current values: the collect callbacks run for it.
      const fresh = () => flusher.flush({ collect: true });
      const listening = this.flushRequests.listen(fresh);
      // Refused (an ACL user without the channels: Redis 7 gives a new user none), scrapes would
      // quietly stop asking for fresh values.
      listening.catch((error: unknown) => this.warnNotListening(error));
      await setupWait(listening);
      // Closed meanwhile (which ends the SUBSCRIBE): a line now would describe a store already left.
      if (stopped()) return false;
    }
    this.logger.log(
      first.ok
        ? `Storing metrics in ${store.description} as ${this.identity.id}.`
        : this.client?.status === 'end'
          ? // Closed for good (a database the server lacks): no retry can succeed.
            `${store.description} cannot be used: counting in memory only; its client has closed and does not reconnect.`
          : this.client?.status === 'ready' && !(first.error instanceof RedisTimeoutError)
            ? // Connected, and the write refused (NOPERM, READONLY, OOM): the flush's warning says why.
              `${store.description} answers but refused the first write: counting in memory, retrying in the background.`
            : `${store.description} is unreachable: counting in memory, retrying in the background.`,
    );
    if (first.ok && this.client) void this.warnIfEvicting(this.client);
    return first.ok;
  }

  /** Says why this process does not hear fresh-scrape requests, and what scrapes show instead. */
  private warnNotListening(error: unknown): void {
    // Closing the subscriber at shutdown ends its SUBSCRIBE too: nothing to say then. Nor when Redis
    // did not answer: a SUBSCRIBE rejected by the command timeout stays queued and is sent once
    // connected. Only a refusal (NOPERM) leaves the process deaf.
    const refused =
      error instanceof ReplyError || (error as { cause?: unknown })?.cause instanceof ReplyError;
    if (this.state !== 'running' || !refused) return;
    const cause = this.client
      ? describeRedisError(error, this.client)
      : ((error as Error)?.message ?? String(error));
    const channels = `{${this.options.keyPrefix}}:*`;
    const acl = /^NOPERM/.test(cause)
      ? `; the user needs the channels ${channels} (ACL &${channels})`
      : '';
    this.logger.warn(
      `Fresh scrapes are off in this process: it cannot subscribe to the flush requests on ${channels} (${cause}${acl}). ` +
        `Scrapes show what each process flushed last, up to ${this.options.flushIntervalMs} ms old.`,
    );
  }

  /** Warns once when Redis may evict the module's keys (they have no TTL, so only allkeys-* can). */
  private async warnIfEvicting(client: RedisClient): Promise<void> {
    const policy = await evictingPolicy(client);
    if (policy === undefined) return;
    this.logger.warn(
      `Redis has maxmemory-policy ${policy}: under memory pressure it may evict this module's keys. ` +
        'Each live process repairs its own part, but the counts of processes that ended before are lost. ' +
        'Prefer noeviction or a volatile-* policy for the Redis that holds metrics.',
    );
  }

  /**
   * Ends this process's part: last flush, then its gauges and state leave the store (its counts stay
   * in the totals), timers stopped and the client closed (if the module made it). Safe to call twice.
   */
  async teardown(): Promise<void> {
    // A second call (a shutdown hook and the app's own, say) waits for the first, which may be trying
    // the last flush again for a few seconds.
    if (this.tearingDown) return this.tearingDown;
    if (this.state !== 'running' || !this.flusher) {
      // Never set up, but a call such as markProcessDead may have connected the client.
      if (this.state === 'idle') await this.closeOwnedClient();
      return;
    }
    this.tearingDown = this.stopRunning(this.flusher);
    return this.tearingDown;
  }

  /** {@link teardown} of a running manager. */
  private async stopRunning(flusher: MetricsFlusher): Promise<void> {
    this.state = 'stopped';
    this.endSetupWaits();
    this.releaseRegistry?.();
    this.flushRequests?.close();
    if (this.clientClosedBeforeUs()) {
      // Nothing can reach Redis any more: no flush tried (and retried) in vain, one line that says why.
      const delivered = flusher.delivered();
      if (delivered) leaveDelivered(this.registry, this.storePlace(), delivered);
      this.logger.warn(
        `The Redis client given as the "client" option was closed before the last flush of this process (${this.identity.id}) at shutdown, ` +
          "by a shutdown hook that ran before the metrics module's (such as that of the module that made it) or by its retryStrategy giving up: " +
          'what it counted since its last flush is lost, and its gauges stay until a live process ends it (ttlSeconds). ' +
          'Close that client after app.close() has resolved, or give the module a url to connect with a client of its own.',
      );
      flusher.abandon();
      return;
    }
    // Bounded: a client of the user's may wait on a stalled Redis for as long as it stalls.
    await this.duringShutdown(this.untilConnected());
    const last = await this.duringShutdown(flusher.stop());
    // Read before end(), which forgets it: the registry keeps its counts for a next manager.
    const delivered = flusher.delivered();
    if (delivered) leaveDelivered(this.registry, this.storePlace(), delivered);
    const ended = last?.ok
      ? await this.duringShutdown(
          flusher.end().then(
            () => true,
            (error: unknown) => {
              this.warnNotEnded(error);
              return false;
            },
          ),
        )
      : false;
    // Not ended in the store: its gauges stay until it is reaped; its counts are in the totals anyway.
    if (!ended) flusher.abandon(last === undefined ? this.lastFlushUnanswered() : undefined);
    await this.closeOwnedClient();
  }

  /**
   * Whether a client of the user's has been closed (by a shutdown hook of the app's that Nest ran before
   * the module's, often that of the module that made it, or by its own retryStrategy giving up, which
   * also leaves it in "end"): ioredis does not reconnect it, so no flush can reach Redis any more.
   */
  private clientClosedBeforeUs(): boolean {
    if (this.ownsClient || !this.client) return false;
    // Right after quit() has resolved the client still says "ready" until its socket closes; ioredis 5
    // and 6 mark it (Redis and Cluster alike) with a field their types keep private.
    const closing = (this.client as unknown as { manuallyClosing?: unknown }).manuallyClosing;
    return this.client.status === 'end' || closing === true;
  }

  /** What a shutdown that gave up on a last flush still waiting for the store costs. */
  private lastFlushUnanswered(): string {
    return (
      `The last flush of this process (${this.identity.id}) to ${this.store!.description} got no answer within the shutdown's ${this.options.scrapeTimeoutMs} ms (scrapeTimeoutMs): ` +
      'what it counted since its last acknowledged flush may never reach the totals, and its gauges stay until a live process ends it (ttlSeconds).'
    );
  }

  /** Says why this process could not be ended in the store at shutdown, and what that leaves. */
  private warnNotEnded(error: unknown): void {
    const cause = this.client
      ? describeRedisError(error, this.client)
      : ((error as Error)?.message ?? String(error));
    this.logger.warn(
      `Ending this process (${this.identity.id}) in ${this.store!.description} at shutdown failed (${cause}); ` +
        `its counts are in the totals, and its gauges stay until a live process ends it (ttlSeconds).`,
    );
  }

  /**
   * A process stopped right after it started (a script, a job, a test) is still connecting: its last
   * flush would fail at once, and its counts be lost, where a moment's wait delivers them.
   */
  private async untilConnected(): Promise<void> {
    if (this.client && CONNECTING.has(this.client.status)) {
      await connected(this.client);
    }
  }

  /** What `work` resolves with, waiting at most what is left of the shutdown's allowance. */
  private async duringShutdown<T>(work: Promise<T>): Promise<T | undefined> {
    const allowance = this.shutdownAllowanceMs ?? this.options.scrapeTimeoutMs;
    const begun = performance.now();
    const result = await withDeadline(work, allowance);
    this.shutdownAllowanceMs = Math.max(0, allowance - (performance.now() - begun));
    return result;
  }

  private async closeOwnedClient(): Promise<void> {
    const client = this.ownsClient ? this.client : undefined;
    if (!client || client.status === 'end') return;
    // QUIT waits for its reply, as long as a stalled Redis stalls: what is left of the allowance.
    const quit = await this.duringShutdown(client.quit().then(() => true));
    if (!quit) client.disconnect();
  }

  /** Registers prom-client's default process metrics in the registry, once per registry. */
  private collectDefaultMetrics(): void {
    const setting = this.moduleOptions.defaultMetrics ?? true;
    const enabled = typeof setting === 'object' ? setting.enabled : setting;
    const config = typeof setting === 'object' ? setting.config : undefined;
    if (!enabled) return;
    if (this.registry.getSingleMetric(`${config?.prefix ?? ''}process_cpu_user_seconds_total`))
      return;
    collectDefaultMetrics({ ...config, register: this.registry });
  }

  /** Whether Redis storage is configured, running, and the last flush reached Redis. */
  isEnabled(): boolean {
    return this.state === 'running' && this.flusher?.lastResult?.ok === true;
  }

  /** The Redis client; `undefined` when storage is disabled or not in Redis. */
  getClient(): RedisClient | undefined {
    return this.client;
  }

  /** The collector that merges every process; `undefined` when Redis storage is disabled. */
  getCollector(): RedisMultiProcessCollector | undefined {
    return this.collector;
  }

  /**
   * Flushes this process's metrics now (e.g. before a scrape in a test or a short script), after the
   * set-up has connected if it is still under way.
   */
  async flush(): Promise<FlushResult | undefined> {
    await this.started;
    return this.flusher?.flush({ collect: true });
  }

  /**
   * Ends every process whose heartbeat is older than the TTL: its gauges and state go, its counts stay.
   * @returns how many were ended.
   */
  async cleanupKeys(): Promise<number> {
    const store = await this.reachableStore();
    if (!store) return 0;
    const ttlMs = this.options.ttlSeconds * 1000;
    return this.described(async () => {
      const { now, processes } = await store.processIndex();
      let ended = 0;
      for (const { id, heartbeat } of processes) {
        const stale = heartbeat < now - ttlMs || isImpossibleHeartbeat(heartbeat, now);
        if (stale && (await store.end(id, ttlMs)) === 'ended') ended += 1;
      }
      return ended;
    });
  }

  /**
   * Ends the processes with this pid (on this host unless `hostname` says otherwise) at once, as the
   * reaping of a dead process does: all their gauges leave the next scrape, whatever the mode (Python's
   * `mark_process_dead(pid)` removes only the `live*` ones), and their counts stay. For a cluster
   * primary that sees a worker exit.
   * @returns the ids of the processes ended.
   */
  async markProcessDead({ pid, hostname }: { pid: number; hostname?: string }): Promise<string[]> {
    const store = await this.reachableStore();
    if (!store) return [];
    const host = hostname ?? this.identity.hostname;
    return this.described(async () => {
      const { processes } = await store.processIndex();
      const ended: string[] = [];
      for (const { id, info } of processes) {
        if (info?.pid !== pid || info.hostname !== host || id === this.identity.id) continue;
        if ((await store.end(id)) === 'ended') ended.push(id);
      }
      return ended;
    });
  }

  /**
   * Deletes counts from the shared totals: every series of a counter, histogram or summary (by its name
   * in the registry), or the one of `labels` (its labels as a scrape shows them; the module's
   * `defaultLabels` are added unless `labels` gives them another value, as prom-client adds them; a
   * default label set on the registry by other means must be given). The totals keep a series' count for as long as Redis keeps them, across restarts and
   * deploys: a metric taken out of the code, or a label value no longer used, is otherwise served with
   * its last count by every scrape. A process that still counts a series goes on from about zero,
   * which Prometheus reads as a counter reset, but writes its whole count again should Redis lose the
   * totals later: drop the series in every process first for a deletion that lasts. Gauges are each
   * process's own and go with it.
   * @returns how many series were deleted (0 with storage off).
   * @throws when the store cannot delete counts (a store of your own without `deleteSeries`, or an
   *   `IpcMetricsStore` whose cluster primary runs an earlier version), and when Redis failed over or
   *   restarted during each of three scans of the totals (part may be deleted; a call again deletes the
   *   rest). A single failover or restart is scanned past: the count is then still exact.
   */
  async deleteCounts(
    metricName: string,
    labels?: Record<string, string | number>,
  ): Promise<number> {
    const store = await this.reachableStore();
    if (!store) return 0;
    if (!store.deleteSeries) {
      throw new Error(`${store.description} cannot delete counts: its store has no deleteSeries()`);
    }
    const stored =
      labels === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries({ ...this.moduleOptions.defaultLabels, ...labels }).map(
              ([name, value]) => [name, String(value)],
            ),
          );
    return this.described(() => store.deleteSeries!(metricName, stored));
  }

  /**
   * The store, once the module's own client has connected (within a bounded wait): a call such as
   * {@link markProcessDead} may come before {@link setup}, from a cluster primary that flushes nothing.
   */
  private async reachableStore(): Promise<MetricsStore | undefined> {
    if (this.client && this.ownsClient && this.client.status === 'wait') {
      await waitAtMost(connected(this.client), CONNECT_WAIT_MS);
    }
    return this.store;
  }

  /** A Redis error of the module's client described by its cause (see describe-redis-error.ts). */
  private explained(error: unknown): unknown {
    return this.client ? explainRedisError(error, this.client) : error;
  }

  /** What `work` resolves with; its Redis error described by its cause (see describe-redis-error.ts). */
  private async described<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.explained(error);
    }
  }

  /**
   * The answer to a scrape: every process merged when the store can be read right, a 503 with its
   * reason when it cannot (unless `scrapeFallback: 'local'`), this process's own registry when storage
   * is off. Never rejects because of Redis.
   * @param accept the request's `Accept` header.
   * @param prometheusTimeout the `X-Prometheus-Scrape-Timeout-Seconds` header, if any.
   */
  metrics(accept = '', prometheusTimeout?: string): Promise<ScrapeResponse> {
    return this.scrape.respond(accept, prometheusTimeout);
  }

  /** The state of this process's storage, for the health route; answers at once, whatever Redis does. */
  async health(): Promise<RedisMetricsHealth> {
    const flusher = this.state === 'running' ? this.flusher : undefined;
    // Until the first flush has failed (set-up waits up to 3 s for the client), the client's last
    // connection error is all that tells why nothing was written.
    return storageHealth(
      flusher,
      this.identity,
      this.options.flushIntervalMs,
      performance.now(),
      this.connectionError(),
    );
  }

  /** The client's last connection error since it was last ready, described (never a secret). */
  private connectionError(): string | undefined {
    const lastError = this.client && connectionHistory(this.client)?.lastError;
    return lastError ? describeRedisError(lastError, this.client) : undefined;
  }

  /** @internal NestJS lifecycle: set up once the app is bootstrapped, without holding it up. */
  onApplicationBootstrap(): void {
    void this.setup();
  }

  /**
   * @internal NestJS lifecycle, before Nest closes the HTTP server: a flush while every connection is
   * still open (a client of the user's may be closed by another module's shutdown hook).
   */
  async beforeApplicationShutdown(): Promise<void> {
    // A client closed already is told of by the last flush's hook, which comes next.
    if (this.state !== 'running' || !this.flusher || this.clientClosedBeforeUs()) return;
    await this.duringShutdown(this.untilConnected());
    await this.duringShutdown(this.flusher.flush());
  }

  /**
   * @internal NestJS lifecycle, once the HTTP server has closed: the last flush, which counts the
   * requests it finished meanwhile, the end, and the client closed. Until then the client stays open,
   * so a scrape answered during the shutdown still reads Redis.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.teardown();
  }
}
