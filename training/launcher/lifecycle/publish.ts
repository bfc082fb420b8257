import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Manifest } from '../../../serving/src/bundle/manifest';
import { versionDir } from '../../../serving/src/store/layout';
import { BundleRejectedError } from '../cli/errors';
import { type Lifecycle, storeUri } from './context';
import { MODEL_QUALITY_FILE, modelQualityReport } from './model-quality';
import { findPackage, registerPackage, type ModelPackage } from './registry';
import { putNewObject, readAlias, readObject, versionFiles, writeAlias } from './store';
import { verifyBundle } from './verify';
import { checkQuality } from '../../../serving/src/bundle/quality';

export interface PublishResult {
  readonly model: string;
  readonly version: string;
  /** `s3://.../versions/<version>` */
  readonly uri: string;
  /** Files written now (empty when the store already held these bytes). */
  readonly uploaded: readonly string[];
  readonly package: ModelPackage;
  readonly packageCreated: boolean;
  /** True when this first version became production (no production alias yet, approved). */
  readonly madeProduction: boolean;
  /** Nothing changed anywhere: the same bytes were published before. */
  readonly unchanged: boolean;
  /** What the quality check found: target missed or unset, no baseline beaten (may be empty). */
  readonly warnings: readonly string[];
}

export interface PublishOptions {
  /** The training job the bundle came from (registry lineage). */
  readonly trainingJobArn?: string;
  /** The retraining pipeline execution that publishes it (the package records it). */
  readonly pipelineExecutionArn?: string;
  /** Refuse a bundle whose objective has no target or missed it (`--require-target`). */
  readonly requireTarget?: boolean;
}

interface VersionFile {
  readonly name: string;
  readonly body: Buffer;
  readonly sha256: string;
  readonly contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
  '.md': 'text/markdown',
  '.svg': 'image/svg+xml',
};

function file(name: string, body: Buffer): VersionFile {
  return {
    name,
    body,
    sha256: createHash('sha256').update(body).digest('hex'),
    contentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream',
  };
}

/** What a version folder holds: the bundle's files and the registry's quality statistics. */
function versionContent(dir: string, manifest: Manifest): VersionFile[] {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.') && e.name !== MODEL_QUALITY_FILE)
    .map((e) => file(e.name, readFileSync(path.join(dir, e.name))));
  const quality = Buffer.from(`${JSON.stringify(modelQualityReport(manifest), null, 2)}\n`);
  // manifest.json last: a version folder with a manifest is complete.
  return [...files.filter((f) => f.name !== 'manifest.json'), file(MODEL_QUALITY_FILE, quality)]
    .sort((a, b) => a.name.localeCompare(b.name))
    .concat(files.filter((f) => f.name === 'manifest.json'));
}

/** Whether the store holds exactly this file's bytes under the version. */
async function storedAs(ctx: Lifecycle, version: string, f: VersionFile): Promise<boolean> {
  const stored = await readObject(ctx.store, `${versionDir(version)}/${f.name}`);
  return stored !== null && createHash('sha256').update(stored.body).digest('hex') === f.sha256;
}

function refuse(ctx: Lifecycle, version: string, what: string): never {
  throw new BundleRejectedError(
    `${storeUri(ctx.store, versionDir(version))} already holds version ${version} with ${what}; ` +
      'a version is never overwritten: publish a newly trained bundle (a new version). Nothing was written',
  );
}

/**
 * Compares a version's content with what the store holds under that version. Returns the files
 * still to write (all when the version is new, the missing ones after an interrupted publish);
 * throws when the store holds different bytes or other files: a version is immutable.
 */
async function filesToWrite(
  ctx: Lifecycle,
  version: string,
  files: readonly VersionFile[],
): Promise<VersionFile[]> {
  const existing = new Set(await versionFiles(ctx.store, version));
  const ours = new Set(files.map((f) => f.name));
  const extra = [...existing].filter((name) => !ours.has(name));
  if (extra.length > 0) refuse(ctx, version, `other files (${extra.join(', ')})`);
  const missing: VersionFile[] = [];
  const differing: string[] = [];
  for (const f of files) {
    if (!existing.has(f.name)) {
      missing.push(f);
      continue;
    }
    if (!(await storedAs(ctx, version, f))) differing.push(f.name);
  }
  if (differing.length > 0) refuse(ctx, version, `a different ${differing.sort().join(' and ')}`);
  return missing;
}

/**
 * Publishes a bundle folder: verifies it with the service's checks, uploads it to
 * `<model>/versions/<version>/` (never overwriting), and registers a model package. The first
 * version of a model becomes production when its package is approved (nothing serves yet).
 */
export async function publish(
  ctx: Lifecycle,
  dir: string,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const manifest = await verifyBundle(dir);
  const { store, registry } = ctx;
  if (manifest.name !== store.modelName) {
    throw new BundleRejectedError(
      `bundle refused: it is model '${manifest.name}' but this team environment serves '${store.modelName}' ` +
        '(serving.modelName in the team config); nothing was written',
    );
  }
  const { version } = manifest;
  // The quality verdict (model-bundle.md "Quality") gates before any write.
  const quality = checkQuality(manifest, { requireTarget: options.requireTarget });
  if (quality.refusal) throw new BundleRejectedError(`${quality.refusal}; nothing was written`);
  const files = versionContent(dir, manifest);
  const toWrite = await filesToWrite(ctx, version, files);
  const uploaded: string[] = [];
  for (const f of toWrite) {
    const at = `${versionDir(version)}/${f.name}`;
    if (await putNewObject(store, at, f.body, f.sha256, f.contentType)) uploaded.push(f.name);
    // Another publisher of this version wrote the file first: fine only if it is these bytes.
    else if (!(await storedAs(ctx, version, f))) {
      throw new BundleRejectedError(
        `another publisher wrote a different ${f.name} to ${storeUri(store, versionDir(version))} while this one ran; ` +
          `the folder now mixes two bundles (this one wrote ${uploaded.join(', ') || 'nothing'}): remove it and publish again`,
      );
    }
  }

  const uri = storeUri(store, versionDir(version));
  let pkg = await findPackage(registry, version);
  const packageCreated = !pkg;
  pkg ??= await registerPackage(registry, {
    modelName: store.modelName,
    version,
    bundleUri: uri,
    qualityUri: `${uri}/${MODEL_QUALITY_FILE}`,
    trainingJobArn: options.trainingJobArn,
    pipelineExecutionArn: options.pipelineExecutionArn,
  });

  let madeProduction = false;
  const production = await readAlias(store, 'production');
  if (!production.alias && pkg.status === 'Approved') {
    await writeAlias(store, production, {
      version,
      updated_at: ctx.now().toISOString(),
      updated_by: await ctx.actor(),
      reason: 'first published version of the model (its package is approved)',
    });
    madeProduction = true;
  }
  return {
    model: store.modelName,
    version,
    uri,
    uploaded,
    package: pkg,
    packageCreated,
    madeProduction,
    unchanged: uploaded.length === 0 && !packageCreated && !madeProduction,
    warnings: quality.warnings,
  };
}
