import { DescribeTrainingJobCommand, type SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { S3Client } from '@aws-sdk/client-s3';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BundleRejectedError, LauncherError, UsageError } from '../cli/errors';
import { aws } from '../lib/aws';
import { downloadBundle } from '../lib/s3';
import { s3Join } from '../lib/s3-uri';

/** A bundle folder ready to publish, and what produced it. */
export interface BundleSource {
  readonly dir: string;
  /** What the user named: a job, a URI or a folder. */
  readonly description: string;
  readonly trainingJobArn?: string;
  /** Removes what was downloaded (nothing for a local folder). */
  cleanup(): void;
}

const JOB_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

async function describeJob(sagemaker: SageMakerClient, name: string) {
  try {
    return await aws(`describing training job ${name}`, () =>
      sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: name })),
    );
  } catch (err) {
    // SageMaker answers an unknown job with a ValidationException.
    if ((err as Error).name === 'ValidationException') return undefined;
    throw err;
  }
}

async function download(s3: S3Client, uri: string): Promise<{ dir: string; cleanup(): void }> {
  const target = mkdtempSync(path.join(os.tmpdir(), 'ml-publish-'));
  const cleanup = () => rmSync(target, { recursive: true, force: true });
  try {
    return { dir: await downloadBundle(s3, uri, target), cleanup };
  } catch (err) {
    cleanup();
    const name = (err as Error).name;
    if (name === 'NoSuchKey' || name === 'NoSuchBucket')
      throw new UsageError(`${uri} does not exist (${name})`);
    // Plain LauncherErrors here are the archive's: unreadable, refused (tarball.ts), or no manifest.
    if (err instanceof LauncherError && err.constructor === LauncherError)
      throw new BundleRejectedError(
        `bundle refused: ${err.message.includes(uri) ? '' : `${uri}: `}${err.message}`,
      );
    throw err;
  }
}

/**
 * Resolves `publish`'s argument: a local bundle folder, an `s3://.../model.tar.gz`, or the
 * name of a completed training job (its model artifact). A job's output URI under the team's
 * `output-s3-uri` is traced back to the job, for lineage.
 */
export async function resolveBundle(
  arg: string,
  clients: { s3: S3Client; sagemaker: SageMakerClient },
  outputS3Uri: string | undefined,
): Promise<BundleSource> {
  if (arg.startsWith('s3://')) {
    let trainingJobArn: string | undefined;
    const base = outputS3Uri && `${s3Join(outputS3Uri)}/`;
    const job =
      base &&
      arg.startsWith(base) &&
      /^([^/]+)\/output\/model\.tar\.gz$/.exec(arg.slice(base.length));
    if (job) trainingJobArn = (await describeJob(clients.sagemaker, job[1]))?.TrainingJobArn;
    return { ...(await download(clients.s3, arg)), description: arg, trainingJobArn };
  }
  if (existsSync(arg)) {
    if (!statSync(arg).isDirectory())
      throw new UsageError(
        `${arg} is not a folder: publish takes a bundle folder, an s3:// URI or a training job name`,
      );
    return { dir: path.resolve(arg), description: path.resolve(arg), cleanup: () => undefined };
  }
  if (!JOB_NAME.test(arg))
    throw new UsageError(`'${arg}' is not a folder, an s3:// URI or a training job name`);
  const job = await describeJob(clients.sagemaker, arg);
  if (!job)
    throw new UsageError(`'${arg}' is not a folder, an s3:// URI or a training job of this region`);
  if (job.TrainingJobStatus !== 'Completed')
    throw new UsageError(
      `training job ${arg} is ${job.TrainingJobStatus}: only a completed job has a model to publish`,
    );
  const artifact = job.ModelArtifacts?.S3ModelArtifacts;
  if (!artifact) throw new UsageError(`training job ${arg} has no model artifacts`);
  return {
    ...(await download(clients.s3, artifact)),
    description: `training job ${arg} (${artifact})`,
    trainingJobArn: job.TrainingJobArn,
  };
}
