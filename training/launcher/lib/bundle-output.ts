import type { S3Client } from '@aws-sdk/client-s3';
import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import { downloadBundle } from './s3';

/** Downloads and unpacks the job's model.tar.gz; the bundle folder is the last stdout line. */
export async function fetchBundle(
  s3: S3Client,
  artifactUri: string,
  options: Options,
  runtime: Runtime,
): Promise<void> {
  runtime.stderr(`downloading ${artifactUri}`);
  const bundle = await downloadBundle(s3, artifactUri, options.out);
  runtime.stdout(`model.tar.gz: ${artifactUri}`);
  runtime.stdout(bundle);
}
