import { ConfigError, loadTeamConfigs, selectTeams, type TeamConfig } from '../../../lib/config';
import { ChecksFailedError, LauncherError } from '../cli/errors';
import { runCli } from '../cli/run';
import { processRuntime, type Runtime } from '../cli/runtime';
import { bootstrapRequirement } from './bootstrap';
import { checkBuilder } from './builder';
import {
  callerIdentity,
  checkAccount,
  checkBootstrap,
  checkCertificate,
  checkRegistryLogin,
  regionClients,
  type RegionClients,
} from './checks';
import { type Host, processHost } from './host';
import { type DoctorOptions, doctorHelpText, parseDoctorCommandLine } from './options';
import { type CheckResult, formatResult } from './result';

/** Where the trainer image's base comes from (lib/team-stack.ts, loaded only when needed). */
async function baseImageOf(region: string): Promise<string> {
  const { trainingBaseImage } = await import('../../../lib/team-stack');
  return trainingBaseImage(region);
}

function selectedTeams(teamsDir: string, team?: string, stage?: string): TeamConfig[] {
  try {
    return selectTeams(loadTeamConfigs(teamsDir), { team, stage });
  } catch (err) {
    if (err instanceof ConfigError) throw new LauncherError(err.message);
    throw err;
  }
}

/**
 * Checks, before a first `cdk deploy`, what it needs for each selected team file, and prints
 * one line per check; throws ChecksFailedError (exit 1) when any check failed.
 */
async function doctor(options: DoctorOptions, runtime: Runtime, host: Host): Promise<void> {
  const teams = selectedTeams(options.teamsDir, options.team, options.stage);
  let failed = 0;
  let total = 0;
  const report = (scope: string, r: CheckResult) => {
    total++;
    if (!r.ok) failed++;
    runtime.stdout(formatResult(scope, r));
  };

  const { builder, result } = await checkBuilder(host);
  report('', result);

  const clients = new Map<string, RegionClients>();
  const clientsOf = (region: string) => {
    let c = clients.get(region);
    if (!c) clients.set(region, (c = regionClients(region, options.endpointUrl)));
    return c;
  };
  // Once per environment (account + region) or region, however many teams share it.
  const once = new Map<string, Promise<CheckResult>>();
  const memo = (key: string, run: () => Promise<CheckResult>) => {
    let p = once.get(key);
    if (!p) once.set(key, (p = run()));
    return p;
  };

  for (const team of teams) {
    const scope = `${team.team}/${team.stage}`;
    const aws = clientsOf(team.region);
    const identity = await callerIdentity(aws);
    const credentials =
      'error' in identity ? identity.error : checkAccount(identity, team.account, team.sourceFile);
    report(scope, credentials);
    if (!credentials.ok) {
      runtime.stdout(
        `skip  ${scope} bootstrap, base image login, certificate: need credentials of account ${team.account}`,
      );
      continue;
    }
    report(
      scope,
      await memo(`bootstrap ${team.account} ${team.region}`, async () =>
        checkBootstrap(aws, team.account, await bootstrapRequirement()),
      ),
    );
    report(
      scope,
      await memo(`registry ${team.region}`, async () =>
        checkRegistryLogin(aws, host, builder, await baseImageOf(team.region)),
      ),
    );
    report(
      scope,
      await checkCertificate(aws, team.serving.ingress.certificateArn, team.sourceFile),
    );
  }
  for (const c of clients.values()) {
    for (const client of [c.sts, c.cloudformation, c.ssm, c.acm, c.ecr]) client.destroy();
  }
  if (failed > 0) throw new ChecksFailedError(`${failed} of ${total} checks failed`);
  runtime.stderr(`${total} checks passed: ready for npx cdk deploy --all`);
}

/** Runs the doctor; returns the exit code. Errors are reported once, by `runCli`. */
export async function main(
  argv: readonly string[],
  runtime: Runtime = processRuntime(),
  host: Host = processHost(runtime.env),
): Promise<number> {
  return runCli(
    {
      parse: parseDoctorCommandLine,
      help: doctorHelpText,
      dispatch: ({ options }, rt) => doctor(options, rt, host),
    },
    argv,
    runtime,
  );
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
