import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  type AliasFile,
  type AliasName,
  aliasFile,
  parseAliasFile,
  versionDir,
} from '../../../serving/src/store/layout';
import { AliasConflictError, LauncherError } from '../cli/errors';
import { aws } from '../lib/aws';
import { type ModelStore, modelPrefix, storeUri } from './context';

/** An alias as read, with the ETag a conditional write must match (none: it does not exist). */
export interface AliasState {
  readonly name: AliasName;
  readonly alias: AliasFile | null;
  readonly etag?: string;
}

function key(store: ModelStore, path: string): string {
  return `${modelPrefix(store)}/${path}`;
}

function isMissing(err: unknown): boolean {
  const name = (err as Error).name;
  return name === 'NoSuchKey' || name === 'NotFound';
}

/** Conditional writes that lost: someone else wrote first (412), or wrote at the same time (409). */
function isConflict(err: unknown): boolean {
  const name = (err as Error).name;
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict';
}

/** The object's bytes, or null when it does not exist. */
export async function readObject(
  store: ModelStore,
  path: string,
  versionId?: string,
): Promise<{ body: Buffer; etag?: string } | null> {
  try {
    const res = await store.s3.send(
      new GetObjectCommand({ Bucket: store.bucket, Key: key(store, path), VersionId: versionId }),
    );
    return { body: Buffer.from(await res.Body!.transformToByteArray()), etag: res.ETag };
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

function parseAlias(name: AliasName, text: string, where: string): AliasFile {
  try {
    return parseAliasFile(name, text);
  } catch (err) {
    throw new LauncherError(`${where}: ${(err as Error).message}; fix or remove it`);
  }
}

export async function readAlias(store: ModelStore, name: AliasName): Promise<AliasState> {
  const path = aliasFile(name);
  const found = await aws(`reading ${storeUri(store, path)}`, () => readObject(store, path));
  if (!found) return { name, alias: null };
  return {
    name,
    alias: parseAlias(name, found.body.toString('utf8'), storeUri(store, path)),
    etag: found.etag,
  };
}

/**
 * Writes an alias only if it is still what `expected` read (S3 If-Match, or If-None-Match for
 * an alias that did not exist), so two concurrent writers cannot silently overwrite each other.
 */
export async function writeAlias(
  store: ModelStore,
  expected: AliasState,
  content: AliasFile,
): Promise<void> {
  const path = aliasFile(expected.name);
  try {
    await aws(`writing ${storeUri(store, path)}`, () =>
      store.s3.send(
        new PutObjectCommand({
          Bucket: store.bucket,
          Key: key(store, path),
          Body: `${JSON.stringify(content, null, 2)}\n`,
          ContentType: 'application/json',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: store.kmsKeyArn,
          ...(expected.etag ? { IfMatch: expected.etag } : { IfNoneMatch: '*' }),
        }),
      ),
    );
  } catch (err) {
    // If-Match on an alias deleted meanwhile answers NoSuchKey: also someone else's change.
    if (isConflict(err) || (expected.etag && isMissing(err))) {
      throw new AliasConflictError(
        `${storeUri(store, path)} changed while this command ran (another promote, rollback or ` +
          `approval moved it first); nothing was written: run status and try again`,
      );
    }
    throw err;
  }
}

/** Every earlier content of an alias, newest first, from S3 versioning of the object. */
export async function aliasHistory(store: ModelStore, name: AliasName): Promise<AliasFile[]> {
  const path = aliasFile(name);
  const k = key(store, path);
  const versions: { id: string; at: number }[] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  do {
    const page = await aws(`listing the history of ${storeUri(store, path)}`, () =>
      store.s3.send(
        new ListObjectVersionsCommand({
          Bucket: store.bucket,
          Prefix: k,
          KeyMarker,
          VersionIdMarker,
        }),
      ),
    );
    for (const v of page.Versions ?? []) {
      if (v.Key === k && v.VersionId && v.VersionId !== 'null')
        versions.push({ id: v.VersionId, at: v.LastModified?.getTime() ?? 0 });
    }
    KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    VersionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (KeyMarker);
  versions.sort((a, b) => b.at - a.at);
  const history: AliasFile[] = [];
  for (const v of versions) {
    const found = await aws(`reading ${storeUri(store, path)} version ${v.id}`, () =>
      readObject(store, path, v.id),
    );
    if (found) history.push(parseAlias(name, found.body.toString('utf8'), storeUri(store, path)));
  }
  return history;
}

/** The versions in the store: the folders under `versions/`. */
export async function storeVersions(store: ModelStore): Promise<string[]> {
  const prefix = `${key(store, versionDir(''))}`;
  const found: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await aws(`listing ${storeUri(store, versionDir(''))}`, () =>
      store.s3.send(
        new ListObjectsV2Command({
          Bucket: store.bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken,
        }),
      ),
    );
    for (const p of page.CommonPrefixes ?? [])
      if (p.Prefix) found.push(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return found;
}

/** The keys under a version's folder, relative to it. */
export async function versionFiles(store: ModelStore, version: string): Promise<string[]> {
  const prefix = `${key(store, versionDir(version))}/`;
  const found: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await aws(`listing ${storeUri(store, versionDir(version))}`, () =>
      store.s3.send(
        new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, ContinuationToken }),
      ),
    );
    for (const o of page.Contents ?? []) if (o.Key) found.push(o.Key.slice(prefix.length));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return found;
}

/** A version's manifest.json as JSON, or null when the store has no such version. */
export async function readVersionManifest(
  store: ModelStore,
  version: string,
): Promise<Record<string, unknown> | null> {
  const path = `${versionDir(version)}/manifest.json`;
  const found = await aws(`reading ${storeUri(store, path)}`, () => readObject(store, path));
  if (!found) return null;
  try {
    return JSON.parse(found.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new LauncherError(`${storeUri(store, path)} is not valid JSON`);
  }
}

/**
 * Writes a file of a version only if no object is there yet (If-None-Match): a version, once
 * written, is never overwritten. Returns false when an object was there already.
 */
export async function putNewObject(
  store: ModelStore,
  path: string,
  body: Buffer,
  sha256: string,
  contentType: string,
): Promise<boolean> {
  try {
    await aws(`uploading ${storeUri(store, path)}`, () =>
      store.s3.send(
        new PutObjectCommand({
          Bucket: store.bucket,
          Key: key(store, path),
          Body: body,
          ContentType: contentType,
          Metadata: { sha256 },
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: store.kmsKeyArn,
          IfNoneMatch: '*',
        }),
      ),
    );
    return true;
  } catch (err) {
    if (isConflict(err)) return false;
    throw err;
  }
}
