import type { FastifyBaseLogger } from 'fastify';
import { BundleError } from './bundle/manifest';
import { LoadedModel } from './bundle/model';
import { MicroBatcher } from './batcher';
import { DriftMonitor } from './drift';
import type { Metrics } from './metrics';
import { type AliasName, aliasFile, versionDir } from './store/layout';
import { type BlobSource, isPlainBundle, readAlias, readBundle } from './store/store';

/** A loaded version with everything that serves it. */
export interface ModelEntry {
  model: LoadedModel;
  batcher: MicroBatcher;
  drift: DriftMonitor;
}

export type { AliasName } from './store/layout';

export interface RegistryOptions {
  pollIntervalMs: number;
  retryFailedMs: number;
  batcher: { maxRows: number; maxWaitMs: number };
  drift: { window: number; minSamples: number };
  intraOpThreads: number;
}

/** FNV-1a: a stable, cheap hash so one request key always lands on the same side of a canary. */
function bucketOfKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) % 10000) / 100;
}

/**
 * Holds the production model and an optional canary, and moves them when the aliases move.
 * A new version is downloaded, sha256-checked, loaded and self-tested on its golden vectors
 * before it takes traffic; any failure is logged, counted, and leaves the current one serving.
 */
export class ModelRegistry {
  private production: ModelEntry | null = null;
  private candidate: { entry: ModelEntry; percent: number } | null = null;
  private plain = false;
  private readonly failed = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly source: BlobSource,
    private readonly opts: RegistryOptions,
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  get name(): string | null {
    return this.production?.model.name ?? null;
  }

  get ready(): boolean {
    return this.production !== null;
  }

  get productionEntry(): ModelEntry | null {
    return this.production;
  }

