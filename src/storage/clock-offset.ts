import { performance } from 'node:perf_hooks';

/** How many recent replies the estimate is chosen from. */
const SAMPLES = 8;
/**
 * How much less an older reply is trusted, ms per ms of age: clocks drift by far less (a few ppm), but
 * the store's clock may jump (a failover to another host), and then recent replies must win soon.
 */
const AGING = 0.001;

interface Sample {
  /** Store time minus local time at the middle of the call. */
  offset: number;
  /** Half the round trip: how far off the middle of the call may be from the store's reading. */
  uncertainty: number;
  /** Local time of the reply. */
  at: number;
}

/**
 * The offset from this process's monotonic clock (`performance.now()`, ms) to the store's clock (Redis
 * server time, ms), so that the time of a local call can be written on the one clock every host
 * shares. Each write reply carries the store's time; the store read it somewhere between sending and
 * receiving, so local time at the middle of the call plus the offset is the store's time within half
 * the round trip. Of the last few replies, the one with the shortest round trip (aged by how old it is)
 * gives the estimate.
 */
export class ClockOffset {
  private readonly samples: Sample[] = [];

  /** Records a reply: local times before sending and after receiving, and the store's time in it. */
  observe(sentAt: number, receivedAt: number, storeNow: number): void {
    if (!Number.isFinite(storeNow) || receivedAt < sentAt) return;
    const middle = (sentAt + receivedAt) / 2;
    this.samples.push({
      offset: storeNow - middle,
      uncertainty: (receivedAt - sentAt) / 2,
      at: receivedAt,
    });
    if (this.samples.length > SAMPLES) this.samples.shift();
  }

  /** Whether a reply was recorded yet. */
  get known(): boolean {
    return this.samples.length > 0;
  }

  /** The store's time of a local time; `undefined` before the first reply. */
  toStore(localTime: number): number | undefined {
    const best = this.best();
    return best === undefined ? undefined : localTime + best.offset;
  }

  private best(): Sample | undefined {
    const latest = this.samples[this.samples.length - 1]?.at ?? 0;
    let best: Sample | undefined;
    let bestScore = Infinity;
    for (const sample of this.samples) {
      const score = sample.uncertainty + (latest - sample.at) * AGING;
      if (score <= bestScore) {
        best = sample;
        bestScore = score;
      }
    }
    return best;
  }
}

/** This process's two clocks, read at one moment (ms). */
export interface ClockReading {
  /** `Date.now()`. */
  wall: number;
  /** `performance.now()`. */
  local: number;
}

/** Both clocks of this process, now. */
export const readClocks = (): ClockReading => ({ wall: Date.now(), local: performance.now() });

/**
 * A time of this process's wall clock (`Date.now()`, ms) on its monotonic clock (`performance.now()`),
 * which the store's clock is measured against (see {@link ClockOffset}).
 */
export function monotonicTimeOf(wallTime: number, now: ClockReading = readClocks()): number {
  return now.local + (wallTime - now.wall);
}
