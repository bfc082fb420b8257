/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
import { ListObjectVersionsCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateTrainingJobCommand,
  DescribeModelPackageCommand,
  ListModelPackagesCommand,
} from '@aws-sdk/client-sagemaker';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { Moto } from '../training/aws-fixtures';
import {
  BUCKET,
  KMS_KEY,
  GROUP,
  OUTPUT_URI,
  bundle,
  lifecycleSuite,
  model,
  modelJson,
  putArchive,
  putBytes,
  sageMakerOf,
} from './fixtures';

const STORE = `s3://${BUCKET}/models/churn/versions`;

/** Every object version under the store (S3 versioning): any write shows up here. */
async function storeWrites(suite: { moto: Moto }): Promise<string[]> {
  const res = await suite.moto.s3.send(
    new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: 'models/' }),
  );
  return (res.Versions ?? []).map((v) => `${v.Key}@${v.VersionId}`).sort();
}

async function packageCount(suite: { moto: Moto }): Promise<number> {
  const res = await sageMakerOf(suite.moto).send(
    new ListModelPackagesCommand({ ModelPackageGroupName: GROUP }),
  );
  return res.ModelPackageSummaryList?.length ?? 0;
}

/** A training job as moto keeps it (Completed at once, artifact under the output path). */
function completedJob(moto: Moto, name: string) {
  return sageMakerOf(moto).send(
    new CreateTrainingJobCommand({
      TrainingJobName: name,
      RoleArn: 'arn:aws:iam::123456789012:role/fraud-dev-training',
      AlgorithmSpecification: { TrainingImage: 'trainer:1', TrainingInputMode: 'File' },
      OutputDataConfig: { S3OutputPath: `${OUTPUT_URI}/` },
      ResourceConfig: { InstanceType: 'ml.g5.xlarge', InstanceCount: 1, VolumeSizeInGB: 50 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    }),
  );
}

describe('npm run model -- publish against moto', () => {
  const suite = lifecycleSuite('auto');

  test('publishes a folder: verified, uploaded with the team key, registered, first version serves', async () => {
    // GIVEN a bundle folder that passes the service's checks
    const dir = bundle('v-folder');
    // WHEN
    const result = await modelJson(suite.moto, 'publish', dir);
    // THEN the version folder holds the bundle and its quality statistics
    expect(result).toMatchObject({
      model: 'churn',
      version: 'v-folder',
      uri: `${STORE}/v-folder`,
      uploaded: ['golden.json', 'model_quality.json', 'model.onnx', 'manifest.json'],
      packageCreated: true,
      madeProduction: true,
      unchanged: false,
      package: { status: 'Approved', version: 'v-folder' },
    });
    const onnx = await suite.moto.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'models/churn/versions/v-folder/model.onnx' }),
    );
    expect(onnx.ServerSideEncryption).toBe('aws:kms');
    expect(onnx.SSEKMSKeyId).toBe(KMS_KEY);
    // AND the registry holds a package with the test and segment metrics as ModelQuality
    const pkg = await sageMakerOf(suite.moto).send(
      new DescribeModelPackageCommand({ ModelPackageName: result.package.arn }),
    );
    expect(pkg.ModelPackageGroupName).toBe(GROUP);
    expect(pkg.ModelApprovalStatus).toBe('Approved');
    expect(pkg.ModelMetrics?.ModelQuality?.Statistics).toEqual({
      ContentType: 'application/json',
      S3Uri: `${STORE}/v-folder/model_quality.json`,
    });
    expect(pkg.CustomerMetadataProperties).toMatchObject({
      'ml-platform:model': 'churn',
      'ml-platform:version': 'v-folder',
      'ml-platform:bundle-uri': `${STORE}/v-folder`,
    });
    const quality = JSON.parse(
      await (
        await suite.moto.s3.send(
          new GetObjectCommand({
            Bucket: BUCKET,
            Key: 'models/churn/versions/v-folder/model_quality.json',
          }),
        )
      ).Body!.transformToString(),
    );
    expect(quality.binary_classification_metrics).toMatchObject({
      accuracy: { value: 0.718 },
      roc_auc: { value: 0.7707 },
      confusion_matrix: { stay: { stay: 559, churn: 89 }, churn: { stay: 193, churn: 159 } },
    });
    expect(quality.segments).toEqual({
      column: 'region',
      values: {
        eu: { accuracy: { value: 0.7028 }, n: { value: 397 } },
        us: { accuracy: { value: 0.7426 }, n: { value: 338 } },
        apac: { accuracy: { value: 0.7095 }, n: { value: 179 } },
      },
    });
    // AND production names it (no model served before), with who and why
    const alias = JSON.parse(
      await (
        await suite.moto.s3.send(
          new GetObjectCommand({ Bucket: BUCKET, Key: 'models/churn/aliases/production.json' }),
        )
      ).Body!.transformToString(),
    );
    expect(alias).toEqual({
      version: 'v-folder',
      updated_at: '2026-12-01T10:00:00.000Z',
      updated_by: 'arn:aws:sts::123456789012:user/moto',
      reason: 'first published version of the model (its package is approved)',
    });
  });

  test('publishing the same bytes again changes nothing', async () => {
    const dir = bundle('v-twice');
    expect((await modelJson(suite.moto, 'publish', dir)).uploaded).toHaveLength(4);
    const before = await storeWrites(suite);
    const packages = await packageCount(suite);
    // WHEN the same version is published a second time
    const again = await modelJson(suite.moto, 'publish', dir);
    // THEN no object and no package is written
    expect(again).toMatchObject({ uploaded: [], packageCreated: false, unchanged: true });
    expect(await storeWrites(suite)).toEqual(before);
    expect(await packageCount(suite)).toBe(packages);
  });

  test('completes a publish that was interrupted half way (the same bytes are there)', async () => {
    // GIVEN a version folder holding only the model, as a publish cut off after one upload
    const dir = bundle('v-resume');
    await putBytes(
      suite.moto,
      `${STORE}/v-resume/model.onnx`,
      readFileSync(path.join(dir, 'model.onnx')),
    );
    // WHEN
    const result = await modelJson(suite.moto, 'publish', dir);
    // THEN the rest is written, manifest.json last
    expect(result.uploaded).toEqual(['golden.json', 'model_quality.json', 'manifest.json']);
    expect(result.packageCreated).toBe(true);
  });

  test('refuses a different bundle under an existing version and writes nothing', async () => {
    await modelJson(suite.moto, 'publish', bundle('v-taken'));
    const before = await storeWrites(suite);
    const packages = await packageCount(suite);
    // GIVEN a bundle that verifies but differs (other metrics) under the same version
    const other = bundle('v-taken', ({ manifest }) => {
      manifest.metrics.test.accuracy = 0.99;
    });
    // WHEN
    const { code, err } = await model(suite.moto, 'publish', other);
    // THEN
    expect(code).toBe(2);
    expect(err[err.length - 1]).toBe(
      `error: ${STORE}/v-taken already holds version v-taken with a different manifest.json and model_quality.json; ` +
        'a version is never overwritten: publish a newly trained bundle (a new version). Nothing was written',
    );
    expect(await storeWrites(suite)).toEqual(before);
    expect(await packageCount(suite)).toBe(packages);
  });

  test('publishes a job’s model.tar.gz from an s3:// URI, with the job as lineage', async () => {
    // GIVEN a finished training job (moto) and its artifact where SageMaker leaves it
    const job = 'fraud-dev-train-20261201-090000';
    const created = await completedJob(suite.moto, job);
    const artifact = `${OUTPUT_URI}/${job}/output/model.tar.gz`;
    await putArchive(suite.moto, bundle('v-s3uri'), artifact);
    // WHEN
    const result = await modelJson(suite.moto, 'publish', artifact);
    // THEN
    expect(result).toMatchObject({ version: 'v-s3uri', packageCreated: true });
    const pkg = await sageMakerOf(suite.moto).send(
      new DescribeModelPackageCommand({ ModelPackageName: result.package.arn }),
    );
    expect(pkg.MetadataProperties).toEqual({ GeneratedBy: created.TrainingJobArn });
    expect(pkg.CustomerMetadataProperties?.['ml-platform:training-job']).toBe(
      created.TrainingJobArn,
    );
  });

  test('publishes from a training job name (its model artifact)', async () => {
    const job = 'fraud-dev-train-20261201-093000';
    const created = await completedJob(suite.moto, job);
    await putArchive(suite.moto, bundle('v-job'), `${OUTPUT_URI}/${job}/output/model.tar.gz`);
    const result = await modelJson(suite.moto, 'publish', job);
    expect(result).toMatchObject({ version: 'v-job', packageCreated: true });
    const pkg = await sageMakerOf(suite.moto).send(
      new DescribeModelPackageCommand({ ModelPackageName: result.package.arn }),
    );
    expect(pkg.MetadataProperties).toEqual({ GeneratedBy: created.TrainingJobArn });
  });

  test.each([
    [
      'a wrong sha256',
      () =>
        bundle('v-sha', ({ manifest }) => {
          manifest.model.sha256 = '0'.repeat(64);
        }),
      /^error: bundle refused \(sha256\): model\.onnx: sha256 is [0-9a-f]{64}, manifest says 0{64}$/,
    ],
    [
      'failing golden vectors',
      () =>
        bundle('v-golden', ({ golden }) => {
          golden.cases[0].output = [0.5, 0.5];
        }),
      /^error: bundle refused \(golden\): golden case 0: output\[0\] is [0-9.e-]+, expected 0\.5 \(atol 0\.00001\)$/,
    ],
    [
      'a manifest that breaks the schema',
      () =>
        bundle('v-schema', ({ manifest }) => {
          manifest.task = 'ranking';
        }),
      /^error: bundle refused \(manifest\): manifest\.json: task: /,
    ],
    [
      'a bundle of another model',
      () =>
        bundle('v-name', ({ manifest }) => {
          manifest.name = 'fraud-score';
        }),
      /^error: bundle refused: it is model 'fraud-score' but this team environment serves 'churn'/,
    ],
  ])('refuses %s with the reason and writes nothing', async (_what, make, message) => {
    const before = await storeWrites(suite);
    const packages = await packageCount(suite);
    const { code, err } = await model(suite.moto, 'publish', make());
    expect(code).toBe(2);
    expect(err[err.length - 1]).toMatch(message);
    expect(await storeWrites(suite)).toEqual(before);
    expect(await packageCount(suite)).toBe(packages);
  });

  describe('the quality verdict (model-bundle.md "Quality")', () => {
    const missedTarget = (version: string) =>
      bundle(version, ({ manifest }) => {
        manifest.metrics.objective = { metric: 'f1', parameter: null, target: 0.9 };
        manifest.metrics.verdict = {
          value: 0.62,
          target_met: false,
          best_baseline: 'logistic_regression',
          best_baseline_value: 0.65,
          margin: -0.03,
          beats_baselines: false,
        };
      });

    test('publishes a bundle that missed its target, with a warning for each problem', async () => {
      const { code, err } = await model(suite.moto, 'publish', missedTarget('v-missed'));
      expect(code).toBe(0);
      expect(err).toEqual(
        expect.arrayContaining([
          'warning: f1 is 0.62 on the test split: target 0.9 missed by 0.28',
          'warning: the model does not beat the logistic_regression baseline on f1: 0.62 vs 0.65',
        ]),
      );
    });

    test('--require-target refuses a bundle that missed its target, and writes nothing', async () => {
      const before = await storeWrites(suite);
      const packages = await packageCount(suite);
      const { code, err } = await model(
        suite.moto,
        'publish',
        missedTarget('v-refused'),
        '--require-target',
      );
      expect(code).toBe(2);
      expect(err[err.length - 1]).toBe(
        'error: refusing to publish (--require-target): f1 is 0.62 on the test split: target 0.9 missed by 0.28; nothing was written',
      );
      expect(await storeWrites(suite)).toEqual(before);
      expect(await packageCount(suite)).toBe(packages);
    });

    test('--require-target refuses a bundle from before the quality contract (no verdict)', async () => {
      const { code, err } = await model(suite.moto, 'publish', bundle('v-old'), '--require-target');
      expect(code).toBe(2);
      expect(err[err.length - 1]).toBe(
        'error: refusing to publish (--require-target): the manifest records no objective or verdict (a bundle from an older trainer); nothing was written',
      );
    });
  });

  test('refuses a corrupt model.tar.gz with the reason and writes nothing', async () => {
    const uri = `${OUTPUT_URI}/broken/output/model.tar.gz`;
    await putBytes(suite.moto, uri, 'this is not a gzip archive');
    const before = await storeWrites(suite);
    const { code, err } = await model(suite.moto, 'publish', uri);
    expect(code).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(
      new RegExp(
        `^error: bundle refused: ${uri.replace(/[./]/g, '\\$&')}: cannot read model\\.tar\\.gz: Unrecognized archive format \\(TAR_BAD_ARCHIVE\\)$`,
      ),
    );
    expect(await storeWrites(suite)).toEqual(before);
  });

  test('refuses a bundle whose model.onnx is not a model', async () => {
    const dir = bundle('v-onnx', ({ manifest, dir }) => {
      const junk = Buffer.from('not an onnx graph');
      writeFileSync(path.join(dir, 'model.onnx'), junk);
      manifest.model.sha256 = createHash('sha256').update(junk).digest('hex');
    });
    const { code, err } = await model(suite.moto, 'publish', dir);
    expect(code).toBe(2);
    expect(err[err.length - 1]).toMatch(
      /^error: bundle refused \(onnx\): model\.onnx: ONNX Runtime cannot load it/,
    );
  });

  test('names an argument that is neither a folder, a URI nor a job', async () => {
    const { code, err } = await model(suite.moto, 'publish', 'no-such-job');
    expect(code).toBe(2);
    expect(err).toEqual([
      "error: 'no-such-job' is not a folder, an s3:// URI or a training job of this region",
    ]);
  });
});
