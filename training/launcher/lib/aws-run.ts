import type { Options } from '../cli/options';
import type { Runtime } from '../cli/runtime';
import type { AwsClients } from './aws';
import { withChannels } from './dataset';
import { trainerHyperparameters } from './hyperparameters';
import { jobName } from './naming';
import { loadPlatform, type Purpose, type TrainingPlatform } from './platform';
import { uploadChannels } from './s3';
import { s3Join } from './s3-uri';

/** What every AWS command starts from: the trainer's hyperparameters, the team's platform, a job name. */
export interface AwsRun {
  readonly hyperparameters: Record<string, string>;
  readonly platform: TrainingPlatform;
  readonly name: string;
  /** `<data-s3-uri>/<name>`: one folder per channel below it. */
  readonly dataPrefix: string;
}

export async function prepareAwsRun(
  options: Options,
  runtime: Runtime,
  clients: AwsClients,
  purpose: Purpose,
  what: 'train' | 'tune',
  maxNameLength = 63,
): Promise<AwsRun> {
  const platform = await loadPlatform(
    clients.ssm,
    options.team,
    options.stage,
    clients.region,
    purpose,
  );
  const hyperparameters = trainerHyperparameters(options, platform.objective);
  const name =
    options.jobName ??
    jobName({ team: platform.team, stage: options.stage }, what, runtime.now(), maxNameLength);
  return { hyperparameters, platform, name, dataPrefix: s3Join(platform.dataS3Uri, name) };
}

/** Uploads the user's channels (or the sample data set) under the run's data prefix; returns channel URIs. */
export function uploadData(
  run: AwsRun,
  options: Options,
  runtime: Runtime,
  clients: AwsClients,
): Promise<Record<string, string>> {
  return withChannels(options, (channels) =>
    uploadChannels(clients.s3, channels, run.dataPrefix, run.platform.kmsKeyArn, runtime.stderr),
  );
}
