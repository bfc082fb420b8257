import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { BundleError } from '../bundle/manifest';
import type { BundleFiles } from '../bundle/model';
import { type AliasFile, type AliasName, aliasFile, parseAliasFile } from './layout';

/**
 * The AWS SDK is loaded on first use: a service on a local bundle does not pay ~40 MB and
 * a few hundred ms of cold start for it.
 */
export function s3Sdk(): typeof import('@aws-sdk/client-s3') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@aws-sdk/client-s3');
}

/**
 * Where bundles come from. Paths are relative to the source root, which is either a plain
 * bundle folder (has manifest.json) or one model's folder in a store (aliases/ + versions/).
 */
export interface BlobSource {
  readonly description: string;
  /**
   * Throws when the root cannot hold models at all (a local folder that does not exist: a typo
   * that no publish would fix). An empty root is fine: it is a store with no model yet.
   */
  checkRoot(): Promise<void>;
  /** The object's bytes, or null when it does not exist. */
  read(path: string): Promise<Buffer | null>;
}

export class LocalSource implements BlobSource {
  constructor(readonly root: string) {}
  get description(): string {
    return this.root;
  }
  async checkRoot(): Promise<void> {
    const found = await stat(this.root).catch(() => null);
    if (!found?.isDirectory()) throw new BundleError(`${this.root}: no such folder (SERVING_MODEL_SOURCE)`, 'startup');
  }
  async read(path: string): Promise<Buffer | null> {
    try {
      return await readFile(join(this.root, path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }
}

export class S3Source implements BlobSource {
  readonly bucket: string;
  readonly prefix: string;
  constructor(
    uri: string,
    private readonly client: S3Client,
  ) {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
    if (!m) throw new Error(`not an s3:// URI: ${uri}`);
    this.bucket = m[1]!;
    this.prefix = m[2]!.replace(/\/+$/, '');
  }
  get description(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }
  /** Any prefix can hold a store; a missing bucket or a denied read shows in the first read. */
  async checkRoot(): Promise<void> {}
  async read(path: string): Promise<Buffer | null> {
    const key = this.prefix ? `${this.prefix}/${path}` : path;
    const { GetObjectCommand, NoSuchKey } = s3Sdk();
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return null;
      throw e;
    }
  }
}

export function s3Client(opts: { forcePathStyle: boolean }): S3Client {
  // Region, credentials and AWS_ENDPOINT_URL_S3 come from the standard SDK chain (IRSA in EKS).
  return new (s3Sdk().S3Client)({ forcePathStyle: opts.forcePathStyle, maxAttempts: 3 });
}

export function openSource(uri: string, opts: { forcePathStyle: boolean }): BlobSource {
  return uri.startsWith('s3://') ? new S3Source(uri, s3Client(opts)) : new LocalSource(uri);
}

async function required(source: BlobSource, path: string, reason: string): Promise<Buffer> {
  const buf = await source.read(path);
  if (!buf) throw new BundleError(`${source.description}/${path}: not found`, reason);
  return buf;
}

/** Reads the three files of the bundle at `dir` ('' = the source root). */
export async function readBundle(source: BlobSource, dir: string): Promise<BundleFiles> {
  const at = (f: string) => (dir ? `${dir}/${f}` : f);
  const manifest = await required(source, at('manifest.json'), 'missing_file');
  let names: { model?: { file?: unknown }; golden?: unknown } = {};
  try {
    names = JSON.parse(manifest.toString('utf8'));
  } catch {
    // parseManifest reports the JSON error with its position
  }
  const modelFile = typeof names.model?.file === 'string' ? names.model.file : 'model.onnx';
  const goldenFile = typeof names.golden === 'string' ? names.golden : 'golden.json';
  for (const f of [modelFile, goldenFile])
    if (f.includes('/') || f.includes('\\') || f === '..') throw new BundleError(`manifest.json: bad file name ${f}`, 'manifest');
  const [model, golden] = await Promise.all([source.read(at(modelFile)), source.read(at(goldenFile))]);
  const missing = [!model && modelFile, !golden && goldenFile].filter(Boolean);
  if (!model || !golden)
    throw new BundleError(`${source.description}${dir ? `/${dir}` : ''}: ${missing.join(' and ')}: not found`, 'missing_file');
  return { manifest, model, golden };
}

/** Reads the alias file; null when absent. Throws a BundleError on a malformed alias. */
export async function readAlias(source: BlobSource, alias: AliasName): Promise<AliasFile | null> {
  const buf = await source.read(aliasFile(alias));
  if (!buf) return null;
  try {
    return parseAliasFile(alias, buf.toString('utf8'));
  } catch (e) {
    throw new BundleError((e as Error).message, 'alias');
  }
}

export async function isPlainBundle(source: BlobSource): Promise<boolean> {
  return (await source.read('manifest.json')) !== null;
}
