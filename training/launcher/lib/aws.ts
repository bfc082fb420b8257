import { BatchClient } from '@aws-sdk/client-batch';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SSMClient } from '@aws-sdk/client-ssm';
import { LauncherError, NoCredentialsError, QuotaExceededError, UsageError } from '../cli/errors';
import type { Options } from '../cli/options';

export interface AwsClients {
  readonly region: string;
  readonly s3: S3Client;
  readonly ssm: SSMClient;
  readonly sagemaker: SageMakerClient;
  readonly batch: BatchClient;
}

/** The options every AWS command has that decide where its clients send calls. */
export type Endpoint = Pick<Options, 'region' | 'endpointUrl'>;

/**
 * Client settings for one run: the region, and `--endpoint-url` pointing every client at an
 * emulator (S3 then uses path-style addressing).
 */
export function clientConfig(options: Endpoint): {
  region: string;
  common: { region: string; endpoint?: string };
  forcePathStyle: boolean;
} {
  const region = options.region;
  if (!region) throw new UsageError('no AWS region: pass --region or set AWS_REGION');
  const endpoint = options.endpointUrl;
  return {
    region,
    common: { region, ...(endpoint ? { endpoint } : {}) },
    forcePathStyle: Boolean(endpoint),
  };
}

/** One set of clients per run. */
export function makeClients(options: Endpoint): AwsClients {
  const { region, common, forcePathStyle } = clientConfig(options);
  return {
    region,
    s3: new S3Client({ ...common, forcePathStyle }),
    ssm: new SSMClient(common),
    sagemaker: new SageMakerClient(common),
    batch: new BatchClient(common),
  };
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
]);

/** Turns the AWS errors a user can fix into one clear line; anything else passes through. */
export function explainAwsError(err: unknown, doing: string): unknown {
  if (err instanceof LauncherError || !(err instanceof Error)) return err;
  const name = err.name;
  if (CREDENTIAL_ERRORS.has(name) || /Could not load credentials/i.test(err.message)) {
    return new NoCredentialsError(
      `no valid AWS credentials while ${doing} (${err.message.split('\n')[0]}): ` +
        'run `aws sso login`, or set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    );
  }
  if (name === 'ResourceLimitExceeded' || name === 'ServiceQuotaExceededException') {
    return new QuotaExceededError(
      `quota exceeded while ${doing}: ${err.message} ` +
        '(request an increase in the Service Quotas console, or pick another --instance-type)',
    );
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return new LauncherError(`access denied while ${doing}: ${err.message}`);
  }
  return err;
}

/** Runs one AWS call and translates its error. */
export async function aws<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw explainAwsError(err, doing);
  }
}
