import {
  ACMClient,
  DescribeCertificateCommand,
  ImportCertificateCommand,
  RequestCertificateCommand,
} from '@aws-sdk/client-acm';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { bootstrapRequirement } from '../../training/launcher/doctor/bootstrap';
import { checkBuilder, storedLogin } from '../../training/launcher/doctor/builder';
import {
  checkBootstrap,
  checkCertificate,
  regionClients,
} from '../../training/launcher/doctor/checks';
import type { ExecResult, Host } from '../../training/launcher/doctor/host';
import { main } from '../../training/launcher/doctor/main';
import { teamFile } from '../helpers/teams';
import { DUMMY_CREDENTIALS, startMoto, type Moto } from './aws-fixtures';
import { recordingRuntime, removeTempDirs, tempDir } from './helpers';

/** moto's account: the credentials' account in every moto call. */
const MOTO_ACCOUNT = '123456789012';
const DLC = (region: string) => `763104351884.dkr.ecr.${region}.amazonaws.com`;

/**
 * A machine with the given programs on PATH (empty executable files: never run) and scripted
 * answers for what the checks run; every call is recorded.
 */
function fakeHost(
  programs: string[],
  answers: Record<string, ExecResult> = {},
  env: NodeJS.ProcessEnv = {},
  files: Record<string, string> = {},
): Host & { calls: string[] } {
  const bin = tempDir('doctor-bin-');
  for (const p of programs) {
    writeFileSync(path.join(bin, p), '');
    chmodSync(path.join(bin, p), 0o755);
  }
  const calls: string[] = [];
  return {
    env: { PATH: bin, ...env },
    homedir: tempDir('doctor-home-'),
    calls,
    exec: async (program, args, input) => {
      const call = [path.basename(program), ...args].join(' ') + (input ? ` <<< ${input}` : '');
      calls.push(call);
      return answers[call] ?? { code: 1, stdout: '', stderr: `${call}: not scripted` };
    },
    readFile: (file) => files[file],
  };
}

const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });

/** podman on amd64, logged in to every registry. */
const readyPodman = () =>
  fakeHost(
    ['podman'],
    {
      'podman info --format {{.Host.Arch}}': ok('amd64\n'),
      [`podman login --get-login ${DLC('eu-west-1')}`]: ok('AWS\n'),
      [`podman login --get-login ${DLC('us-west-2')}`]: ok('AWS\n'),
      [`podman login --get-login ${DLC('eu-central-1')}`]: ok('AWS\n'),
    },
    { CDK_DOCKER: 'podman' },
  );

