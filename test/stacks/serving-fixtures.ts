import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { stringify } from 'yaml';
import { parseTeamFile, type TeamConfig } from '../../lib/config';

/** A certificate ARN in the fixtures' region (the schema requires one for the ingress). */
export const CERTIFICATE_ARN =
  'arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-4000-8000-000000000001';

/** A valid team file for the serving tests; tests override what they are about. */
export function servingTeamFile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    team: 'alpha',
    stage: 'dev',
    account: '111111111111',
    region: 'eu-west-1',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    costCenter: 'cc-1',
    owners: ['lead@example.com'],
    alarmEmails: ['oncall@example.com'],
    serving: { ingress: { certificateArn: CERTIFICATE_ARN } },
    ...overrides,
  };
}

/** Validates and resolves a team file object exactly as the app would. */
export function servingTeamConfig(overrides: Record<string, unknown> = {}): TeamConfig {
  const result = parseTeamFile('test.yaml', stringify(servingTeamFile(overrides)));
  if ('problems' in result) {
    throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
  return result.config;
}

/**
 * A stand-in for serving/ (the real service is built elsewhere): the image asset only stages
 * the folder at synth, so a one-line Dockerfile in a temporary folder is enough.
 */
export function placeholderServingDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-serving-'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  return dir;
}

/** An App with the feature flags of cdk.json, as `cdk synth` creates it. */
export function appWithCdkJsonContext(): App {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return new App({ context: cdkJson.context });
}
