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

abstract class Metric {
  protected readonly series = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  /** Current value for a label set (0 when never touched). */
  get(labels?: Labels): number {
    return this.series.get(labelKey(labels)) ?? 0;
  }

  /** Sum over every label set. */
  total(): number {
    let sum = 0;
    for (const v of this.series.values()) sum += v;
    return sum;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.series.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.series) lines.push(`${this.name}${key} ${value}`);
    return lines.join('\n');
  }
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels?: Labels, by = 1): void {
    const key = labelKey(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + by);
  }
}

/** A value that goes up and down (queue depth, open legs). */
export class Gauge extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(value: number, labels?: Labels): void {
    this.series.set(labelKey(labels), value);
  }

  add(by: number, labels?: Labels): void {
    const key = labelKey(labels);
    this.series.set(key, (this.series.get(key) ?? 0) + by);
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
