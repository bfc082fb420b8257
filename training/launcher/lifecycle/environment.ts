import type { SSMClient } from '@aws-sdk/client-ssm';
import { APPROVAL_MODES, type ApprovalMode } from '../../../constructs/training/contract';
import {
  dataLakeParameter,
  teamParameterPath,
  trainingParameterPath,
  type TeamStage,
} from '../../../lib/naming';
import { StackNotDeployedError } from '../cli/errors';
import { readTeamParameters, requireTeam } from '../lib/platform';

/** A team environment's model lifecycle resources, as its stack published them in SSM. */
export interface ModelEnvironment extends TeamStage {
  readonly region: string;
  readonly modelName: string;
  /** The `models` zone bucket: the model store lives under `models/` in it. */
  readonly bucket: string;
  readonly kmsKeyArn: string;
  readonly modelPackageGroup: string;
  readonly approval: ApprovalMode;
  /** Where training jobs write model.tar.gz (to recognise a job's output by its URI). */
  readonly outputS3Uri?: string;
}

/** Reads the team's data lake and training parameters; names each one that is missing. */
export async function loadModelEnvironment(
  ssm: SSMClient,
  team: string | undefined,
  stage: string,
  region: string,
): Promise<ModelEnvironment> {
  const t = { team: requireTeam(team), stage };
  const root = `${teamParameterPath(t)}/`;
  const values = await readTeamParameters(ssm, t.team, region, root);
  const names = {
    bucket: dataLakeParameter(t, 'models-bucket'),
    kmsKeyArn: dataLakeParameter(t, 'kms-key-arn'),
    modelPackageGroup: `${trainingParameterPath(t)}/model-package-group`,
    modelName: `${trainingParameterPath(t)}/model-name`,
    approval: `${trainingParameterPath(t)}/approval`,
  };
  const get = (name: string) => values.get(name.slice(root.length));
  const missing = Object.values(names).filter((name) => !get(name));
  if (missing.length > 0) {
    throw new StackNotDeployedError(
      `the team stack for team '${t.team}' stage '${stage}' is not deployed in ${region} ` +
        `(or predates the model lifecycle: deploy it again): missing SSM parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    );
  }
  const approval = get(names.approval)!;
  if (!(APPROVAL_MODES as readonly string[]).includes(approval)) {
    throw new StackNotDeployedError(
      `SSM parameter ${names.approval} must be one of ${APPROVAL_MODES.join(', ')}, got '${approval}'`,
    );
  }
  return {
    ...t,
    region,
    bucket: get(names.bucket)!,
    kmsKeyArn: get(names.kmsKeyArn)!,
    modelPackageGroup: get(names.modelPackageGroup)!,
    modelName: get(names.modelName)!,
    approval: approval as ApprovalMode,
    outputS3Uri: get(`${trainingParameterPath(t)}/output-s3-uri`),
  };
}
