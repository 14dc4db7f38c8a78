/**
 * Counters and gauges shared by every layer, rendered in the Prometheus text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Protocol cores count bad input and
 * drops here; the admin listener serves `GET /metrics` from a {@link MetricsRegistry}.
 */

type Labels = Readonly<Record<string, string>>;

/** Series keys of label sets seen before, by object identity (callers on hot paths pass constant objects). */
const keyCache = new WeakMap<Labels, string>();

function labelKey(labels: Labels | undefined): string {
  if (!labels) return '';
  let key = keyCache.get(labels);
  if (key === undefined) {
    key = computeLabelKey(labels);
    if (Object.isFrozen(labels)) keyCache.set(labels, key);
  }
  return key;
}

function computeLabelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',') + '}';
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The value of one label set of a metric (a cell updated in place: no map write per update). */
interface Cell {
  value: number;
}

abstract class Metric {
  protected readonly series = new Map<string, Cell>();
  /**
   * The label set last updated and its cell: hot paths pass one constant label set per call site, so an
   * update usually finds its cell without a lookup.
   */
  private lastLabels: Labels | undefined = undefined;
  private lastCell: Cell | undefined = undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  /** Current value for a label set (0 when never touched). */
  get(labels?: Labels): number {
    return this.series.get(labelKey(labels))?.value ?? 0;
  }

  /** Sum over every label set. */
  total(): number {
    let sum = 0;
    for (const c of this.series.values()) sum += c.value;
    return sum;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.series.size === 0) lines.push(`${this.name} 0`);
    for (const [key, c] of this.series) lines.push(`${this.name}${key} ${c.value}`);
    return lines.join('\n');
  }

  /** The cell of a label set, made (at 0) when first updated. */
  protected cell(labels: Labels | undefined): Cell {
    if (labels === this.lastLabels && this.lastCell !== undefined) return this.lastCell;
    const key = labelKey(labels);
    let c = this.series.get(key);
    if (c === undefined) {
      c = { value: 0 };
      this.series.set(key, c);
    }
    // Only label sets whose key is cached by identity (frozen ones, or none) are remembered: a mutable
    // object could be changed to name another series.
    if (labels === undefined || Object.isFrozen(labels)) {
      this.lastLabels = labels;
      this.lastCell = c;
    }
    return c;
  }
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels?: Labels, by = 1): void {
    this.cell(labels).value += by;
  }
}

/** A value that goes up and down (queue depth, open legs). */
export class Gauge extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(value: number, labels?: Labels): void {
    this.cell(labels).value = value;
  }

  add(by: number, labels?: Labels): void {
    this.cell(labels).value += by;
  }
}

/** A named set of metrics; asking twice for the same name returns the same metric. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  counter(name: string, help: string): Counter {
    return this.getOrCreate(name, () => new Counter(name, help), Counter);
  }

  gauge(name: string, help: string): Gauge {
    return this.getOrCreate(name, () => new Gauge(name, help), Gauge);
  }

  /** Prometheus text format, one block per metric, sorted by name. */
  render(): string {
    return [...this.metrics.keys()]
      .sort()
      .map((k) => this.metrics.get(k)!.render())
      .join('\n') + '\n';
  }

  private getOrCreate<T extends Metric>(name: string, make: () => T, kind: new (...a: never[]) => T): T {
    const existing = this.metrics.get(name);
    if (existing) {
      if (!(existing instanceof kind)) throw new TypeError(`metric ${name} already registered as ${existing.type}`);
      return existing;
    }
    const created = make();
    this.metrics.set(name, created);
    return created;
  }
}
