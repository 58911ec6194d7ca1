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
  /** prom-client's entry object of the series shown last (see {@link CounterLedger.show}). */
  entry: object | undefined;
  /**
   * The series started again from zero since the store acknowledged its previous value: the store
   * must forget that value before it takes the new one.
   */
  restarted: boolean;
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
   *
   * `entry` is prom-client's object of the series. A field hidden and shown again before the store
   * heard that it went, by another object, is a series prom-client made anew (`reset()`, `remove()`
   * and the same labels again): it restarted from zero, whatever its value. By the same object (the
   * default labels changed and changed back, the metric registered again), it went on counting. Without
   * an object on either side (a metric read through `get()`, a record a repair made), nothing is known:
   * only a value that went down tells a restart, in the store.
   */
  show(field: string, packed: string, entry?: object): CounterSeries {
    let series = this.byField.get(field);
    if (series === undefined) {
      series = this.record(field, undefined);
      this.byField.set(field, series);
    }
    if (series.shown === undefined) {
      this.shownCount += 1;
      const replaced = series.entry !== undefined && entry !== undefined && series.entry !== entry;
      if (series.acked !== undefined && replaced) series.restarted = true;
    }
    series.entry = entry;
    this.update(series, packed);
    return series;
  }

  /**
   * prom-client replaced the object of a shown series (`zero()` makes a new one): as in {@link show},
   * another object restarted from zero.
   */
  replaceEntry(series: CounterSeries, entry: object): void {
    if (series.acked !== undefined && series.entry !== undefined && series.entry !== entry) {
      series.restarted = true;
      this.list(series);
    }
    series.entry = entry;
  }

  /** A new value of a series that is shown. */
  update(series: CounterSeries, packed: string): void {
    series.shown = packed;
    this.list(series);
  }

  /** The registry no longer shows the series. */
  hide(series: CounterSeries): void {
    if (series.shown === undefined) return;
    series.shown = undefined;
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
    series.restarted = false;
  }

  /** The store acknowledged `packed` as the series' previous value (`undefined`: it deleted it). */
  acknowledge(field: string, packed: string | undefined): void {
    const series = this.byField.get(field);
    if (packed === undefined) {
      if (series === undefined) return;
      series.acked = undefined;
      series.restarted = false;
      if (series.shown === undefined) this.byField.delete(field);
    } else if (series === undefined) {
      // The store holds a field the registry does not show (a repair's base): its delete is due.
      this.byField.set(field, this.record(field, packed));
    } else {
      series.acked = packed;
      series.restarted = false;
    }
  }

  /** The store forgot this process: nothing is acknowledged any more. */
  forgetAcknowledged(): void {
    for (const series of this.byField.values()) {
      series.acked = undefined;
      series.restarted = false;
      if (series.shown === undefined) this.byField.delete(series.field);
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

  private record(field: string, acked: string | undefined): CounterSeries {
    return { field, shown: undefined, acked, listed: false, entry: undefined, restarted: false };
  }

  private list(series: CounterSeries): void {
    if (series.listed) return;
    series.listed = true;
    this.changedList.push(series);
  }
}
