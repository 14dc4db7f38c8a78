/** The largest range one extension spec may expand to. */
const maxRange = 100_000;

/** What one device or extension may look like (directory numbers, with `+`, `*`, `#`, letters for some PBXs). */
export const deviceIdPattern = /^[0-9A-Za-z+*#]+$/;

/**
 * Expand extension specs into device IDs, in order and without duplicates. Each spec is one extension
 * (`2001`), a range of equal-width numbers (`2000-2099`, `0100-0199` keeps its leading zeros), or a
 * comma-separated list of those (`2000-2009,2100`).
 * @throws RangeError naming the spec at fault.
 */
export function expandExtensions(specs: string | readonly string[]): string[] {
  const out = new Set<string>();
  const parts = (typeof specs === 'string' ? [specs] : specs).flatMap((s) => s.split(',')).map((s) => s.trim());
  for (const spec of parts) {
    if (spec === '') continue;
    const m = /^(\d+)-(\d+)$/.exec(spec);
    if (!m) {
      if (!deviceIdPattern.test(spec)) throw new RangeError(`'${spec}' is not a device or range`);
      out.add(spec);
      continue;
    }
    const [from, to] = [m[1]!, m[2]!];
    if (from.length !== to.length) throw new RangeError(`range '${spec}' mixes widths`);
    const a = Number(from);
    const b = Number(to);
    if (b < a) throw new RangeError(`range '${spec}' ends before it starts`);
    if (b - a >= maxRange) throw new RangeError(`range '${spec}' is larger than ${maxRange} devices`);
    for (let n = a; n <= b; n++) out.add(String(n).padStart(from.length, '0'));
  }
  if (out.size === 0) throw new RangeError('no extensions');
  return [...out];
}
