import { hash, timingSafeEqual } from 'node:crypto';

export interface ApiKey {
  /** A short, non-secret id for logs, metrics and rate limits: the first 12 hex chars of the hash. */
  id: string;
  hash: Buffer;
}

/** One-shot hash (no Hash object per call): the same digest as createHash('sha256').update(s, 'utf8'). */
const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');

/**
 * Parses keys. Each entry is a raw key or `sha256:<64 hex>` (so a mounted Secret need not hold
 * raw keys). Files hold one entry per line; blank lines and `#` comments are ignored.
 */
export function parseKeys(entries: string[]): ApiKey[] {
  return entries.map((entry, i) => {
    const m = /^sha256:([0-9a-f]{64})$/.exec(entry);
    if (entry.startsWith('sha256:') && !m) throw new Error(`API key entry ${i + 1}: sha256: must be followed by 64 lowercase hex chars`);
    if (!m && entry.length < 16) throw new Error(`API key entry ${i + 1}: keys must be at least 16 characters`);
    const hash = m ? Buffer.from(m[1]!, 'hex') : sha256(entry);
    return { id: hash.toString('hex').slice(0, 12), hash };
  });
}

/** The entries of a keys file: one per line, blank lines and `#` comments ignored. */
export function keyFileEntries(text: string): string[] {
  const entries: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t && !t.startsWith('#')) entries.push(t);
  }
  return entries;
}

/** Finds the key matching `presented`, comparing hashes in constant time against every key. */
export function matchKey(keys: readonly ApiKey[], presented: string): ApiKey | null {
  const h = sha256(presented);
  let found: ApiKey | null = null;
  for (const k of keys) if (timingSafeEqual(k.hash, h) && !found) found = k;
  return found;
}

/** The key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const x = headers['x-api-key'];
  return typeof x === 'string' ? x.trim() : null;
}

/** Token bucket per key id; memory bounded by the number of configured keys (+ anonymous). */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly rps: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until the next token. */
  take(id: string): number {
    const t = this.now();
    let b = this.buckets.get(id);
    if (!b) {
      b = { tokens: this.burst, at: t };
      this.buckets.set(id, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rps);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.rps;
  }
}
