import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { LauncherError } from '../cli/errors';
import { aws } from './aws';
import type { Channels } from './dataset';
import { s3Join } from './s3-uri';
import { unpackArchive } from './tarball';

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new LauncherError(`not an s3:// URI: '${uri}'`);
  return { bucket: match[1], key: match[2] };
}

/** Uploads each channel folder to `<prefix>/<channel>/`, SSE-KMS with the team key; returns the channel URIs. */
export async function uploadChannels(
  s3: S3Client,
  channels: Channels,
  prefix: string,
  kmsKeyArn: string,
  progress: (line: string) => void,
): Promise<Record<string, string>> {
  const uris: Record<string, string> = {};
  for (const [channel, dir] of Object.entries(channels)) {
    const channelUri = s3Join(prefix, channel) + '/';
    const files = readdirSync(dir).filter((f) => f.endsWith('.csv') || f === 'schema.json');
    for (const file of files) {
      const { bucket, key } = parseS3Uri(s3Join(channelUri, file));
      await aws(`uploading ${file} to s3://${bucket}/${key}`, () =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: readFileSync(path.join(dir, file)),
            ServerSideEncryption: 'aws:kms',
            SSEKMSKeyId: kmsKeyArn,
          }),
        ),
      );
    }
    progress(`uploaded ${channel} (${files.length} files) to ${channelUri}`);
    uris[channel] = channelUri;
  }
  return uris;
}

/** Returns the object's text, or undefined when it does not exist. */
export async function readTextIfExists(s3: S3Client, uri: string): Promise<string | undefined> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await response.Body?.transformToString();
  } catch (err) {
    const name = (err as Error).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
    throw err;
  }
}

/** Downloads model.tar.gz and unpacks it into `outDir` (default: a new temp folder); returns the bundle folder. */
export async function downloadBundle(
  s3: S3Client,
  artifactUri: string,
  outDir: string | undefined,
): Promise<string> {
  const { bucket, key } = parseS3Uri(artifactUri);
  const target = outDir ? path.resolve(outDir) : mkdtempSync(path.join(os.tmpdir(), 'ml-bundle-'));
  mkdirSync(target, { recursive: true });
  const archive = path.join(target, 'model.tar.gz');
  const response = await aws(`downloading ${artifactUri}`, () =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
  );
  await pipeline(response.Body as Readable, createWriteStream(archive));
  const bundle = path.join(target, 'model');
  unpackArchive(archive, bundle);
  if (!existsSync(path.join(bundle, 'manifest.json'))) {
    throw new LauncherError(`${artifactUri} is not a model bundle: it has no manifest.json`);
  }
  return bundle;
}
