import { seriesField } from './keys.js';
import { applyDefaultLabels, stringLabels } from './registry-snapshot.js';

/** Label names that need no JSON escaping and are never integer-like (prom-client's own rule). */
const PLAIN_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A string's JSON text without its quotes, exactly as JSON.stringify writes it: most label values are
 * their own text. A quote, a backslash, a control character or any surrogate (paired or not) is left
 * to JSON.stringify.
 */
function jsonStringBody(text: string): string {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 32 || code === 34 || code === 92 || (code >= 0xd800 && code <= 0xdfff)) {
      return JSON.stringify(text).slice(1, -1);
    }
  }
  return text;
}

/**
 * Builds the series fields of one metric: the same text as {@link seriesField} of the labels that
 * `registry.getMetricsAsJSON()` shows (default labels merged in, undefined values left out, values as
 * strings), without a sorted copy of the labels to serialise. The label names are sorted and the JSON
 * around the values written once per metric; a series then costs its values, joined into one flat
 * string (a string grown by `+=` is a rope, copied again when a map hashes it), making no string of
 * its own for a value that needs no escaping.
 *
 * Labels with a name outside the metric's label names and the default labels (a labels object that
 * gained a key after prom-client took it), or names an object inherits, take the reference path.
 */
export class SeriesFieldBuilder {
  /** The metric's label names and the default label names, sorted as `seriesField` sorts them. */
  private readonly names: string[];
  /** `"name":"` of each, after `{` for the first value written and after `",` for the others. */
  private readonly firstKeys: string[];
  private readonly nextKeys: string[];
  private readonly head: string;
  /** The parts of the field being built (one array for every series: less garbage). */
  private readonly parts: string[] = [];
  private readonly isDefault: boolean[];
  private readonly known: Set<string>;
  /** Whether every name can take the fast path at all. */
  private readonly fast: boolean;

  constructor(
    readonly metricName: string,
    labelNames: readonly string[],
    private readonly defaults: Readonly<Record<string, unknown>>,
    /** A label the field leaves out (a histogram's `le`). */
    private readonly without?: string,
  ) {
    const defaultNames = Object.keys(defaults);
    this.known = new Set([...labelNames, ...defaultNames]);
    if (without !== undefined) this.known.delete(without);
    this.names = [...this.known].sort();
    this.isDefault = this.names.map((name) => Object.hasOwn(defaults, name));
    this.firstKeys = this.names.map((name) => `${JSON.stringify(name)}:"`);
    this.nextKeys = this.firstKeys.map((key) => `",${key}`);
    this.head = `[${JSON.stringify(metricName)},{`;
    this.fast = this.names.every(
      (name) => PLAIN_LABEL_NAME.test(name) && !(name in Object.prototype),
    );
  }

  /**
   * The field of a series whose labels object is `labels` (a plain object of its own, as the reader
   * keeps them). `undefined` when it holds the label this builder leaves out: the caller then reads
   * the metric the reference way.
   */
  field(labels: Readonly<Record<string, unknown>>): string | undefined {
    if (!this.fast || !this.holdsOnlyKnownNames(labels)) return this.referenceField(labels);
    const { names, isDefault, defaults, parts } = this;
    parts.length = 0;
    parts.push(this.head);
    for (let i = 0; i < names.length; i += 1) {
      const name = names[i];
      // As getMetricsAsJSON merges them: a falsy value of the series gives way to the default.
      const value = isDefault[i] ? labels[name] || defaults[name] : labels[name];
      if (value === undefined) continue;
      parts.push(
        parts.length === 1 ? this.firstKeys[i] : this.nextKeys[i],
        jsonStringBody(typeof value === 'string' ? value : String(value)),
      );
    }
    parts.push(parts.length === 1 ? '}]' : '"}]');
    return parts.join('');
  }

  private holdsOnlyKnownNames(labels: Readonly<Record<string, unknown>>): boolean {
    for (const name in labels) if (!this.known.has(name)) return false;
    return true;
  }

  /** The reference path, as `snapshotRegistry` builds a field. */
  private referenceField(labels: Readonly<Record<string, unknown>>): string | undefined {
    const merged = stringLabels(applyDefaultLabels(labels, this.defaults));
    if (this.without !== undefined) {
      if (Object.hasOwn(labels, this.without)) return undefined;
      delete merged[this.without];
    }
    return seriesField(this.metricName, merged);
  }
}
