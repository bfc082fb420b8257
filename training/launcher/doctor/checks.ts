import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NoCredentialsError } from '../cli/errors';
import { explainAwsError } from '../lib/aws';
import type { BootstrapRequirement } from './bootstrap';
import { type Builder, storedLogin } from './builder';
import { firstLine, type Host } from './host';
import type { CheckResult } from './result';

/** The AWS clients of one region; `endpoint` sends every call to an emulator. */
export interface RegionClients {
  readonly region: string;
  readonly sts: STSClient;
  readonly cloudformation: CloudFormationClient;
  readonly ssm: SSMClient;
  readonly acm: ACMClient;
  readonly ecr: ECRClient;
}

export function regionClients(region: string, endpoint?: string): RegionClients {
  const common = { region, ...(endpoint ? { endpoint } : {}) };
  return {
    region,
    sts: new STSClient(common),
    cloudformation: new CloudFormationClient(common),
    ssm: new SSMClient(common),
    acm: new ACMClient(common),
    ecr: new ECRClient(common),
  };
}

/** The CDK CLI's default name for the bootstrap stack. */
export const BOOTSTRAP_STACK = 'CDKToolkit';

const LOGIN_FIX =
  'aws sso login, or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';

const message = (err: unknown): string => firstLine((err as Error)?.message ?? String(err));

/** The identity the credentials resolve to (STS GetCallerIdentity), or why there is none. */
export async function callerIdentity(
  clients: RegionClients,
): Promise<{ account: string; arn: string } | { error: CheckResult }> {
  try {
    const id = await clients.sts.send(new GetCallerIdentityCommand({}));
    return { account: id.Account ?? '', arn: id.Arn ?? '' };
  } catch (err) {
    const explained = explainAwsError(err, 'calling sts:GetCallerIdentity');
    return {
      error: {
        check: 'credentials',
        ok: false,
        detail:
          explained instanceof NoCredentialsError
            ? `no valid AWS credentials (${message(err)})`
            : `sts:GetCallerIdentity failed: ${message(err)}`,
        fix: LOGIN_FIX,
      },
    };
  }
}

export function checkAccount(
  identity: { account: string; arn: string },
  account: string,
  teamFile: string,
): CheckResult {
  if (identity.account !== account) {
    return {
      check: 'credentials',
      ok: false,
      detail: `the credentials are for account ${identity.account} (${identity.arn}); ${teamFile} deploys to ${account}`,
      fix: `export AWS_PROFILE=<a profile of account ${account}> (or aws sso login --profile <it>)`,
    };
  }
  return { check: 'credentials', ok: true, detail: `account ${account} as ${identity.arn}` };
}

/**
 * The bootstrap stack of the environment (CloudFormation DescribeStacks) and its version, read
 * where deploys read it (the SSM parameter of the qualifier), against what aws-cdk-lib needs.
 */
export async function checkBootstrap(
  clients: RegionClients,
  account: string,
  requirement: BootstrapRequirement,
): Promise<CheckResult> {
  const check = 'bootstrap';
  const where = `${account} ${clients.region}`;
  const bootstrap = `npx cdk bootstrap aws://${account}/${clients.region}`;
  let status: string | undefined;
  try {
    const { Stacks } = await clients.cloudformation.send(
      new DescribeStacksCommand({ StackName: BOOTSTRAP_STACK }),
    );
    status = Stacks?.[0]?.StackStatus;
  } catch (err) {
    if (/does not exist/.test(message(err))) {
      return {
        check,
        ok: false,
        detail: `no ${BOOTSTRAP_STACK} stack in ${where}`,
        fix: bootstrap,
      };
    }
    return {
      check,
      ok: false,
      detail: `cloudformation:DescribeStacks failed: ${message(err)}`,
      fix: LOGIN_FIX,
    };
  }
  if (status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_FAILED') {
    return {
      check,
      ok: false,
      detail: `${BOOTSTRAP_STACK} in ${where} is ${status} (its creation failed)`,
      fix: `aws cloudformation delete-stack --region ${clients.region} --stack-name ${BOOTSTRAP_STACK}, then ${bootstrap}`,
    };
  }
  if (!status || !/_COMPLETE$/.test(status) || status.startsWith('DELETE')) {
    return {
      check,
      ok: false,
      detail: `${BOOTSTRAP_STACK} in ${where} is ${status ?? 'in an unknown state'}`,
      fix: `wait for the stack operation to finish, then ${bootstrap}`,
    };
  }
  let version: number;
  try {
    const { Parameter } = await clients.ssm.send(
      new GetParameterCommand({ Name: requirement.versionParameter }),
    );
    version = Number(Parameter?.Value);
  } catch (err) {
    if ((err as Error).name === 'ParameterNotFound') {
      return {
        check,
        ok: false,
        detail: `${BOOTSTRAP_STACK} exists in ${where} but ${requirement.versionParameter} does not (another qualifier?)`,
        fix: bootstrap,
      };
    }
    return { check, ok: false, detail: `ssm:GetParameter failed: ${message(err)}`, fix: LOGIN_FIX };
  }
  if (!(version >= requirement.minimumVersion)) {
    return {
      check,
      ok: false,
      detail: `bootstrap version ${version} in ${where}; the installed aws-cdk-lib needs ${requirement.minimumVersion} or later`,
      fix: bootstrap,
    };
  }
  return {
    check,
    ok: true,
    detail: `${BOOTSTRAP_STACK} version ${version} in ${where} (aws-cdk-lib needs ${requirement.minimumVersion} or later)`,
  };
}

