import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { removeTempDirs, tempDir } from './helpers';

export const REGION = 'eu-west-1';
export const TEAM = 'fraud';
export const KMS_KEY =
  'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';

/** What the team's training stack writes into SSM (docs/training-contract.md). */
export const TRAINING_PARAMETERS: Record<string, string> = {
  'role-arn': 'arn:aws:iam::123456789012:role/fraud-dev-training',
  'image-uri': '123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-trainer:1.0.0',
  'instance-type': 'ml.g5.xlarge',
  'data-s3-uri': 's3://fraud-dev-data/features/training',
  'output-s3-uri': 's3://fraud-dev-models/training/',
  'checkpoint-s3-uri': 's3://fraud-dev-models/checkpoints',
  'kms-key-arn': KMS_KEY,
  'subnet-ids': 'subnet-0aaa,subnet-0bbb',
  'security-group-ids': 'sg-0ccc',
  'max-runtime-seconds': '7200',
  'max-wait-seconds': '14400',
  'batch/job-queue': 'arn:aws:batch:eu-west-1:123456789012:job-queue/fraud-dev-gpu',
  'batch/job-definition': 'arn:aws:batch:eu-west-1:123456789012:job-definition/fraud-dev-trainer:3',
};

export const DUMMY_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: REGION,
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Moto {
  readonly url: string;
  readonly s3: S3Client;
  readonly ssm: SSMClient;
  stop(): Promise<void>;
}

/** A real moto server on a free loopback port ($MOTO_PYTHON, default python3, needs moto). */
export async function startMoto(): Promise<Moto> {
  const python = process.env.MOTO_PYTHON ?? 'python3';
  const port = await freePort();
  const child: ChildProcess = spawn(
    python,
    ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null)
      throw new Error(`moto server exited (${python} -m moto.server): ${stderr}`);
    try {
      if ((await fetch(`${url}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 150) throw new Error(`moto server did not start on ${url}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const config = {
    region: REGION,
    endpoint: url,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  return {
    url,
    s3: new S3Client({ ...config, forcePathStyle: true }),
    ssm: new SSMClient(config),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function seedTeam(
  moto: Moto,
  team = TEAM,
  stage = 'dev',
  overrides: Record<string, string> = {},
) {
  for (const [name, value] of Object.entries({ ...TRAINING_PARAMETERS, ...overrides })) {
    await moto.ssm.send(
      new PutParameterCommand({
        Name: `/ml-platform/${team}/${stage}/training/${name}`,
        Value: value,
        Type: name.endsWith('-ids') ? 'StringList' : 'String',
        Overwrite: true,
      }),
    );
  }
  for (const bucket of ['fraud-dev-data', 'fraud-dev-models']) {
    await moto.s3
      .send(
        new CreateBucketCommand({
          Bucket: bucket,
          CreateBucketConfiguration: { LocationConstraint: REGION },
        }),
      )
      .catch((err: Error) => {
        if (err.name !== 'BucketAlreadyOwnedByYou') throw err;
      });
  }
}

/** A small model.tar.gz (a manifest and an onnx stand-in) uploaded where a finished job leaves it. */
export async function putBundle(moto: Moto, uri: string): Promise<void> {
  const dir = tempDir('fake-bundle-');
  mkdirSync(path.join(dir, 'model'));
  writeFileSync(
    path.join(dir, 'model', 'manifest.json'),
    JSON.stringify({ schema_version: 1, name: 'churn' }),
  );
  writeFileSync(path.join(dir, 'model', 'model.onnx'), 'onnx');
  spawnSync('tar', ['-czf', path.join(dir, 'model.tar.gz'), '-C', path.join(dir, 'model'), '.']);
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)!;
  await moto.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: readFileSync(path.join(dir, 'model.tar.gz')),
    }),
  );
}

/** Runs `fn` with no credentials anywhere the SDK looks; restores the environment after. */
export async function withoutCredentials<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const key of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
  ])
    delete process.env[key];
  Object.assign(process.env, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  });
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

/** Options every AWS-mode test passes: the moto endpoint, a fixed job name, no real waits. */
export function awsArgs(moto: Moto, ...extra: string[]): string[] {
  return ['--team', TEAM, '--region', REGION, '--endpoint-url', moto.url, ...extra];
}

/**
 * For a describe block: a seeded moto server and dummy credentials before its tests, and
 * everything stopped, restored and removed after them.
 */
export function motoSuite(): { readonly moto: Moto } {
  const suite = {} as { moto: Moto };
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    suite.moto = await startMoto();
    Object.assign(process.env, DUMMY_CREDENTIALS);
    await seedTeam(suite.moto);
  });
  afterAll(async () => {
    removeTempDirs();
    process.env = savedEnv;
    await suite.moto.stop();
  });
  return suite;
}

/**
 * SageMaker mocked at the SDK boundary (moto's training and tuning jobs are static stubs), next
 * to a moto server for S3 and SSM that holds the job's bundle at `artifact`.
 */
export function sageMakerBoundarySuite(artifact: string) {
  const sagemaker = mockClient(SageMakerClient);
  const suite = motoSuite();
  beforeAll(async () => {
    await putBundle(suite.moto, artifact);
  });
  afterAll(() => {
    sagemaker.restore();
  });
  beforeEach(() => sagemaker.reset());
  return { sagemaker, suite };
}