describe('npm run doctor against moto (STS, CloudFormation, SSM, ACM, ECR)', () => {
  let moto: Moto;
  let teamsDir: string;
  const savedEnv = { ...process.env };
  const certificates: Record<string, string> = {};

  const aws = (region: string) => ({
    region,
    endpoint: moto.url,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });

  /** What `cdk bootstrap` leaves: the CDKToolkit stack, and the version parameter it owns. */
  async function bootstrap(region: string, version: string) {
    await new CloudFormationClient(aws(region)).send(
      new CreateStackCommand({
        StackName: 'CDKToolkit',
        TemplateBody: JSON.stringify({
          Resources: {
            CdkBootstrapVersion: {
              Type: 'AWS::SSM::Parameter',
              Properties: {
                Type: 'String',
                Name: '/cdk-bootstrap/hnb659fds/version',
                Value: version,
              },
            },
          },
          Outputs: {
            BootstrapVersion: { Value: { 'Fn::GetAtt': ['CdkBootstrapVersion', 'Value'] } },
          },
        }),
      }),
    );
  }

  beforeAll(async () => {
    moto = await startMoto();
    Object.assign(process.env, DUMMY_CREDENTIALS);
    delete process.env.AWS_PROFILE;
    // A self-signed certificate imported into ACM is ISSUED; a requested one awaits validation.
    const dir = tempDir('doctor-cert-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '30',
        '-subj',
        '/CN=churn.example.com',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    for (const region of ['eu-west-1', 'eu-central-1']) {
      certificates[region] = (
        await new ACMClient(aws(region)).send(
          new ImportCertificateCommand({
            Certificate: readFileSync(path.join(dir, 'cert.pem')),
            PrivateKey: readFileSync(path.join(dir, 'key.pem')),
          }),
        )
      ).CertificateArn!;
    }
    certificates['us-west-2'] = (
      await new ACMClient(aws('us-west-2')).send(
        new RequestCertificateCommand({ DomainName: 'churn.example.com', ValidationMethod: 'DNS' }),
      )
    ).CertificateArn!;
    await bootstrap('eu-west-1', '30');
    await bootstrap('eu-central-1', '5');

    const team = (name: string, region: string, account = MOTO_ACCOUNT) =>
      stringify(
        teamFile({
          team: name,
          account,
          region,
          availabilityZones: [`${region}a`, `${region}b`],
          serving: { ingress: { certificateArn: certificates[region] } },
        }),
      );
    teamsDir = tempDir('doctor-teams-');
    writeFileSync(path.join(teamsDir, 'ready.yaml'), team('ready', 'eu-west-1'));
    writeFileSync(path.join(teamsDir, 'fresh.yaml'), team('fresh', 'us-west-2'));
    writeFileSync(path.join(teamsDir, 'old.yaml'), team('old', 'eu-central-1'));
    writeFileSync(
      path.join(teamsDir, 'elsewhere.yaml'),
      team('elsewhere', 'eu-west-1', '111111111111'),
    );
  }, 60_000);

  afterAll(async () => {
    removeTempDirs();
    process.env = savedEnv;
    await moto.stop();
  });

  const run = async (host: Host, ...args: string[]) => {
    const runtime = recordingRuntime();
    const code = await main(
      ['--teams-dir', teamsDir, '--endpoint-url', moto.url, ...args],
      runtime,
      host,
    );
    return { code, out: runtime.out, err: runtime.err };
  };

  test('a ready environment: one ok line per check, exit 0', async () => {
    const host = readyPodman();
    const { code, out, err } = await run(host, '--team', 'ready');
    expect(out).toEqual([
      'ok    container builder: podman on amd64',
      `ok    ready/dev credentials: account ${MOTO_ACCOUNT} as arn:aws:sts::${MOTO_ACCOUNT}:user/moto`,
      `ok    ready/dev bootstrap: CDKToolkit version 30 in ${MOTO_ACCOUNT} eu-west-1 (aws-cdk-lib needs 6 or later)`,
      `ok    ready/dev base image login: podman is logged in to ${DLC('eu-west-1')} as AWS`,
      expect.stringMatching(
        /^ok {4}ready\/dev certificate: churn\.example\.com ISSUED, valid until \d{4}-\d\d-\d\d$/,
      ),
    ]);
    expect(err).toEqual(['5 checks passed: ready for npx cdk deploy --all']);
    expect(code).toBe(0);
    expect(host.calls).toEqual([
      'podman info --format {{.Host.Arch}}',
      `podman login --get-login ${DLC('eu-west-1')}`,
    ]);
  });

  test('no bootstrap stack, a certificate awaiting validation: what is wrong and the fix, exit 1', async () => {
    const { code, out } = await run(readyPodman(), '--team', 'fresh');
    expect(out).toContain(
      `FAIL  fresh/dev bootstrap: no CDKToolkit stack in ${MOTO_ACCOUNT} us-west-2; fix: npx cdk bootstrap aws://${MOTO_ACCOUNT}/us-west-2`,
    );
    expect(out).toContain(
      `FAIL  fresh/dev certificate: churn.example.com is PENDING_VALIDATION; fix: create the DNS records listed by aws acm describe-certificate --region us-west-2 --certificate-arn ${certificates['us-west-2']} --query Certificate.DomainValidationOptions`,
    );
    expect(code).toBe(1);
  });

  test('a bootstrap stack older than aws-cdk-lib needs', async () => {
    const { code, out } = await run(readyPodman(), '--team', 'old');
    expect(out).toContain(
      `FAIL  old/dev bootstrap: bootstrap version 5 in ${MOTO_ACCOUNT} eu-central-1; the installed aws-cdk-lib needs 6 or later; fix: npx cdk bootstrap aws://${MOTO_ACCOUNT}/eu-central-1`,
    );
    expect(code).toBe(1);
  });

  test('credentials of another account: fails and skips the account checks', async () => {
    const { code, out, err } = await run(readyPodman(), '--team', 'elsewhere');
    expect(out).toEqual([
      'ok    container builder: podman on amd64',
      `FAIL  elsewhere/dev credentials: the credentials are for account ${MOTO_ACCOUNT} (arn:aws:sts::${MOTO_ACCOUNT}:user/moto); ${path.join(teamsDir, 'elsewhere.yaml')} deploys to 111111111111; fix: export AWS_PROFILE=<a profile of account 111111111111> (or aws sso login --profile <it>)`,
      'skip  elsewhere/dev bootstrap, base image login, certificate: need credentials of account 111111111111',
    ]);
    expect(err).toEqual(['error: 1 of 2 checks failed']);
    expect(code).toBe(1);
  });

  test('every team file by default, like synth; a missing registry login names the login command', async () => {
    const host = fakeHost(
      ['podman'],
      { 'podman info --format {{.Host.Arch}}': ok('amd64') },
      { CDK_DOCKER: 'podman' },
    );
    const { code, out } = await run(host);
    expect(
      out.filter((l) => / [a-z]+\/dev /.test(l)).map((l) => l.split(' ').filter(Boolean)[1]),
    ).toEqual(expect.arrayContaining(['elsewhere/dev', 'fresh/dev', 'old/dev', 'ready/dev']));
    expect(out).toContain(
      `FAIL  ready/dev base image login: podman is not logged in to ${DLC('eu-west-1')}; the trainer image builds FROM ${DLC('eu-west-1')}/pytorch-training:2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker; fix: aws ecr get-login-password --region eu-west-1 | podman login --username AWS --password-stdin ${DLC('eu-west-1')}`,
    );
    expect(code).toBe(1);
  });

  test("fails on a selection that matches nothing, and on a bad team file, with the loader's message", async () => {
    const none = await run(readyPodman(), '--team', 'nobody');
    expect(none.err[0]).toMatch(
      /^error: Invalid team configuration \(1 problem\):\n.*no team file matches team=nobody \(available: elsewhere\/dev, fresh\/dev, old\/dev, ready\/dev\)$/,
    );
    expect(none.code).toBe(1);
    const bad = tempDir('doctor-bad-');
    writeFileSync(path.join(bad, 'x.yaml'), stringify(teamFile({ account: '42' })));
    const runtime = recordingRuntime();
    expect(await main(['--teams-dir', bad], runtime, readyPodman())).toBe(1);
    expect(runtime.err[0]).toContain(
      `${path.join(bad, 'x.yaml')}:3: account: must be a 12-digit AWS account id`,
    );
    expect(runtime.out).toEqual([]);
  });
});

describe('the container builder check, with no builder installed', () => {
  afterAll(() => removeTempDirs());

  test('nothing on PATH: says so and how to install one', async () => {
    const { result } = await checkBuilder(fakeHost([]));
    expect(result).toEqual({
      check: 'container builder',
      ok: false,
      detail: 'no container builder on PATH (CDK runs `docker`; docker, podman and finch work)',
      fix: 'install Docker with the buildx plugin, Podman or Finch (then `export CDK_DOCKER=podman` or `finch`)',
    });
  });

  test('podman but no docker, CDK_DOCKER unset: export CDK_DOCKER=podman', async () => {
    const { result } = await checkBuilder(fakeHost(['podman']));
    expect(result.ok).toBe(false);
    expect(result.fix).toBe('export CDK_DOCKER=podman');
  });

  test('docker whose buildx builders lack linux/amd64; docker with it', async () => {
    const arm = fakeHost(['docker'], {
      'docker buildx ls': ok('default*  docker\n  default  running  linux/arm64, linux/arm/v7\n'),
    });
    expect((await checkBuilder(arm)).result).toMatchObject({
      ok: false,
      detail: 'no docker buildx builder lists linux/amd64',
      fix: 'docker run --privileged --rm tonistiigi/binfmt --install amd64',
    });
    const amd = fakeHost(['docker'], {
      'docker buildx ls': ok('default*  docker\n  default  running  linux/amd64, linux/386\n'),
    });
    expect((await checkBuilder(amd)).result).toEqual({
      check: 'container builder',
      ok: true,
      detail: 'docker (buildx builds linux/amd64)',
    });
  });

  test('podman on arm64: ok only with the qemu-x86_64 binfmt handler', async () => {
    const answers = { 'podman info --format {{.Host.Arch}}': ok('arm64\n') };
    const without = await checkBuilder(fakeHost(['podman'], answers, { CDK_DOCKER: 'podman' }));
    expect(without.result).toMatchObject({
      ok: false,
      fix: 'sudo apt-get install qemu-user-static (on the podman host)',
    });
    const withQemu = await checkBuilder(
      fakeHost(
        ['podman'],
        answers,
        { CDK_DOCKER: 'podman' },
        {
          '/proc/sys/fs/binfmt_misc/qemu-x86_64':
            'enabled\ninterpreter /usr/bin/qemu-x86_64-static\n',
        },
      ),
    );
    expect(withQemu.result).toEqual({
      check: 'container builder',
      ok: true,
      detail: 'podman on arm64, amd64 through qemu emulation',
    });
  });

  test('docker logins: config.json auths, a credential helper, or the credsStore asked with get', async () => {
    const registry = DLC('eu-west-1');
    const docker = { command: 'docker', kind: 'docker', executable: '/x/docker' } as const;
    const withConfig = (config: object, answers: Record<string, ExecResult> = {}) => {
      const host = fakeHost(
        ['docker-credential-desktop'],
        answers,
        { DOCKER_CONFIG: '/cfg' },
        { '/cfg/config.json': JSON.stringify(config) },
      );
      return { host, login: () => storedLogin(host, docker, registry) };
    };
    expect((await withConfig({ auths: { [registry]: { auth: 'x' } } }).login()).ok).toBe(true);
    expect((await withConfig({ credHelpers: { [registry]: 'ecr-login' } }).login()).detail).toBe(
      `${registry} uses docker-credential-ecr-login (/cfg/config.json)`,
    );
    const store = withConfig(
      { credsStore: 'desktop' },
      { [`docker-credential-desktop get <<< ${registry}`]: ok('{"Username":"AWS"}') },
    );
    expect(await store.login()).toEqual({
      ok: true,
      detail: `docker-credential-desktop holds a login for ${registry}`,
    });
    expect(store.host.calls).toEqual([`docker-credential-desktop get <<< ${registry}`]);
    expect(await withConfig({ credsStore: 'desktop' }).login()).toEqual({
      ok: false,
      detail: `docker holds no login for ${registry} (/cfg/config.json)`,
    });
  });
});

describe('doctor checks at the SDK boundary (states moto cannot make)', () => {
  // Created here, not at collection: a class mock would also catch the moto suite's clients.
  let cfn: AwsClientStub<CloudFormationClient>;
  let ssm: AwsClientStub<SSMClient>;
  let acm: AwsClientStub<ACMClient>;
  beforeAll(() => {
    cfn = mockClient(CloudFormationClient);
    ssm = mockClient(SSMClient);
    acm = mockClient(ACMClient);
  });
  afterEach(() => [cfn, ssm, acm].forEach((m) => m.reset()));
  afterAll(() => [cfn, ssm, acm].forEach((m) => m.restore()));

  test('a bootstrap stack whose creation rolled back: delete it, then bootstrap; the version is not read', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        { StackName: 'CDKToolkit', StackStatus: 'ROLLBACK_COMPLETE', CreationTime: new Date(0) },
      ],
    });
    const result = await checkBootstrap(
      regionClients('eu-west-1'),
      '111111111111',
      await bootstrapRequirement(),
    );
    expect(result).toEqual({
      check: 'bootstrap',
      ok: false,
      detail: 'CDKToolkit in 111111111111 eu-west-1 is ROLLBACK_COMPLETE (its creation failed)',
      fix: 'aws cloudformation delete-stack --region eu-west-1 --stack-name CDKToolkit, then npx cdk bootstrap aws://111111111111/eu-west-1',
    });
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([
      { StackName: 'CDKToolkit' },
    ]);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  test('an expired certificate: request a new one and put it in the team file', async () => {
    const arn =
      'arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-4000-8000-000000000009';
    acm
      .on(DescribeCertificateCommand)
      .resolves({ Certificate: { DomainName: 'churn.example.com', Status: 'EXPIRED' } });
    const result = await checkCertificate(
      regionClients('eu-west-1'),
      arn,
      'config/teams/churn.yaml',
    );
    expect(result).toEqual({
      check: 'certificate',
      ok: false,
      detail: 'churn.example.com is EXPIRED',
      fix: 'aws acm request-certificate --region eu-west-1 --domain-name <host name> --validation-method DNS, then put its ARN in serving.ingress.certificateArn of config/teams/churn.yaml',
    });
    expect(acm.commandCalls(DescribeCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { CertificateArn: arn },
    ]);
  });

  test('the bootstrap requirement comes from the installed aws-cdk-lib and the cdk.json qualifier', async () => {
    const requirement = await bootstrapRequirement();
    expect(requirement.versionParameter).toBe('/cdk-bootstrap/hnb659fds/version');
    expect(Number.isInteger(requirement.minimumVersion) && requirement.minimumVersion >= 6).toBe(
      true,
    );
  });
});