/**
 * The trainer image builds FROM AWS's deep learning containers registry: ECR must hand these
 * credentials a token in that region, and the builder must hold a login for the registry.
 */
export async function checkRegistryLogin(
  clients: RegionClients,
  host: Host,
  builder: Builder | undefined,
  baseImage: string,
): Promise<CheckResult> {
  const check = 'base image login';
  const registry = baseImage.split('/')[0]!;
  const login = `aws ecr get-login-password --region ${clients.region} | ${builder?.command ?? 'docker'} login --username AWS --password-stdin ${registry}`;
  try {
    await clients.ecr.send(new GetAuthorizationTokenCommand({}));
  } catch (err) {
    return {
      check,
      ok: false,
      detail: `ecr:GetAuthorizationToken in ${clients.region} failed: ${message(err)}`,
      fix: 'allow ecr:GetAuthorizationToken for your identity, or ' + LOGIN_FIX,
    };
  }
  if (!builder) {
    return {
      check,
      ok: false,
      detail: `no container builder to log in to ${registry}`,
      fix: 'see the container builder line',
    };
  }
  const stored = await storedLogin(host, builder, registry);
  return stored.ok
    ? { check, ok: true, detail: stored.detail }
    : {
        check,
        ok: false,
        detail: `${stored.detail}; the trainer image builds FROM ${baseImage}`,
        fix: login,
      };
}

/** The serving certificate of the team file exists in its region and is ISSUED. */
export async function checkCertificate(
  clients: RegionClients,
  certificateArn: string,
  teamFile: string,
): Promise<CheckResult> {
  const check = 'certificate';
  const request = `aws acm request-certificate --region ${clients.region} --domain-name <host name> --validation-method DNS, then put its ARN in serving.ingress.certificateArn of ${teamFile}`;
  let certificate;
  try {
    ({ Certificate: certificate } = await clients.acm.send(
      new DescribeCertificateCommand({ CertificateArn: certificateArn }),
    ));
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') {
      return {
        check,
        ok: false,
        detail: `${certificateArn} does not exist in ${clients.region}`,
        fix: request,
      };
    }
    return {
      check,
      ok: false,
      detail: `acm:DescribeCertificate failed: ${message(err)}`,
      fix: LOGIN_FIX,
    };
  }
  const name = certificate?.DomainName ?? certificateArn;
  switch (certificate?.Status) {
    case 'ISSUED':
      return {
        check,
        ok: true,
        detail: `${name} ISSUED${certificate.NotAfter ? `, valid until ${certificate.NotAfter.toISOString().slice(0, 10)}` : ''}`,
      };
    case 'PENDING_VALIDATION':
      return {
        check,
        ok: false,
        detail: `${name} is PENDING_VALIDATION`,
        fix: `create the DNS records listed by aws acm describe-certificate --region ${clients.region} --certificate-arn ${certificateArn} --query Certificate.DomainValidationOptions`,
      };
    default:
      return {
        check,
        ok: false,
        detail: `${name} is ${certificate?.Status ?? 'in no known state'}`,
        fix: request,
      };
  }
}
