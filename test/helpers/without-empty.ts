/**
 * What an emulator holds, as an export must show it: empty strings, `null`, empty lists and
 * objects left with nothing removed at any depth. Written apart from the connector kit's
 * `nonEmpty`, so that the export tests compare against an independent reading.
 */
export function withoutEmpty(value: unknown): unknown {
  if (value === null || value === '' || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const items = value.map(withoutEmpty).filter((v) => v !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value).flatMap(([k, v]) => {
      const kept = withoutEmpty(v);
      return kept === undefined ? [] : [[k, kept] as const];
    });
    return entries.length > 0 ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

/** An object's members without empty values (see `withoutEmpty`), `omit` left out. */
export function heldFields(record: object | undefined, omit: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record ?? {})) {
    if (omit.includes(k)) continue;
    const kept = withoutEmpty(v);
    if (kept !== undefined) out[k] = kept;
  }
  return out;
}
