/**
 * A small leveled logger. Lines go to a sink (stderr by default) as `time level [scope] message`.
 * The level comes from `SWITCHHOOK_LOG` (`debug`, `info`, `warn`, `error`, `silent`), default `info`.
 * {@link Logger.rateLimited} keeps hot paths from flooding the log: at most one line per key per interval,
 * with the number suppressed in between.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stderr.write(line + '\n');
let threshold: number = order[(process.env['SWITCHHOOK_LOG'] as LogLevel) ?? 'info'] ?? order.info;

/** Replace the sink (tests, the embedding API) and optionally the level. */
export function setLogSink(next: LogSink, level?: LogLevel): void {
  sink = next;
  if (level) threshold = order[level];
}

/** Set the minimum level written. */
export function setLogLevel(level: LogLevel): void {
  threshold = order[level];
}

export class Logger {
  private readonly lastByKey = new Map<string, { at: number; suppressed: number }>();

  constructor(readonly scope: string) {}

  debug(msg: string): void {
    this.write('debug', msg);
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  warn(msg: string): void {
    this.write('warn', msg);
  }
  error(msg: string): void {
    this.write('error', msg);
  }

  /** Log at most once per `intervalMs` for `key`; the next line says how many were suppressed. */
  rateLimited(level: Exclude<LogLevel, 'silent'>, key: string, msg: string, intervalMs = 5000): void {
    const now = Date.now();
    const last = this.lastByKey.get(key);
    if (last && now - last.at < intervalMs) {
      last.suppressed++;
      return;
    }
    const suffix = last && last.suppressed > 0 ? ` (${last.suppressed} similar suppressed)` : '';
    this.lastByKey.set(key, { at: now, suppressed: 0 });
    this.write(level, msg + suffix);
  }

  private write(level: Exclude<LogLevel, 'silent'>, msg: string): void {
    if (order[level] < threshold) return;
    sink(`${new Date().toISOString()} ${level} [${this.scope}] ${msg}`);
  }
}

/** A logger for one module or component. */
export function createLogger(scope: string): Logger {
  return new Logger(scope);
}
