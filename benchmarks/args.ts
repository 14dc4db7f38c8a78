/** Small helpers every benchmark shares: numeric `--name N` options and figure rounding. */

/** The number after `--name` in `args`, else `fallback`. */
export function option(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/** `x` to `digits` significant digits, for the JSON line. */
export const round = (x: number, digits = 4): number => Number(x.toPrecision(digits));
