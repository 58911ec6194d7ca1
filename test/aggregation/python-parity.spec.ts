import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

import {
  GAUGE_MODES,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  RedisStorageManager,
  type GaugeMode,
  type MetricsFlusher,
} from '../../src/index.js';
import { seededRandom } from '../harness/seeded-random.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

/**
 * A differential test of the merge against Python's prometheus_client in multiprocess mode, the
 * semantics this module ports. From fixed seeds, a random sequence of operations over simulated
 * processes (each its own registry and flusher here, its own pid's files in Python) is replayed on
 * both sides, and the merged samples must be equal, exactly. Python runs as Debian's
 * python3-prometheus-client (0.16, installed by scripts/test-tools.sh) through
 * test/fixtures/python-parity.py, which also says how it covers the modes 0.16 lacks.
 */

/** Python 0.16's multiprocess collector, called as CI installs it (not a pyenv python on PATH). */
const PYTHON = '/usr/bin/python3';
const DRIVER = join(import.meta.dirname, '..', 'fixtures', 'python-parity.py');
const HOSTNAME = 'h';
const BUCKETS = [0.25, 1, 4];
const TIMED: GaugeMode[] = ['mostrecent', 'livemostrecent'];

/** What the operations of a seed draw from. */
interface Pools {
  labels: readonly string[];
  /** Counter increments, and gauge increments and decrements. */
  amounts: readonly number[];
  gaugeValues: readonly number[];
  /**
   * Amounts and values for gauges of the modes that do not add (their sums depend on the order of
   * addition, as 1.7e308 + 1 - 1.7e308: Python adds in its directory's order, the module in its own).
   */
  unsummedAmounts: readonly number[];
  unsummedValues: readonly number[];
  observations: readonly number[];
  /** No more processes than this run at once. */
  maxProcesses: number;
}

/** Values that are exact in binary, so any order of addition gives the same double on both sides. */
const PLAIN: Pools = {
  labels: ['a', 'b', 'x"y\\z\n', 'ü'],
  amounts: [0.25, 0.5, 1, 2, 3, 16],
  gaugeValues: [-2, -0.5, 0, 0.25, 1, 3, 7.5, 100, Infinity, -Infinity, 1e300, 1e-300],
  unsummedAmounts: [],
  unsummedValues: [],
  observations: [0.125, 0.25, 0.5, 1, 2.5, 4, 8],
  maxProcesses: 4,
};

/**
 * The edges: label values that need escaping or are not ASCII (a control character, NUL, a line or
 * paragraph separator, a combining mark, a byte-order mark, the empty string, text that looks like
 * the format), NaN, -0, subnormal and the largest doubles, negative observations, increments by 0,
 * and more processes. Left out where the two sides may differ by design rather than by mistake:
 * non-finite observations (prom-client refuses them; Python's go into `_sum` and no bucket); NaN
 * in the max and min modes (Python's answer depends on which process's file it reads first: NaN
 * read first wins, read later is skipped; the module's is NaN); counts past 1.8e308 (docs/decisions.md,
 * "Counts stay finite"); and sums whose double depends on the order of addition (see
 * {@link Pools.unsummedValues}).
 */
const EDGES: Pools = {
  labels: [
    ...PLAIN.labels,
    '',
    ' ',
    '\\',
    '\\n',
    '\\"',
    '"',
    'a\tb',
    'new\nline',
    '\r',
    '\u0000',
    '\u007f',
    '\u2028',
    '\ufeff',
    'e\u0301',
    '😀',
    '{}',
    'a=b,c',
    'k="v"',
  ],
  amounts: [0, ...PLAIN.amounts],
  gaugeValues: [...PLAIN.gaugeValues, NaN, -0],
  unsummedAmounts: [1e308],
  unsummedValues: [5e-324, -1e-320, 2 ** 53 + 2, Number.MAX_VALUE, -Number.MAX_VALUE],
  observations: [...PLAIN.observations, -2.5, -1, -0, 0, 1e300],
  maxProcesses: 7,
};

type Op =
  | { op: 'start'; pid: number }
  | { op: 'flush'; pid: number }
  | { op: 'end'; pid: number; how: 'graceful' | 'crash' | 'marked' | 'stale' }
  | { op: 'inc'; pid: number; name: string; label?: string; value: number }
  | {
      op: 'gauge';
      pid: number;
      name: string;
      mode: GaugeMode;
      action: 'set' | 'inc' | 'dec';
      label?: string;
      value: number;
    }
  | { op: 'observe'; pid: number; name: string; label?: string; value: number };

