/**
 * Field-level changes between two JSON values, for people to read in a PR comment: paths like
 * `spec.template.spec.containers[inference].image`, where list items that carry a `name` are
 * matched by name (containers, ports, env) rather than by position.
 */
export interface FieldChange {
  readonly path: string;
  /** Absent when the field is new. */
  readonly from?: unknown;
  /** Absent when the field was removed. */
  readonly to?: unknown;
}

export function fieldChanges(from: unknown, to: unknown, path = ''): FieldChange[] {
  if (deepEqual(from, to)) return [];
  if (Array.isArray(from) && Array.isArray(to)) {
    const key = namedKey(from) && namedKey(to) ? namedKey(from) : undefined;
    if (key) {
      const old = new Map(from.map((x) => [String((x as Record<string, unknown>)[key]), x]));
      const neu = new Map(to.map((x) => [String((x as Record<string, unknown>)[key]), x]));
      const names = [...new Set([...old.keys(), ...neu.keys()])];
      return names.flatMap((n) => fieldChanges(old.get(n), neu.get(n), `${path}[${n}]`));
    }
    if (from.every(isScalar) && to.every(isScalar)) return [change(path, from, to)];
    const n = Math.max(from.length, to.length);
    const out: FieldChange[] = [];
    for (let i = 0; i < n; i++) out.push(...fieldChanges(from[i], to[i], `${path}[${i}]`));
    return out;
  }
  if (isObject(from) && isObject(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((k) => fieldChanges(from[k], to[k], path ? `${path}.${k}` : k));
  }
  return [change(path, from, to)];
}

function change(path: string, from: unknown, to: unknown): FieldChange {
  return {
    path,
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  };
}

/** The key that names every item of a list of objects, if there is one. */
function namedKey(list: unknown[]): string | undefined {
  if (list.length === 0) return undefined;
  for (const key of ['name', 'Name', 'Key']) {
    const names = list.map((x) => (isObject(x) ? x[key] : undefined));
    if (names.every((n) => typeof n === 'string') && new Set(names).size === names.length) {
      return key;
    }
  }
  return undefined;
}

/** Compact one-line rendering of a value, cut at `max` characters. */
export function formatValue(value: unknown, max = 80): string {
  if (value === undefined) return '∅';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Both sides of a change, cut to what differs: two long strings lose their common start and
 * end (kept as `…`) so the changed part is what shows.
 */
export function formatPair(from: unknown, to: unknown, max = 80): [string, string] {
  if (
    typeof from !== 'string' ||
    typeof to !== 'string' ||
    (from.length <= max && to.length <= max)
  ) {
    return [formatValue(from, max), formatValue(to, max)];
  }
  let start = 0;
  while (start < from.length && start < to.length && from[start] === to[start]) start++;
  let end = 0;
  while (
    end < from.length - start &&
    end < to.length - start &&
    from[from.length - 1 - end] === to[to.length - 1 - end]
  ) {
    end++;
  }
  const context = 20;
  const cut = (s: string) => {
    const a = Math.max(0, start - context);
    const b = Math.min(s.length, s.length - end + context);
    return `${a > 0 ? '…' : ''}${s.slice(a, b)}${b < s.length ? '…' : ''}`;
  };
  return [formatValue(cut(from), max), formatValue(cut(to), max)];
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isScalar(x: unknown): boolean {
  return x === null || ['string', 'number', 'boolean'].includes(typeof x);
}
