/**
 * One counter-like series (a counter's, histogram's or summary's) of this process: the packed value
 * the registry shows and the one the store acknowledged, side by side.
 */
export interface CounterSeries {
  readonly field: string;
  /** The packed value the registry shows; `undefined` once it no longer shows the field. */
  shown: string | undefined;
  /** The packed value the store holds as this process's previous value; `undefined`: none. */
  acked: string | undefined;
  /** Whether it is in the ledger's list of changed series. */
  listed: boolean;
  /**
   * Values to write before its field's delete or its next `shown`, oldest first, until the store
   * acknowledges them: the last value of a series that was removed (see {@link CounterLedger.end}).
   */
  ends: string[] | undefined;
  /**
   * Whether the prom-client series of the record counts on without a restart while its field comes
   * and goes: it moved to another field (the default labels or the metric's name changed), or came
   * back. Then the store's delete of its previous value here does not take what it counted here out of
   * the totals, and is remembered (see {@link CounterLedger.showAgain}).
   */
  countsOn: boolean;
  /**
   * A series that moved away: what the store acknowledged last under this field when it deleted it,
   * which the totals still hold of this process, as of the ledger's `generation` then.
   */
  left: { packed: string; generation: number } | undefined;
}

/** How many fields a series that moved away remembers it left (see {@link CounterLedger.leave}). */
const MAX_FORMER_FIELDS = 4;

/**
 * The last generation given to a ledger (see `CounterLedger.generation`): unique in the process, so a
 * ledger that goes on from an earlier one's (see {@link CounterLedger.inherit}) tells its values apart.
 */
let lastGeneration = 0;

/**
 * What a ledger hands over to the next flusher of its registry (see `registry-handover.ts`): the
 * records of the fields its series left, by prom-client entry, as of its `generation` then.
 */
export interface LeftBehind {
  readonly records: WeakMap<object, CounterSeries[]>;
  /** The metrics (prom-client's objects) some series of which left a field. */
  readonly metrics: WeakSet<object>;
  readonly generation: number;
}

/**
 * The counter-like series of this process, as the registry shows them and as the store acknowledged
 * them, with the list of series that changed since the last flush that fully succeeded.
 *
 * One record per series rather than two maps keyed by field (what is shown, what was acknowledged)
 * and a set of touched fields: a table keeps the record of each of its series, so a changed series
 * is updated and listed without hashing its field, and a flush compares the two values on the record.
 * A counting write is acknowledged through the records it sent ({@link acknowledgeSeries}), so a
 * changed series costs no lookup by field, where it cost five; a first flush fills one map where it
 * filled two (docs/decisions.md).
 *
 * Read as a map (`get`, `has`, `size`, iteration), it is the field -> packed value of what the registry
 * shows, as `registry.getMetricsAsJSON()` would give it.
 */
export class CounterLedger implements Iterable<[string, string]> {
  private readonly byField = new Map<string, CounterSeries>();
  private shownCount = 0;
  private changedList: CounterSeries[] = [];
  /**
   * Counts up each time the store's state is forgotten: a value a series left behind under a field
   * before that may no longer be in the totals.
   */
  private generation = (lastGeneration += 1);
  /** Field -> packed value the store must hold as this process's previous value before it counts on. */
  private returned = new Map<string, string>();
  /**
   * Counter-like series that moved to another field and count on: prom-client's entry -> the records
   * of the fields it left, so that one coming back is not counted from zero. Held by entry, so a
   * series removed and made anew (a new entry, from zero) finds none, and a removed entry's records
   * go with it. After a handover, that of the earlier ledger of the registry (see {@link inherit}).
   */
  private formerRecords = new WeakMap<object, CounterSeries[]>();
  /**
   * The metrics some series of which moved away: only their new series are looked up in
   * `formerRecords`, so a first read of 100,000 series of other metrics looks up none.
   */
  private movedMetrics = new WeakSet<object>();
  /** Whether any series moved away (here or under a ledger this one went on from). */
  private moved = false;

  /** How many fields the registry shows. */
  get size(): number {
    return this.shownCount;
  }

  /** The packed value the registry shows under `field`, if it shows it. */
  get(field: string): string | undefined {
    return this.byField.get(field)?.shown;
  }

  has(field: string): boolean {
    return this.get(field) !== undefined;
  }

