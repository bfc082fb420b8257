import type { FastifyBaseLogger } from 'fastify';
import { BundleError } from './bundle/manifest';
import { LoadedModel } from './bundle/model';
import { MicroBatcher } from './batcher';
import { DriftMonitor } from './drift';
import type { Metrics } from './metrics';
import { type AliasFile, type AliasName, aliasFile, versionDir } from './store/layout';
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
  /** Inference worker threads per loaded version (0: ONNX Runtime on the event loop). */
  workers: number;
  /** Batches estimated to run within this many ms stay on the event loop (0: never). */
  inlineRunBudgetMs: number;
  /** `--team` / `--stage` of the publish hint a not-ready service gives (placeholders if unset). */
  team?: string;
  stage?: string;
  /** SERVING_MODEL_NAME: a first model with another manifest name is served, with a warning. */
  modelName?: string;
}

/**
 * Why there is nothing to serve yet: `reason` is stable (the /v2/health/ready body and the 503
 * of the inference routes carry it), `message` says where the service looks and what to do.
 */
export type NotReadyReason = 'no_model' | 'alias_invalid' | 'model_refused' | 'store_unreadable';
export interface NotReady {
  reason: NotReadyReason;
  message: string;
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

const PLAIN_BUNDLE = '(bundle)';

/**
 * Holds the production model and an optional canary, and moves them when the aliases move.
 * A new version is downloaded, sha256-checked, loaded and self-tested on its golden vectors
 * before it takes traffic; any failure is logged, counted, and leaves the current one serving.
 *
 * A model store with nothing servable yet (no production alias, an invalid one, a refused
 * version, an unreadable bucket) is a state, not an error: the registry keeps polling, says
 * why in {@link notReady} (logged once per distinct reason), and serves as soon as a good
 * production version appears. Only a plain bundle folder that cannot be served fails start():
 * nothing would ever change it.
 */
export class ModelRegistry {
  private production: ModelEntry | null = null;
  private candidate: { entry: ModelEntry; percent: number } | null = null;
  /** Whether the source root is one bundle (manifest.json) rather than a store; null until read. */
  private plain: boolean | null = null;
  private readonly failed = new Map<string, { at: number; message: string }>();
  private waiting: NotReady;
  /** The last warning logged, so a state that lasts many polls is logged once. */
  private lastNotice: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly source: BlobSource,
    private readonly opts: RegistryOptions,
    private readonly metrics: Metrics,
    private readonly log: FastifyBaseLogger,
  ) {
    this.waiting = { reason: 'no_model', message: `no model loaded yet: reading ${this.productionAliasUri}` };
  }

  get name(): string | null {
    return this.production?.model.name ?? null;
  }

  get ready(): boolean {
    return this.production !== null;
  }

  /** Null once a production model serves; otherwise why not, and what to do about it. */
  get notReady(): NotReady | null {
    return this.production ? null : this.waiting;
  }

  get productionEntry(): ModelEntry | null {
    return this.production;
  }

  private get productionAliasUri(): string {
    return `${this.source.description}/${aliasFile('production')}`;
  }

  /** What the operator runs to give this service a model (the `npm run model` CLI). */
  private get publishHint(): string {
    const who = `--team ${this.opts.team ?? '<team>'} --stage ${this.opts.stage ?? '<stage>'}`;
    return `publish a model and promote it: npm run model -- publish <training job | s3://.../model.tar.gz | bundle folder> ${who}, then npm run model -- promote <version> ${who}`;
  }

  /**
   * Reads the source once and starts polling. Resolves without a model when the store has
   * none servable yet (see {@link notReady}); throws when the source cannot be a model source
   * (a local folder that does not exist) or is a plain bundle that fails to load.
   */
  async start(): Promise<void> {
    await this.source.checkRoot();
    await this.sync();
    if (this.plain && !this.production)
      throw new BundleError(`no servable model at ${this.source.description}: ${this.waiting.message}`, 'startup');
    this.schedulePoll();
  }