/** The operations of one seed: three processes at first, some ending and new ones starting. */
function operations(seed: number, count: number, pools: Pools): Op[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const label = () => (random() < 0.5 ? pick(pools.labels) : undefined);
  /** What a gauge of `mode` may be set to, or changed by; see {@link EDGES} for what is left out. */
  const adds = (mode: GaugeMode) => mode === 'sum' || mode === 'livesum';
  const gaugeValue = (mode: GaugeMode): number => {
    const values = adds(mode) ? pools.gaugeValues : [...pools.gaugeValues, ...pools.unsummedValues];
    for (;;) {
      const value = pick(values);
      if (!(Number.isNaN(value) && /max|min/.test(mode))) return value;
    }
  };
  const gaugeAmount = (mode: GaugeMode): number =>
    pick(adds(mode) ? pools.amounts : [...pools.amounts, ...pools.unsummedAmounts]);
  let nextPid = 101;
  const live: number[] = [];
  const ops: Op[] = [];
  /**
   * Ended ones: a new process may take such a pid, as a restarted container takes its pid. Not a
   * killed one's: Python's new process would start from the values left in the killed one's files,
   * which the module's does not.
   */
  const ended: number[] = [];
  const start = () => {
    if (ended.length > 0 && random() < 0.4) {
      const pid = ended.splice(Math.floor(random() * ended.length), 1)[0];
      live.push(pid);
      ops.push({ op: 'start', pid });
      return;
    }
    live.push(nextPid);
    ops.push({ op: 'start', pid: nextPid });
    nextPid += 1;
  };
  for (let i = 0; i < 3; i += 1) start();
  while (ops.length < count) {
    const pid = pick(live);
    const roll = random();
    if (roll < 0.15) {
      const k = label();
      ops.push({
        op: 'inc',
        pid,
        name: k !== undefined ? 'c_lab_total' : 'c_plain_total',
        label: k,
        value: pick(pools.amounts),
      });
    } else if (roll < 0.6) {
      const mode = pick(GAUGE_MODES);
      const k = label();
      const action = pick(['set', 'inc', 'dec'] as const);
      ops.push({
        op: 'gauge',
        pid,
        name: `${k !== undefined ? 'gl' : 'g'}_${mode}`,
        mode,
        action,
        label: k,
        value: action === 'set' ? gaugeValue(mode) : gaugeAmount(mode),
      });
    } else if (roll < 0.82) {
      const k = label();
      const type = random() < 0.55 ? 'h' : 's';
      ops.push({
        op: 'observe',
        pid,
        name: `${type}_${k !== undefined ? 'lab' : 'plain'}`,
        label: k,
        value: pick(pools.observations),
      });
    } else if (roll < 0.92) {
      ops.push({ op: 'flush', pid });
    } else if (roll < 0.96) {
      if (live.length > 1) {
        live.splice(live.indexOf(pid), 1);
        const how = pick(['graceful', 'crash', 'marked', 'stale'] as const);
        if (how === 'graceful' || how === 'marked') ended.push(pid);
        ops.push({ op: 'end', pid, how });
      }
    } else if (live.length < pools.maxProcesses) {
      start();
    }
  }
  return ops;
}

/** The line between Python's two expositions: merged with accumulate=True, then with False. */
const RAW_MARK = '# accumulate=False';

/**
 * Python's merged samples of the same operations: as its collector serves them (accumulate=True) and
 * as MultiProcessCollector.merge(files, accumulate=False) gives them.
 */
