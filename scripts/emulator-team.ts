/**
 * Creates, on an AWS API emulator (moto), what `cdk deploy` of a team stack leaves for the
 * model lifecycle: the versioned models bucket, the model package group and the SSM
 * parameters `npm run model` reads (names from lib/naming.ts and the training contract). The
 * tests seed their moto servers with it; people use it to try `npm run model` offline:
 *
 *   python3 -m moto.server -p 5000 &
 *   AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
 *     npx tsx scripts/emulator-team.ts http://127.0.0.1:5000 fraud dev churn auto
 */
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateModelPackageGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { ApprovalMode } from '../constructs/training/contract';
import {
  dataLakeParameter,
  teamResourcePrefix,
  trainingParameterPath,
  type TeamStage,
} from '../lib/naming';

export interface EmulatorTeam extends TeamStage {
  readonly endpoint: string;
  readonly region: string;
  readonly modelName: string;
  readonly approval: ApprovalMode;
}

/** A key ARN for SSE-KMS; moto accepts any. */
export const EMULATOR_KMS_KEY =
  'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';

/** The names the team stack would create (bucket, group), for tests to read back. */
export function emulatorNames(t: TeamStage & { modelName: string }) {
  return {
    bucket: `${teamResourcePrefix(t)}-models`,
    group: `${teamResourcePrefix(t)}-${t.modelName}`,
  };
}

export async function seedEmulatorTeam(t: EmulatorTeam): Promise<void> {
  const config = {
    region: t.region,
    endpoint: t.endpoint,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  const { bucket, group } = emulatorNames(t);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  await s3.send(
    new CreateBucketCommand({
      Bucket: bucket,
      CreateBucketConfiguration: { LocationConstraint: t.region as never },
    }),
  );
  // The data lake's buckets are versioned: the alias history lives in object versions.
  await s3.send(
    new PutBucketVersioningCommand({
      Bucket: bucket,
      VersioningConfiguration: { Status: 'Enabled' },
    }),
  );
  await new SageMakerClient(config).send(
    new CreateModelPackageGroupCommand({ ModelPackageGroupName: group }),
  );
  const training = trainingParameterPath(t);
  const parameters: Record<string, string> = {
    [dataLakeParameter(t, 'models-bucket')]: bucket,
    [dataLakeParameter(t, 'kms-key-arn')]: EMULATOR_KMS_KEY,
    [`${training}/model-package-group`]: group,
    [`${training}/model-name`]: t.modelName,
    [`${training}/approval`]: t.approval,
    [`${training}/output-s3-uri`]: `s3://${bucket}/training`,
  };
  const ssm = new SSMClient(config);
  for (const [Name, Value] of Object.entries(parameters))
    await ssm.send(new PutParameterCommand({ Name, Value, Type: 'String', Overwrite: true }));
}

if (require.main === module) {
  const [endpoint, team = 'fraud', stage = 'dev', modelName = 'churn', approval = 'auto'] =
    process.argv.slice(2);
  if (!endpoint || !['manual', 'auto'].includes(approval)) {
    console.error(
      'usage: tsx scripts/emulator-team.ts ENDPOINT [TEAM] [STAGE] [MODEL] [manual|auto]',
    );
    process.exit(2);
  }
  void seedEmulatorTeam({
    endpoint,
    region: process.env.AWS_REGION ?? 'eu-west-1',
    team,
    stage,
    modelName,
    approval: approval as ApprovalMode,
  }).then(() => {
    const { bucket, group } = emulatorNames({ team, stage, modelName });
    console.log(
      `team ${team}/${stage} on ${endpoint}: bucket ${bucket}, group ${group}, approval ${approval}`,
    );
  });
}
