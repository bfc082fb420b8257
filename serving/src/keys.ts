import { hash } from 'node:crypto';
import { type FSWatcher, readFileSync, statSync, type BigIntStats, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { Counter } from 'prom-client';
import { type ApiKey, keyFileEntries, parseKeys } from './auth';

export interface ApiKeysOptions {
  /** Keys from SERVING_API_KEYS: part of every key set. */
  fromEnv: readonly string[];
  /** SERVING_API_KEYS_FILE: watched and re-read when it changes. */
  file?: string;
  /** Longest time between two checks of the file (a stat; the file is read only when that changed). */
  pollMs: number;
  log: FastifyBaseLogger;
  /** api_keys_reloads_total{result}: swapped, invalid (kept the old keys), unreadable (kept them too). */
  reloads: Counter<'result'>;
}

const sha256 = (b: Buffer | string): string => hash('sha256', b, 'hex');
/** What changes when the file (through its symlinks) is replaced or rewritten. */
const signatureOf = (s: BigIntStats): string => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;

/**
 * The API keys requests are checked against. `current` is replaced whole, never mutated: a
 * request reads it once when it is authorized, so a swap never changes a check half-way.
 *
 * The file is watched two ways, because a Kubernetes secret mount (and the Secrets Store CSI
 * driver) updates by pointing the `..data` symlink of the folder at a new directory, which
 * an `fs.watch` on the file itself never sees: `fs.watch` on the folder (any event schedules
 * a check) and a poll every `pollMs` (a `stat` through the symlinks: device, inode, size,
 * mtime). A changed stat reads the file; a changed content hash parses it. A file that
 * cannot be read, does not parse, or holds no key keeps the previous keys, is logged and is
 * counted; nothing is read on the request path.
 */
export class ApiKeys {
  current: readonly ApiKey[];
  private statSignature = '';
  private contentHash = '';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** The refusal last logged: a file that stays missing or bad is logged and counted once. */
  private refused = '';

  /**
   * Loads the keys synchronously: an unreadable or invalid file fails startup (the message
   * names SERVING_API_KEYS_FILE). Then watches the file until {@link close}.
   */
  constructor(private readonly opts: ApiKeysOptions) {
    const { file } = opts;
    let text = '';
    if (file) {
      try {
        this.statSignature = signatureOf(statSync(file, { bigint: true }));
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new Error(`SERVING_API_KEYS_FILE: cannot read ${file}: ${(e as Error).message}`);
      }
      this.contentHash = sha256(text);
    }
    this.current = Object.freeze(parseKeys([...opts.fromEnv, ...keyFileEntries(text)]));
    if (!file) return;
    try {
      // The folder, not the file: the symlink swap happens there.
      this.watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || name === basename(file) || name.startsWith('..')) this.schedule();
      });
      this.watcher.on('error', (err) => opts.log.warn({ err: err.message }, 'api keys: cannot watch the folder; polling only'));
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, 'api keys: cannot watch the folder; polling only');
    }
    this.timer = setInterval(() => this.schedule(), opts.pollMs);
    this.timer.unref();
  }

  /** Checks the file now (coalesced with a check already running); resolves when done. */
  check(): Promise<void> {
    this.schedule();
    return this.running ?? Promise.resolve();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.reload().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
  }

  private async signature(): Promise<string | undefined> {
    try {
      return signatureOf(await stat(this.opts.file!, { bigint: true }));
    } catch {
      return undefined;
    }
  }

  private async reload(): Promise<void> {
    const file = this.opts.file!;
    const signature = await this.signature();
    if (signature !== undefined && signature === this.statSignature) return;
    let text: Buffer;
    try {
      text = await readFile(file);
    } catch (err) {
      // Not recorded as seen: the next check tries again (a swap in progress, a lost mount).
      this.fail('unreadable', `cannot read ${file}: ${(err as Error).message}`);
      return;
    }
    this.statSignature = signature ?? '';
    const contentHash = sha256(text);
    if (contentHash === this.contentHash) {
      this.refused = '';
      return;
    }
    this.contentHash = contentHash;
    let keys: ApiKey[];
    try {
      keys = parseKeys([...this.opts.fromEnv, ...keyFileEntries(text.toString('utf8'))]);
    } catch (err) {
      this.fail('invalid', (err as Error).message);
      return;
    }
    if (keys.length === 0) {
      // An empty file would open the inference endpoints: never swap to that.
      this.fail('invalid', `${file} holds no API key`);
      return;
    }
    const before = new Set(this.current.map((k) => k.id));
    const after = new Set(keys.map((k) => k.id));
    this.current = Object.freeze(keys);
    this.refused = '';
    this.opts.reloads.inc({ result: 'swapped' });
    this.opts.log.info(
      {
        keys: keys.length,
        added: [...after].filter((id) => !before.has(id)),
        removed: [...before].filter((id) => !after.has(id)),
      },
      'api keys reloaded',
    );
  }

  private fail(result: 'invalid' | 'unreadable', reason: string): void {
    if (reason === this.refused) return;
    this.refused = reason;
    this.opts.reloads.inc({ result });
    this.opts.log.warn({ result, reason, keys: this.current.length }, 'api keys file refused; keeping the previous keys');
  }
}
