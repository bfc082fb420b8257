import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EMULATOR_KMS_KEY, emulatorNames, seedEmulatorTeam } from '../../scripts/emulator-team';
import { DUMMY_CREDENTIALS, REGION, startMoto, type Moto } from '../training/aws-fixtures';
import { recordingRuntime, removeTempDirs, tempDir } from '../training/helpers';
import { main } from '../../training/launcher/model';
import type { Lifecycle } from '../../training/launcher/lifecycle/context';

export const TEAM = 'fraud';
export const MODEL = 'churn';
export const { bucket: BUCKET, group: GROUP } = emulatorNames({
  team: TEAM,
  stage: 'dev',
  modelName: MODEL,
});
/** The key the emulator team's objects are encrypted with. */
export const KMS_KEY = EMULATOR_KMS_KEY;
export const OUTPUT_URI = `s3://${BUCKET}/training`;

/** Parsed JSON that a test reads or edits freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** The service's test bundle (serving/test/fixtures/churn): a real model with golden vectors. */
export const FIXTURE = path.join(__dirname, '..', '..', 'serving', 'test', 'fixtures', 'churn');

/** A team environment on moto as its stack leaves it: parameters, a versioned bucket, a group. */
export async function seedModelTeam(moto: Moto, approval: 'manual' | 'auto' = 'auto') {
  await seedEmulatorTeam({
    endpoint: moto.url,
    region: REGION,
    team: TEAM,
    stage: 'dev',
    modelName: MODEL,
    approval,
  });
}

export function sageMakerOf(moto: Moto): SageMakerClient {
  return new SageMakerClient({
    region: REGION,
    endpoint: moto.url,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

/**
 * A copy of the fixture bundle as version `version`, optionally changed by `edit` (which gets
 * the parsed manifest and golden file and the folder).
 */
export function bundle(
  version: string,
  edit?: (files: { manifest: Json; golden: Json; dir: string }) => void,
): string {
  const dir = tempDir(`bundle-${version}-`);
  cpSync(FIXTURE, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const golden = JSON.parse(readFileSync(path.join(dir, 'golden.json'), 'utf8'));
  manifest.version = version;
  edit?.({ manifest, golden, dir });
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(path.join(dir, 'golden.json'), JSON.stringify(golden));
  return dir;
}

/** model.tar.gz the way SageMaker writes it (files at the archive root), uploaded to `uri`. */
export async function putArchive(moto: Moto, dir: string, uri: string): Promise<void> {
  const archive = path.join(tempDir('archive-'), 'model.tar.gz');
  spawnSync('tar', ['-czf', archive, '-C', dir, '.']);
  await putBytes(moto, uri, readFileSync(archive));
}

export async function putBytes(moto: Moto, uri: string, body: Buffer | string): Promise<void> {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri)!;
  await moto.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** A lifecycle context on moto, as the approval Lambda builds one (path-style S3 for moto). */
export function lifecycleOn(moto: Moto, s3 = motoS3(moto)): Lifecycle {
  return {
    store: { s3, bucket: BUCKET, modelName: MODEL, kmsKeyArn: KMS_KEY },
    registry: { sagemaker: sageMakerOf(moto), group: GROUP, approval: 'manual' },
    now: () => new Date('2026-12-01T10:05:00Z'),
    actor: async () => 'lambda:mlp-fraud-dev-model-approval',
  };
}

export function motoS3(moto: Moto): S3Client {
  return new S3Client({
    region: REGION,
    endpoint: moto.url,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

/** For a describe block: a moto server seeded as a deployed team, torn down after it. */
export function lifecycleSuite(approval: 'manual' | 'auto' = 'auto'): { readonly moto: Moto } {
  const suite = {} as { moto: Moto };
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    suite.moto = await startMoto();
    Object.assign(process.env, DUMMY_CREDENTIALS);
    await seedModelTeam(suite.moto, approval);
  });
  afterAll(async () => {
    removeTempDirs();
    process.env = savedEnv;
    await suite.moto.stop();
  });
  return suite;
}

/** Runs `npm run model -- ...args` against moto; returns the exit code and the output lines. */
export async function model(moto: Moto, ...args: string[]) {
  const runtime = recordingRuntime(DUMMY_CREDENTIALS, [], new Date('2026-12-01T10:00:00Z'));
  const code = await main(
    [...args, '--team', TEAM, '--region', REGION, '--endpoint-url', moto.url],
    runtime,
  );
  return { code, out: runtime.out.join('\n'), err: runtime.err };
}

/** `npm run model -- ... --json`, parsed. */
export async function modelJson<T = Json>(moto: Moto, ...args: string[]): Promise<T> {
  const r = await model(moto, ...args, '--json');
  if (r.code !== 0)
    throw new Error(`model ${args.join(' ')} exited ${r.code}: ${r.err.join('\n')}`);
  return JSON.parse(r.out) as T;
}
