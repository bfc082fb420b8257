import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DUMMY_CREDENTIALS, KMS_KEY, seedTeam, startMoto, type Moto } from './aws-fixtures';
import { removeTempDirs, tempDir } from './helpers';

/**
 * The trainer image's entry point as AWS Batch runs it: it stages data and checkpoints from
 * S3 (moto here), runs the real trainer and uploads model.tar.gz or the failure reason.
 * boto3 comes with moto's python; the trainer runs with the python that has PyTorch.
 */
const ENTRY = path.join(__dirname, '../../training/reference/entry.py');
const REFERENCE = path.join(__dirname, '../../training/reference');
const BOTO_PYTHON = process.env.MOTO_PYTHON ?? 'python3';
const TORCH_PYTHON = process.env.TRAINER_PYTHON ?? '/usr/bin/python3';

describe('training/reference/entry.py on AWS Batch', () => {
  let moto: Moto;

  beforeAll(async () => {
    moto = await startMoto();
    await seedTeam(moto);
  });
  afterAll(async () => {
    removeTempDirs();
    await moto.stop();
  });

  async function uploadSample(job: string, edit: (csv: string) => string = (c) => c) {
    const dir = tempDir('batch-sample-');
    spawnSync(BOTO_PYTHON, ['-m', 'ml_trainer.sample_data', '--out', dir, '--rows', '1500'], {
      cwd: REFERENCE,
    });
    for (const file of ['train.csv', 'schema.json']) {
      const body = readFileSync(path.join(dir, file), 'utf8');
      await moto.s3.send(
        new PutObjectCommand({
          Bucket: 'fraud-dev-data',
          Key: `features/training/${job}/train/${file}`,
          Body: file === 'train.csv' ? edit(body) : body,
        }),
      );
    }
  }

  function runEntry(job: string) {
    const root = tempDir('batch-root-');
    writeFileSync(path.join(root, '.keep'), '');
    return spawnSync(BOTO_PYTHON, [ENTRY, 'train'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        PATH: process.env.PATH,
        ...DUMMY_CREDENTIALS,
        AWS_ENDPOINT_URL: moto.url,
        ML_ROOT: root,
        ML_INPUT_S3_URI: `s3://fraud-dev-data/features/training/${job}/`,
        ML_OUTPUT_S3_URI: `s3://fraud-dev-models/training/${job}/output/`,
        ML_CHECKPOINT_S3_URI: `s3://fraud-dev-models/checkpoints/${job}/`,
        ML_KMS_KEY_ARN: KMS_KEY,
        ML_HYPERPARAMETERS: '{"epochs": "3"}',
        ML_TRAINER_PYTHON: TORCH_PYTHON,
      },
    });
  }

  async function keys(prefix: string): Promise<string[]> {
    const listed = await moto.s3.send(
      new ListObjectsV2Command({ Bucket: 'fraud-dev-models', Prefix: prefix }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  }

  test('downloads the channels, trains, uploads bundle and checkpoints; a retry resumes', async () => {
    await uploadSample('batch-ok');
    const result = runEntry('batch-ok');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('downloaded 2 input files');
    expect(result.stdout).toMatch(/^epoch=3 /m);
    expect(await keys('training/batch-ok/')).toEqual([
      'training/batch-ok/output/evaluation.json',
      'training/batch-ok/output/model.tar.gz',
    ]);
    expect(await keys('checkpoints/batch-ok/')).toEqual(['checkpoints/batch-ok/checkpoint.pt']);
    const archive = await moto.s3.send(
      new GetObjectCommand({
        Bucket: 'fraud-dev-models',
        Key: 'training/batch-ok/output/model.tar.gz',
      }),
    );
    expect(archive.ServerSideEncryption).toBe('aws:kms');

    // WHEN the attempt is retried (a spot reclaim), it resumes from the checkpoint in S3
    const retry = runEntry('batch-ok');
    expect(retry.status).toBe(0);
    expect(retry.stdout).toContain("restored checkpoints ['checkpoint.pt']");
    expect(retry.stdout).toContain('resumed from checkpoint at epoch 3');
  });

  test('uploads the trainer’s failure reason where the launcher reads it', async () => {
    await uploadSample('batch-bad', (csv) => csv.replace(/,churn$/gm, ',stay'));
    const result = runEntry('batch-bad');
    expect(result.status).toBe(1);
    const failure = await moto.s3.send(
      new GetObjectCommand({
        Bucket: 'fraud-dev-models',
        Key: 'training/batch-bad/output/failure',
      }),
    );
    expect((await failure.Body!.transformToString()).trim()).toBe(
      "data check failed: label column 'outcome' has only one class ('stay')",
    );
  });
});
