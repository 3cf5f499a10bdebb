/** True for `{...}` values parsed from JSON (not arrays, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges `over` onto `under` the way layered config files combine: objects merge key by key, all
 * other values (arrays included) in `over` replace those in `under`. Neither input is modified.
 * An `undefined` in `over` leaves `under`'s value in place.
 */
export function deepMerge(under: unknown, over: unknown): unknown {
  if (over === undefined) return under;
  if (!isPlainObject(under) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...under };
  for (const [key, value] of Object.entries(over)) {
    out[key] = deepMerge(under[key], value);
  }
  return out;
}
