/**
 * The deploy workflow's matrix: one entry per team file, as JSON on stdout
 * (`npm run -s deploy-matrix`). Reads and validates the team files exactly as synth does.
 */
import { ConfigError, loadTeamConfigs } from '../lib/config';

try {
  const teams = loadTeamConfigs().map((t) => ({
    file: t.sourceFile.split(/[\\/]/).join('/'),
    team: t.team,
    stage: t.stage,
    account: t.account,
    region: t.region,
  }));
  process.stdout.write(`${JSON.stringify(teams)}\n`);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exitCode = 1;
}