  *entries(): IterableIterator<[string, string]> {
    for (const series of this.byField.values()) {
      if (series.shown !== undefined) yield [series.field, series.shown];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [field] of this.entries()) yield field;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /**
   * Shows `packed` under `field` and returns its record. Showing a field that is shown already
   * replaces its value and leaves {@link size} as it was: how a table sees two of its series on one field.
   */
  show(field: string, packed: string): CounterSeries {
    let series = this.byField.get(field);
    if (series === undefined) {
      series = newSeries(field, undefined);
      this.byField.set(field, series);
    }
    if (series.shown === undefined) this.shownCount += 1;
    series.countsOn = false;
    this.update(series, packed);
    return series;
  }

  /**
   * Series `entry` (prom-client's object) of `metric` shows under another field from now on, counting
   * on from the same value (the default labels or the metric's name changed): its record under the
   * field it leaves, `record`, is hidden, remembered for its return, and its delete remembered too (see
   * {@link CounterSeries.countsOn}).
   */
  leave(metric: object, entry: object, record: CounterSeries): void {
    if (record.shown === undefined) return;
    this.hide(record);
    record.countsOn = true;
    this.moved = true;
    this.movedMetrics.add(metric);
    const formers = this.formerRecords.get(entry);
    // A few at most: one per set of default labels (or name) the series showed under.
    if (formers === undefined) this.formerRecords.set(entry, [record]);
    else if (formers.push(record) > MAX_FORMER_FIELDS) formers.shift();
  }

  /**
   * Shows `packed` of series `entry` under `field` and returns its record: counting on from what the
   * totals hold of it there when it showed the field before (see {@link showAgain}), here or under the
   * earlier flusher of the registry. `mayComeBack`: its metric's series moved away before (see
   * {@link mayComeBack}, asked once per read of the metric); otherwise nothing is looked up.
   */
  showEntry(entry: object, field: string, packed: string, mayComeBack: boolean): CounterSeries {
    const former = mayComeBack ? takeFormer(this.formerRecords, entry, field) : undefined;
    return former === undefined ? this.show(field, packed) : this.showAgain(former, packed);
  }

  /** Whether series of `metric` moved away (here or under an earlier ledger this one went on from). */
  mayComeBack(metric: object): boolean {
    return this.moved && this.movedMetrics.has(metric);
  }

  /**
   * What this ledger hands over to the next flusher of its registry, if any series moved away here or
   * under an earlier ledger it went on from (one map for all of them, which holds each entry's last
   * few fields).
   */
  leftBehind(): LeftBehind | undefined {
    if (!this.moved) return undefined;
    return { records: this.formerRecords, metrics: this.movedMetrics, generation: this.generation };
  }

  /**
   * Goes on from what the earlier flusher of the registry left behind, when the totals hold what it
   * acknowledged. Before any write of this ledger is acknowledged, so before any value is left here:
   * the ledger takes its records and its generation, so that a value left then stays good until the
   * store's state is forgotten here, and goes on to the next flusher with those left here.
   */
  inherit(from: LeftBehind | undefined): void {
    if (from === undefined) return;
    this.formerRecords = from.records;
    this.movedMetrics = from.metrics;
    this.generation = from.generation;
    this.moved = true;
  }

  /**
   * Shows `packed` under the field of `former`, a record of the same prom-client series from before it
   * moved away (see {@link leave}). When the store deleted the series' previous value there
   * meanwhile, the totals still hold what it counted under the field: that value is to be loaded as
   * its previous value first ({@link takeReturned}), so that only what it counted since is added.
   * Counted from zero instead, the totals would hold it twice.
   */
  private showAgain(former: CounterSeries, packed: string): CounterSeries {
    if (this.byField.get(former.field) === former) {
      // Its delete may be on its way still: if the store applied it, the value is loaded then.
      this.show(former.field, packed);
      former.countsOn = true;
      return former;
    }
    const series = this.show(former.field, packed);
    const { left } = former;
    if (left !== undefined && left.generation === this.generation && series.acked === undefined) {
      this.returned.set(series.field, left.packed);
    }
    return series;
  }

  /**
   * The previous values the store must hold before this process counts on (field -> packed value),
   * since the last call: series back on a field whose previous value the store deleted.
   */
  takeReturned(): Map<string, string> {
    const returned = this.returned;
    if (returned.size > 0) this.returned = new Map();
    return returned;
  }

  /** A new value of a series that is shown. */
  update(series: CounterSeries, packed: string): void {
    series.shown = packed;
    this.list(series);
  }

  /**
   * The series was removed from prom-client at `last`, which may be more than the store acknowledged
   * (it counted since the last flush, or during an outage): `last` is written before the field is
   * deleted, so that the totals keep all it counted. A repair keeps those the totals lack.
   */
  end(series: CounterSeries, last: string): void {
    (series.ends ??= []).push(last);
    this.list(series);
  }

  /**
   * The registry no longer shows the series. A value it showed that the store has not acknowledged (a
   * failed flush carried it) is still written before its delete, unless it left with a later one or
   * `keepShown` is false (the value shown was not the series', as when two series showed one field).
   */
  hide(series: CounterSeries, keepShown = true): void {
    if (series.shown === undefined) return;
    if (keepShown && series.shown !== series.acked && series.ends === undefined) {
      series.ends = [series.shown];
    }
    series.shown = undefined;
    series.countsOn = false;
    this.shownCount -= 1;
    this.list(series);
  }

  hideField(field: string): void {
    const series = this.byField.get(field);
    if (series !== undefined) this.hide(series);
  }

  /** The series that may differ from what the store acknowledged, since the last {@link settle}. */
  get changed(): readonly CounterSeries[] {
    return this.changedList;
  }

  /** Every series: shown, or hidden while the store may still hold it. */
  series(): IterableIterator<CounterSeries> {
    return this.byField.values();
  }

  /**
   * The store acknowledged `packed` as the previous value of a series in the ledger, sent as its
   * shown value: no lookup by field.
   */
  acknowledgeSeries(series: CounterSeries, packed: string): void {
    series.acked = packed;
    // Acknowledged in the order sent: an end's value comes first.
    if (series.ends?.[0] === packed) {
      series.ends.shift();
      if (series.ends.length === 0) series.ends = undefined;
    }
  }

  /** The store acknowledged `packed` as the series' previous value (`undefined`: it deleted it). */
  acknowledge(field: string, packed: string | undefined): void {
    const series = this.byField.get(field);
    if (packed === undefined) {
      if (series === undefined) return;
      if (series.countsOn && series.acked !== undefined) {
        // The totals keep what the series counted here: remembered for its return, or, when it came
        // back before the delete was known to be applied, loaded before it counts on.
        if (series.shown === undefined) {
          series.left = { packed: series.acked, generation: this.generation };
        } else {
          this.returned.set(field, series.acked);
        }
      }
      series.acked = undefined;
      if (series.shown === undefined && series.ends === undefined) this.byField.delete(field);
    } else if (series === undefined) {
      // The store holds a field the registry does not show (a repair's base): its delete is due.
      this.byField.set(field, newSeries(field, packed));
    } else {
      series.acked = packed;
    }
  }

  /**
   * The store forgot this process: nothing is acknowledged any more. The last values of removed series
   * not acknowledged yet stay, to be written over what the totals hold (see {@link keepEndsAfter}).
   * `totalsKept`: the totals still hold every write the store acknowledged (a repair found them so),
   * and so what series counted under the fields they left: those values stay good for a return.
   */
  forgetAcknowledged(totalsKept = false): void {
    if (!totalsKept) {
      this.generation = lastGeneration += 1;
      this.returned = new Map();
    }
    for (const series of this.byField.values()) {
      series.acked = undefined;
      if (series.shown === undefined && series.ends === undefined) {
        // A series that moved away stays until a flush settles: a repair's base that holds what it
        // counted here is loaded onto this record, so that the delete that follows is remembered.
        if (series.countsOn) this.list(series);
        else this.byField.delete(series.field);
      }
    }
  }

  /**
   * A repair starts over from `base`, what the totals hold of this process. A removed series' last
   * values up to the one the totals hold are in them (a write that carried them was applied); the
   * others are not, and are still to be written. A field the totals hold nothing of holds none of them:
   * a field's delete is sent only once its last values were acknowledged.
   */
  keepEndsAfter(base: ReadonlyMap<string, string>): void {
    for (const series of this.byField.values()) {
      if (series.ends === undefined) continue;
      const held = base.get(series.field);
      const at = held === undefined ? -1 : series.ends.lastIndexOf(held);
      if (at >= 0)
        series.ends = at + 1 < series.ends.length ? series.ends.slice(at + 1) : undefined;
      this.list(series);
    }
  }

  /** Field -> packed value of every series the store acknowledged (what repairs reason about). */
  acknowledged(): Map<string, string> {
    const values = new Map<string, string>();
    for (const series of this.byField.values()) {
      if (series.acked !== undefined) values.set(series.field, series.acked);
    }
    return values;
  }

  /**
   * After a flush that fully succeeded: every series equals what the store acknowledged, so the list
   * starts empty, and hidden series the store holds nothing of are let go.
   */
  settle(): void {
    for (const series of this.changedList) {
      series.listed = false;
      if (
        series.shown === undefined &&
        series.acked === undefined &&
        this.byField.get(series.field) === series
      ) {
        this.byField.delete(series.field);
      }
    }
    this.changedList = [];
  }

  private list(series: CounterSeries): void {
    if (series.listed) return;
    series.listed = true;
    this.changedList.push(series);
  }
}

function newSeries(field: string, acked: string | undefined): CounterSeries {
  return {
    field,
    shown: undefined,
    acked,
    listed: false,
    ends: undefined,
    countsOn: false,
    left: undefined,
  };
}

/** Takes the record of `field` out of those `entry` left, if any. */
function takeFormer(
  records: WeakMap<object, CounterSeries[]>,
  entry: object,
  field: string,
): CounterSeries | undefined {
  const formers = records.get(entry);
  const at = formers?.findIndex((record) => record.field === field) ?? -1;
  return at < 0 ? undefined : formers!.splice(at, 1)[0];
}