  /** Loads the production model (throws if that fails: nothing to serve) and starts polling. */
  async start(): Promise<void> {
    this.plain = await isPlainBundle(this.source);
    await this.sync();
    if (!this.production)
      throw new BundleError(`no servable model at ${this.source.description} (see the log for why)`, 'startup');
    if (!this.plain) this.schedulePoll();
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.sync().finally(() => this.schedulePoll());
    }, this.opts.pollIntervalMs);
    this.timer.unref();
  }

  /** One reconciliation of loaded versions with the aliases; never throws. */
  sync(): Promise<void> {
    if (!this.syncing)
      this.syncing = this.reconcile()
        .catch((e) => this.log.error({ err: e }, 'model sync failed'))
        .finally(() => {
          this.syncing = null;
        });
    return this.syncing;
  }

  private async reconcile(): Promise<void> {
    if (this.plain) {
      if (!this.production) this.production = await this.tryLoad('', null, 'production');
      return;
    }
    let prod, cand;
    try {
      [prod, cand] = await Promise.all([readAlias(this.source, 'production'), readAlias(this.source, 'candidate')]);
    } catch (e) {
      const reason = e instanceof BundleError ? e.reason : 'source';
      this.metrics.modelLoadFailures.inc({ model: this.name ?? '', version: '', alias: '', reason });
      this.log.error({ err: e, source: this.source.description }, 'cannot read aliases; keeping the current models');
      return;
    }
    if (this.closed) return;
    if (!prod) {
      this.log.warn({ source: this.source.description }, `${aliasFile('production')} not found; keeping the current model`);
    } else if (prod.version !== this.production?.model.version) {
      const reuse = this.candidate?.entry.model.version === prod.version ? this.candidate.entry : null;
      const next = reuse ?? (await this.tryLoad(versionDir(prod.version), prod.version, 'production'));
      if (next && !this.closed) {
        const old = this.production;
        this.production = next;
        if (reuse) this.candidate = null;
        this.log.info({ version: next.model.version, previous: old?.model.version }, 'production model swapped');
        if (old) void this.retire(old);
      }
    }
    const percent = cand?.traffic_percent ?? 0;
    if (!cand || percent <= 0 || cand.version === this.production?.model.version) {
      if (this.candidate) {
        const old = this.candidate.entry;
        this.candidate = null;
        this.log.info({ version: old.model.version }, 'candidate model removed');
        void this.retire(old);
      }
    } else if (cand.version === this.candidate?.entry.model.version) {
      this.candidate.percent = percent;
    } else {
      const next = await this.tryLoad(versionDir(cand.version), cand.version, 'candidate');
      if (next && !this.closed) {
        const old = this.candidate?.entry;
        this.candidate = { entry: next, percent };
        this.log.info({ version: next.model.version, traffic_percent: percent }, 'candidate model loaded');
        if (old) void this.retire(old);
      }
    }
  }

  private async tryLoad(dir: string, version: string | null, alias: AliasName): Promise<ModelEntry | null> {
    const key = version ?? '(bundle)';
    const failedAt = this.failed.get(key);
    if (failedAt !== undefined && Date.now() - failedAt < this.opts.retryFailedMs) return null;
    const started = process.hrtime.bigint();
    try {
      const files = await readBundle(this.source, dir);
      const model = await LoadedModel.load(files, { intraOpThreads: this.opts.intraOpThreads });
      if (version !== null && model.version !== version) {
        await model.release();
        throw new BundleError(`manifest.json says version ${model.version}, alias says ${version}`, 'version_mismatch');
      }
      if (this.production && model.name !== this.production.model.name) {
        await model.release();
        throw new BundleError(`manifest.json name ${model.name} differs from the served model ${this.production.model.name}`, 'name_mismatch');
      }
      this.failed.delete(key);
      const labels = { model: model.name, version: model.version };
      const entry: ModelEntry = {
        model,
        batcher: new MicroBatcher(model, this.opts.batcher, (rows) => this.metrics.batchRows.observe(labels, rows)),
        drift: new DriftMonitor(model.manifest, this.opts.drift),
      };
      this.metrics.modelLoads.inc({ ...labels, alias });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      this.log.info({ ...labels, alias, load_ms: Math.round(ms * 10) / 10 }, 'model loaded and self-tested');
      return entry;
    } catch (e) {
      this.failed.set(key, Date.now());
      const reason = e instanceof BundleError ? e.reason : 'source';
      this.metrics.modelLoadFailures.inc({ model: this.name ?? '', version: version ?? '', alias, reason });
      this.log.error(
        { version, alias, reason, err: { message: (e as Error).message } },
        `model refused, ${this.production ? 'keeping the current model' : 'nothing to serve yet'}: ${(e as Error).message}`,
      );
      return null;
    }
  }

  /** Releases a version that no alias points to any more, once its in-flight batches finish. */
  private async retire(entry: ModelEntry): Promise<void> {
    if (entry === this.production || entry === this.candidate?.entry) return;
    try {
      await entry.batcher.idle();
      await entry.model.release();
    } catch (e) {
      this.log.warn({ err: e, version: entry.model.version }, 'releasing a retired model failed');
    }
  }

  /** The version that answers this request: the canary share goes to the candidate. */
  pick(requestKey: string | undefined): { entry: ModelEntry; alias: AliasName } | null {
    const prod = this.production;
    if (!prod) return null;
    const cand = this.candidate;
    if (cand) {
      const roll = requestKey ? bucketOfKey(requestKey) : Math.random() * 100;
      if (roll < cand.percent) return { entry: cand.entry, alias: 'candidate' };
    }
    return { entry: prod, alias: 'production' };
  }

  /** A loaded version by its exact version string (OIP /versions/{v} routes). */
  byVersion(version: string): { entry: ModelEntry; alias: AliasName } | null {
    if (this.production?.model.version === version) return { entry: this.production, alias: 'production' };
    if (this.candidate?.entry.model.version === version) return { entry: this.candidate.entry, alias: 'candidate' };
    return null;
  }

  loaded(): Array<{ entry: ModelEntry; alias: AliasName; percent: number }> {
    const out: Array<{ entry: ModelEntry; alias: AliasName; percent: number }> = [];
    const cand = this.candidate;
    if (this.production)
      out.push({ entry: this.production, alias: 'production', percent: 100 - (cand?.percent ?? 0) });
    if (cand) out.push({ entry: cand.entry, alias: 'candidate', percent: cand.percent });
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.syncing;
    const entries = [this.production, this.candidate?.entry].filter((e): e is ModelEntry => e !== null && e !== undefined);
    this.production = null;
    this.candidate = null;
    await Promise.all(entries.map(async (e) => {
      await e.batcher.idle();
      await e.model.release();
    }));
  }
}