function pythonScrape(ops: Op[]): { served: Sample[]; raw: Sample[] } {
  const dir = mkdtempSync(join(tmpdir(), 'python-parity-'));
  try {
    const result = spawnSync(PYTHON, [DRIVER], {
      // JSON has no Infinity or NaN and writes -0 as 0: such values go as text, which Python's float()
      // reads.
      input: JSON.stringify({ dir, modes: GAUGE_MODES, ops }, (_key, value: unknown) =>
        typeof value !== 'number'
          ? value
          : Object.is(value, -0)
            ? '-0'
            : Number.isFinite(value)
              ? value
              : String(value),
      ),
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PROMETHEUS_MULTIPROC_DIR: dir },
    });
    if (result.status !== 0) {
      throw new Error(
        `${PYTHON} ${DRIVER} failed (${result.error?.message ?? `status ${result.status}`}): ${result.stderr}` +
          ' (scripts/test-tools.sh installs python3-prometheus-client)',
      );
    }
    const [served, raw] = result.stdout.split(`${RAW_MARK}\n`);
    return { served: parseExposition(served), raw: parseExposition(raw) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One simulated process of the module: its own registry, identity and flusher, then its metrics. */
function startProcess(client: Redis, prefix: string, pid: number) {
  const registry = new Registry();
  const identity = ProcessIdentity.create({ hostname: HOSTNAME, pid });
  const flusher: MetricsFlusher = testFlusher(client, prefix, registry, {
    identity,
    gaugeModeOf: (name) => name.slice(name.indexOf('_') + 1) as GaugeMode,
  });
  const registers = [registry];
  const labelNames = ['k'];
  const counters = {
    c_plain_total: new Counter({ name: 'c_plain_total', help: 'Plain counter', registers }),
    c_lab_total: new Counter({
      name: 'c_lab_total',
      help: 'Labelled counter',
      labelNames,
      registers,
    }),
  };
  const gauges: Record<string, Gauge> = {};
  for (const mode of GAUGE_MODES) {
    gauges[`g_${mode}`] = new Gauge({ name: `g_${mode}`, help: `Plain gauge ${mode}`, registers });
    gauges[`gl_${mode}`] = new Gauge({
      name: `gl_${mode}`,
      help: `Labelled gauge ${mode}`,
      labelNames,
      registers,
    });
  }
  const observed = {
    h_plain: new Histogram({
      name: 'h_plain',
      help: 'Plain histogram',
      buckets: BUCKETS,
      registers,
    }),
    h_lab: new Histogram({
      name: 'h_lab',
      help: 'Labelled histogram',
      buckets: BUCKETS,
      labelNames,
      registers,
    }),
    s_plain: new Summary({ name: 's_plain', help: 'Plain summary', registers }),
    s_lab: new Summary({ name: 's_lab', help: 'Labelled summary', labelNames, registers }),
  };
  return { identity, flusher, counters, gauges, observed };
}

/**
 * The values Number() does not read. prom-client writes NaN as `Nan`, which Prometheus reads as NaN too
 * (docs/decisions.md, "The text format written here"); Python writes `NaN`.
 */
const VALUES: Record<string, number> = { '+Inf': Infinity, '-Inf': -Infinity, NaN: NaN, Nan: NaN };

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (format 0.0.4), label values unescaped. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // A label value may hold a carriage return or a line separator, which `.` matches only with /s.
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ([^ ]+)$/s.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText = '', valueText] = match;
    const labels: Record<string, string> = {};
    for (const [, key, escaped] of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = escaped.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = VALUES[valueText] ?? Number(valueText);
    if (Number.isNaN(value) && !(valueText in VALUES)) throw new Error(`not a value: ${line}`);
    out.push({ name, labels, value });
  }
  return out;
}

/**
 * Samples as `name{"label":"value",...}` (labels sorted) -> value, with only the module's documented,
 * intended differences from Python taken out.
 */
function normalised(samples: Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { name, labels, value } of samples) {
    // Quantiles are merged here, dropped by Python (docs/decisions.md, "Summary quantiles across
    // processes"); a summary's _sum and _count are compared.
    if ('quantile' in labels) continue;
    const kept = Object.entries(labels)
      // The `hostname` label of per-process gauges (docs/decisions.md, "`pid` and `hostname` labels
      // for per-process gauges"); every process here has the same host name.
      .filter(([key]) => key !== 'hostname')
      // Python writes a bound as 1.0, prom-client as 1: the same bound.
      .map(([key, v]) => [key, key === 'le' && v !== '+Inf' ? String(Number(v)) : v])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = `${name}${JSON.stringify(Object.fromEntries(kept))}`;
    if (key in out) throw new Error(`sample ${key} appears twice`);
    // Python writes -0.0, prom-client's format (and the module's, docs/decisions.md, "The text format
    // written here") 0.
    out[key] = Object.is(value, -0) ? 0 : value;
  }
  return out;
}

/**
 * Lets the clock move on before a call of a timed (`mostrecent`) gauge made by another process than
 * the last such call, by more than two flushers can place a call differently on Redis's clock (half a
 * write's round trip each): the order of the calls is the order of the sequence, as in Python.
 */