  private schedulePoll(): void {
    // A plain bundle that serves never changes; everything else is polled.
    if (this.closed || (this.plain && this.production)) return;
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

  /** Logs a warning unless it is the one logged last (a state lasting many polls logs once). */
  private notice(message: string, fields: Record<string, unknown> = {}): void {
    if (message === this.lastNotice) return;
    this.lastNotice = message;
    this.log.warn({ source: this.source.description, ...fields }, message);
  }

  private wait(reason: NotReadyReason, detail: string, hint = this.publishHint): void {
    this.waiting = { reason, message: `no model to serve yet: ${detail}; ${hint}` };
    this.notice(this.waiting.message, { reason });
  }

  private sourceFailed(e: unknown, alias: AliasName | ''): void {
    const reason = e instanceof BundleError ? e.reason : 'source';
    this.metrics.modelLoadFailures.inc({ model: this.name ?? '', version: '', alias, reason });
    const message = (e as Error).message;
    if (this.production)
      this.log.error({ err: e, source: this.source.description }, `cannot read ${alias ? aliasFile(alias) : 'the model source'}; keeping the current models`);
    else if (e instanceof BundleError)
      this.wait('alias_invalid', `${this.source.description}/${message}`);
    else
      this.wait('store_unreadable', `cannot read ${alias ? this.productionAliasUri : this.source.description}: ${(e as Error).name}: ${message}`, 'check that the bucket exists and the pod role may read it');
  }

  private async reconcile(): Promise<void> {
    if (this.plain === null) {
      try {
        this.plain = await isPlainBundle(this.source);
      } catch (e) {
        this.sourceFailed(e, '');
        return;
      }
    }
    if (this.plain) {
      if (!this.production) {
        const entry = await this.tryLoad('', null, 'production');
        if (entry) this.install(entry, null);
        else this.wait('model_refused', `the bundle at ${this.source.description} was refused: ${this.failed.get(PLAIN_BUNDLE)?.message}`, 'fix the bundle and restart');
      }
      return;
    }
    // Read independently: a bad candidate alias must not hold back a production move.
    const [prod, cand] = await Promise.allSettled([readAlias(this.source, 'production'), readAlias(this.source, 'candidate')]);
    if (this.closed) return;
    if (prod.status === 'rejected') this.sourceFailed(prod.reason, 'production');
    else await this.reconcileProduction(prod.value);
    // A canary is a share of production traffic: nothing to split before production serves.
    if (this.closed || !this.production) return;
    if (cand.status === 'rejected') this.sourceFailed(cand.reason, 'candidate');
    else await this.reconcileCandidate(cand.value);
  }

  private async reconcileProduction(prod: AliasFile | null): Promise<void> {
    if (!prod) {
      if (this.production) this.notice(`${aliasFile('production')} not found; keeping the current model`);
      else this.wait('no_model', `${this.productionAliasUri} does not exist`);
      return;
    }
    if (prod.version === this.production?.model.version) return;
    const reuse = this.candidate?.entry.model.version === prod.version ? this.candidate.entry : null;
    const next = reuse ?? (await this.tryLoad(versionDir(prod.version), prod.version, 'production'));
    if (!next) {
      if (!this.production)
        this.wait('model_refused', `version ${prod.version} named by ${this.productionAliasUri} was refused: ${this.failed.get(prod.version)?.message}`);
      return;
    }
    if (this.closed) return void this.retire(next);
    if (reuse) this.candidate = null;
    this.install(next, this.production);
  }

  private install(next: ModelEntry, old: ModelEntry | null): void {
    this.production = next;
    this.lastNotice = null;
    if (old) {
      this.log.info({ version: next.model.version, previous: old.model.version }, 'production model swapped');
      void this.retire(old);
    } else {
      this.log.info({ model: next.model.name, version: next.model.version }, 'production model loaded: ready');
      if (this.opts.modelName && this.opts.modelName !== next.model.name)
        this.log.warn(
          { model: next.model.name, metric_model: this.opts.modelName },
          "SERVING_MODEL_NAME differs from the bundle's model name; metrics use SERVING_MODEL_NAME, URLs the bundle's name",
        );
    }
  }

  private async reconcileCandidate(cand: AliasFile | null): Promise<void> {
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
      } else if (next) {
        void this.retire(next);
      }
    }
  }

  private async tryLoad(dir: string, version: string | null, alias: AliasName): Promise<ModelEntry | null> {
    const key = version ?? PLAIN_BUNDLE;
    const failed = this.failed.get(key);
    if (failed !== undefined && Date.now() - failed.at < this.opts.retryFailedMs) return null;
    const started = process.hrtime.bigint();
    try {
      const files = await readBundle(this.source, dir);
      const model = await LoadedModel.load(files, { intraOpThreads: this.opts.intraOpThreads, workers: this.opts.workers, inlineBudgetMs: this.opts.inlineRunBudgetMs });
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
      this.log.info(
        { ...labels, alias, load_ms: Math.round(ms * 10) / 10, workers: model.concurrency, inline_max_rows: model.inlineRows },
        'model loaded and self-tested',
      );
      return entry;
    } catch (e) {
      this.failed.set(key, { at: Date.now(), message: (e as Error).message });
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
