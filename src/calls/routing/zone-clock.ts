/**
 * Local wall-clock time in an IANA zone, fast enough for a decision per ringing call. The UTC offset comes
 * from `Intl.DateTimeFormat` with `timeZone` (ECMA-402 section 11; DST-correct from the runtime's tz
 * database), which is slow, so it is cached: the last UTC minute per zone, and offsets per UTC quarter-hour
 * (every tz transition since zones left local mean time falls on a quarter-hour, as every offset is a
 * multiple of 15 minutes; an offset that is not is never cached that way). The local parts are then plain
 * arithmetic on a reused scratch object, so a cache hit allocates nothing.
 */
import { civilFromDays, DAY_MINUTES, daysFromCivil, monthDayKey } from './syntax.js';

const MINUTE = 60_000;
const QUARTER = 15 * MINUTE;
const DAY = 86_400_000;
const MAX_CACHED_QUARTERS = 4096;

/** Local wall-clock parts of one minute. Reused: copy what must outlive the next call. */
export interface LocalTime {
  /** UTC minute (epoch ms / 60000, floored) these parts are for. */
  utcMinute: number;
  /** Offset from UTC in minutes (e.g. 60 for CET, 120 for CEST). */
  offsetMinutes: number;
  /** Local day number (days since 1970-01-01). */
  dayNumber: number;
  /** 0 = Monday .. 6 = Sunday. */
  weekday: number;
  /** Minutes since Monday 00:00 local. */
  minuteOfWeek: number;
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** `month * 32 + day`. */
  monthDay: number;
}

/** One zone's clock with its caches. Obtain through {@link zoneClock}. */
export class ZoneClock {
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();
  private readonly scratch: LocalTime = {
    utcMinute: Number.NaN, offsetMinutes: 0, dayNumber: 0, weekday: 0, minuteOfWeek: 0,
    year: 0, month: 0, day: 0, hour: 0, minute: 0, monthDay: 0,
  };
  /** Intl look-ups made (cache misses), for tests and metrics. */
  lookups = 0;

  constructor(readonly zone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
    });
  }

  /** Offset from UTC in minutes at an instant, straight from Intl (no cache). */
  offsetAt(epochMs: number): number {
    this.lookups++;
    const at = Math.floor(epochMs / 1000) * 1000;
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false;
    for (const p of this.format.formatToParts(at)) {
      switch (p.type) {
        case 'year': y = Number(p.value); break;
        case 'month': mo = Number(p.value); break;
        case 'day': d = Number(p.value); break;
        case 'hour': h = Number(p.value); break;
        case 'minute': mi = Number(p.value); break;
        case 'second': s = Number(p.value); break;
        case 'era': bc = p.value.startsWith('B'); break;
        default: break;
      }
    }
    const wall = (daysFromCivil(bc ? 1 - y : y, mo, d) * DAY_MINUTES + h * 60 + mi) * MINUTE + s * 1000;
    return Math.round((wall - at) / MINUTE);
  }

  private cachedOffset(epochMs: number): number {
    const quarter = Math.floor(epochMs / QUARTER);
    const hit = this.offsets.get(quarter);
    if (hit !== undefined) return hit;
    const start = this.offsetAt(quarter * QUARTER);
    const end = this.offsetAt(quarter * QUARTER + QUARTER - 1000);
    if (start !== end || start % 15 !== 0) return this.offsetAt(epochMs);
    if (this.offsets.size >= MAX_CACHED_QUARTERS) this.offsets.clear();
    this.offsets.set(quarter, start);
    return start;
  }

  /** Local parts of the minute containing `epochMs`. Returns a shared scratch object. */
  at(epochMs: number): LocalTime {
    const utcMinute = Math.floor(epochMs / MINUTE);
    const t = this.scratch;
    if (utcMinute === t.utcMinute) return t;
    const offset = this.cachedOffset(utcMinute * MINUTE);
    const local = utcMinute + offset;
    const dayNumber = Math.floor(local / DAY_MINUTES);
    const minuteOfDay = local - dayNumber * DAY_MINUTES;
    const weekday = (((dayNumber + 3) % 7) + 7) % 7;
    const civil = civilFromDays(dayNumber);
    t.utcMinute = utcMinute;
    t.offsetMinutes = offset;
    t.dayNumber = dayNumber;
    t.weekday = weekday;
    t.minuteOfWeek = weekday * DAY_MINUTES + minuteOfDay;
    t.year = civil.year;
    t.month = civil.month;
    t.day = civil.day;
    t.hour = Math.floor(minuteOfDay / 60);
    t.minute = minuteOfDay % 60;
    t.monthDay = monthDayKey(civil.month, civil.day);
    return t;
  }

  /**
   * The instant of a local wall-clock time. A time skipped by a DST change (spring forward) maps to the
   * same distance after the change (02:30 becomes 03:30 in Europe/Berlin); a repeated time (fall back)
   * maps to its first occurrence.
   */
  instantOf(year: number, month: number, day: number, hour: number, minute: number): number {
    const wall = (daysFromCivil(year, month, day) * DAY_MINUTES + hour * 60 + minute) * MINUTE;
    const before = this.offsetAt(wall - DAY);
    const after = this.offsetAt(wall + DAY);
    let best = Number.NaN;
    for (const o of [before, after]) {
      const t = wall - o * MINUTE;
      if (this.offsetAt(t) === o && !(t >= best)) best = t;
    }
    return Number.isNaN(best) ? wall - before * MINUTE : best;
  }
}

const clocks = new Map<string, ZoneClock>();

/** The shared clock of a zone (created on first use). Throws RangeError for an unknown zone. */
export function zoneClock(zone: string): ZoneClock {
  let c = clocks.get(zone);
  if (!c) {
    c = new ZoneClock(zone);
    clocks.set(zone, c);
  }
  return c;
}

/** Day abbreviations for output, Monday first. */
export const DAY_LABELS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

function pad(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** `HH:MM` of local parts. */
export function formatClock(t: LocalTime): string {
  return `${pad(t.hour)}:${pad(t.minute)}`;
}

/** `YYYY-MM-DD` of local parts. */
export function formatDate(t: LocalTime): string {
  return `${t.year}-${pad(t.month)}-${pad(t.day)}`;
}

/**
 * Parse an instant for `route explain --at`: ISO 8601 `YYYY-MM-DDTHH:MM[:SS]` is a wall-clock time in
 * `zone` (the user's), unless it ends in `Z` or an offset (`+01:00`), which makes it absolute.
 * Returns NaN when the text is not such a time.
 */
export function parseInstant(text: string, zone: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (!m) return Number.NaN;
  if (m[7] !== undefined) return Date.parse(text.trim());
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return Number.NaN;
  return zoneClock(zone).instantOf(y, mo, d, h, mi) + s * 1000;
}