const apart = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('the merge against Python prometheus_client multiprocess mode', () => {
  const redis = useTestRedis();

  /** The module's merged samples: its scrape, and mergeFromRedis with accumulate false. */
  async function moduleScrape(
    label: string,
    ops: Op[],
  ): Promise<{ served: Sample[]; raw: Sample[] }> {
    const prefix = redis.prefix(label);
    const keys = new PrefixKeys(prefix);
    const processes = new Map<number, ReturnType<typeof startProcess>>();
    const running = new Set<number>();
    const primary = new RedisStorageManager({
      client: redis.client,
      keyPrefix: prefix,
      registry: new Registry(),
      defaultMetrics: false,
      identity: { hostname: HOSTNAME, pid: 1 },
    });
    let lastTimedPid: number | undefined;
    for (const op of ops) {
      if (op.op === 'start') {
        processes.set(op.pid, startProcess(redis.client, prefix, op.pid));
        running.add(op.pid);
        continue;
      }
      const p = processes.get(op.pid)!;
      const labels = 'label' in op && op.label !== undefined ? { k: op.label } : {};
      switch (op.op) {
        case 'flush':
          expect((await p.flusher.flush()).ok).toBe(true);
          break;
        case 'inc':
          p.counters[op.name as keyof typeof p.counters].inc(labels, op.value);
          break;
        case 'gauge': {
          if (TIMED.includes(op.mode)) {
            if (lastTimedPid !== undefined && lastTimedPid !== op.pid) await apart();
            lastTimedPid = op.pid;
          }
          p.gauges[op.name][op.action](labels, op.value);
          break;
        }
        case 'observe':
          p.observed[op.name as keyof typeof p.observed].observe(labels, op.value);
          break;
        case 'end':
          running.delete(op.pid);
          if (op.how === 'graceful') {
            // The module's graceful end (Python: mark_process_dead from the primary).
            expect((await p.flusher.stop()).ok).toBe(true);
            await p.flusher.end();
          } else {
            // Killed after its last flush. 'crash': not marked dead, so live in both. 'marked': ended
            // by the primary, as Python's child_exit hook calls mark_process_dead. 'stale': its
            // heartbeat is past the liveness window and it is not reaped yet, so it leaves the live*
            // modes only, as mark_process_dead removes only the live* files (and nothing reaps here).
            expect((await p.flusher.flush()).ok).toBe(true);
            p.flusher.abandon();
            if (op.how === 'marked') {
              expect(
                await primary.markProcessDead({ pid: op.pid, hostname: HOSTNAME }),
              ).toHaveLength(1);
            } else if (op.how === 'stale') {
              expect(await redis.client.zadd(keys.processes, 'XX', 'CH', 1000, p.identity.id)).toBe(
                1,
              );
            }
          }
          break;
      }
    }
    for (const pid of running) expect((await processes.get(pid)!.flusher.stop()).ok).toBe(true);
    const collector = new RedisMultiProcessCollector({
      store: new RedisMetricsStore(redis.client, prefix),
      livenessWindowMs: 60_000,
    });
    const served = parseExposition(await collector.metrics());
    const families = await RedisMultiProcessCollector.mergeFromRedis(
      redis.client,
      prefix,
      false,
      60_000,
    );
    for (const pid of running) await processes.get(pid)!.flusher.end();
    await primary.teardown();
    return { served, raw: families.flatMap((family) => family.samples) };
  }

  it.each([1, 2, 3, 4])('seed %d: the same merged samples', async (seed) => {
    const ops = operations(seed, 200, PLAIN);
    const ours = await moduleScrape(`python-${seed}`, ops);
    const python = pythonScrape(ops);
    expect(normalised(ours.served)).toEqual(normalised(python.served));
    expect(normalised(ours.raw)).toEqual(normalised(python.raw));
  });

  it.each([11, 12, 13, 14])('seed %d, at the edges: the same merged samples', async (seed) => {
    const ops = operations(seed, 300, EDGES);
    const ours = await moduleScrape(`python-edges-${seed}`, ops);
    const python = pythonScrape(ops);
    expect(normalised(ours.served)).toEqual(normalised(python.served));
    expect(normalised(ours.raw)).toEqual(normalised(python.raw));
  });
});
