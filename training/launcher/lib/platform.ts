import { GetParametersByPathCommand, type Parameter, type SSMClient } from '@aws-sdk/client-ssm';
import { StackNotDeployedError, UnknownTeamError, UsageError } from '../cli/errors';
import { aws } from './aws';
import { decodeObjective, type TrainingParameter } from '../../../constructs/training/contract';
import type { Objective } from '../../../serving/src/bundle/quality';
import { PARAMETER_ROOT, trainingParameterPath } from '../../../lib/naming';

/** A parameter of the training contract (constructs/training/contract.ts). */
export type ParameterName = TrainingParameter;

/** What the parameters are read for; `experiments` needs only the team to exist. */
export type Purpose = 'sagemaker' | 'ec2' | 'experiments';

const REQUIRED: Record<Purpose, ParameterName[]> = {
  sagemaker: [
    'role-arn',
    'image-uri',
    'instance-type',
    'data-s3-uri',
    'output-s3-uri',
    'checkpoint-s3-uri',
    'kms-key-arn',
    'subnet-ids',
    'security-group-ids',
  ],
  ec2: [
    'image-uri',
    'data-s3-uri',
    'output-s3-uri',
    'checkpoint-s3-uri',
    'kms-key-arn',
    'batch/job-queue',
    'batch/job-definition',
  ],
  experiments: [],
};

export interface TrainingPlatform {
  readonly team: string;
  readonly stage: string;
  readonly prefix: string;
  readonly roleArn: string;
  readonly imageUri: string;
  readonly instanceType: string;
  readonly dataS3Uri: string;
  readonly outputS3Uri: string;
  readonly checkpointS3Uri: string;
  readonly kmsKeyArn: string;
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  readonly maxRuntimeSeconds: number;
  readonly maxWaitSeconds: number;
  readonly spot: boolean;
  readonly volumeSizeGb: number;
  readonly metricDefinitions?: { Name: string; Regex: string }[];
  readonly batchJobQueue: string;
  readonly batchJobDefinition: string;
  /** The team file's training.objective; undefined: the trainer's default. */
  readonly objective?: Objective;
  /** The team's MLflow tracking server (`mlflow/tracking-server-arn`); undefined: no tracking. */
  readonly trackingServerArn?: string;
}

export function parameterPrefix(team: string, stage: string): string {
  return `${trainingParameterPath({ team, stage })}/`;
}

async function listParameters(ssm: SSMClient, path: string, all: boolean): Promise<Parameter[]> {
  const found: Parameter[] = [];
  let NextToken: string | undefined;
  do {
    const page = await aws(`reading SSM parameters under ${path}`, () =>
      ssm.send(
        new GetParametersByPathCommand({
          Path: path,
          Recursive: true,
          WithDecryption: true,
          NextToken,
        }),
      ),
    );
    found.push(...(page.Parameters ?? []));
    NextToken = all ? page.NextToken : undefined;
    if (!all && found.length > 0) break;
  } while (NextToken);
  return found;
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new StackNotDeployedError(
      `SSM parameter ${name} must be a positive integer, got '${raw}'`,
    );
  }
  return value;
}

/** The `--team` value, checked. */
export function requireTeam(team: string | undefined): string {
  if (!team) throw new UsageError('--team is required for AWS commands (or set ML_TEAM)');
  if (!/^[a-z0-9-]+$/.test(team))
    throw new UsageError(`--team '${team}' is not a team name ([a-z0-9-]+)`);
  return team;
}

/**
 * Reads every parameter under `path` (a team environment's SSM path with a trailing slash),
 * keyed by the name below it. No parameter there: "unknown team" when the team has none at
 * all, else an empty map (the caller says what is missing).
 */
export async function readTeamParameters(
  ssm: SSMClient,
  team: string,
  region: string,
  path: string,
): Promise<Map<string, string>> {
  const parameters = await listParameters(ssm, path, true);
  if (parameters.length === 0) {
    const teamRoot = `${PARAMETER_ROOT}/${team}/`;
    const teamParameters = await listParameters(ssm, teamRoot, false);
    if (teamParameters.length === 0) {
      throw new UnknownTeamError(
        `unknown team '${team}' in ${region}: no SSM parameters under ${teamRoot} ` +
          '(check the name, the region and that the team stack is deployed)',
      );
    }
  }
  const values = new Map<string, string>();
  for (const p of parameters) {
    if (p.Name && p.Value !== undefined) values.set(p.Name.slice(path.length), p.Value);
  }
  return values;
}

/** Reads and checks the team's training parameters for `purpose`. */
export async function loadPlatform(
  ssm: SSMClient,
  team: string | undefined,
  stage: string,
  region: string,
  purpose: Purpose,
): Promise<TrainingPlatform> {
  const teamName = requireTeam(team);
  const prefix = parameterPrefix(teamName, stage);
  const values = await readTeamParameters(ssm, teamName, region, prefix);
  const missing = REQUIRED[purpose].filter((name) => !values.get(name));
  if (missing.length > 0) {
    throw new StackNotDeployedError(
      `the training stack for team '${teamName}' stage '${stage}' is not deployed in ${region}: ` +
        `missing SSM parameter${missing.length > 1 ? 's' : ''} ${missing.map((m) => prefix + m).join(', ')}`,
    );
  }
  const get = (name: ParameterName): string => values.get(name) ?? '';
  const list = (name: ParameterName): string[] =>
    get(name)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const maxRuntimeSeconds = positiveInt(
    prefix + 'max-runtime-seconds',
    values.get('max-runtime-seconds'),
    86_400,
  );
  let metricDefinitions: TrainingPlatform['metricDefinitions'];
  if (values.has('metric-definitions')) {
    try {
      metricDefinitions = JSON.parse(
        get('metric-definitions'),
      ) as TrainingPlatform['metricDefinitions'];
    } catch {
      throw new StackNotDeployedError(
        `SSM parameter ${prefix}metric-definitions is not valid JSON`,
      );
    }
  }
  let objective: Objective | undefined;
  if (values.has('objective')) {
    try {
      objective = decodeObjective(get('objective'));
    } catch (err) {
      throw new StackNotDeployedError(`SSM parameter ${prefix}objective ${(err as Error).message}`);
    }
  }
  return {
    team: teamName,
    stage,
    prefix,
    roleArn: get('role-arn'),
    imageUri: get('image-uri'),
    instanceType: get('instance-type'),
    dataS3Uri: get('data-s3-uri'),
    outputS3Uri: get('output-s3-uri'),
    checkpointS3Uri: get('checkpoint-s3-uri'),
    kmsKeyArn: get('kms-key-arn'),
    subnetIds: list('subnet-ids'),
    securityGroupIds: list('security-group-ids'),
    maxRuntimeSeconds,
    maxWaitSeconds: positiveInt(
      prefix + 'max-wait-seconds',
      values.get('max-wait-seconds'),
      2 * maxRuntimeSeconds,
    ),
    spot: (values.get('spot') ?? 'true').toLowerCase() !== 'false',
    volumeSizeGb: positiveInt(prefix + 'volume-size-gb', values.get('volume-size-gb'), 50),
    metricDefinitions,
    batchJobQueue: get('batch/job-queue'),
    batchJobDefinition: get('batch/job-definition'),
    objective,
    trackingServerArn: values.get('mlflow/tracking-server-arn') || undefined,
  };
}
