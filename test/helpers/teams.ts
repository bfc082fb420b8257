import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { stringify } from 'yaml';
import { buildPlatformApp, type MlPlatformApp } from '../../lib/app';
import { parseTeamFile, type TeamConfig } from '../../lib/config';

/** A valid team file as a plain object; tests override what they are about. */
export function teamFile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    team: 'fraud',
    stage: 'dev',
    account: '222222222222',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    costCenter: 'cc-42',
    owners: ['lead@example.com'],
    alarmEmails: ['oncall@example.com'],
    ...overrides,
  };
}

/** Validates and resolves a team file object exactly as the app would. */
export function teamConfig(overrides: Record<string, unknown> = {}): TeamConfig {
  const result = parseTeamFile('test.yaml', stringify(teamFile(overrides)));
  if ('problems' in result) {
    throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
  return result.config;
}

/** Writes team files into a fresh temporary folder and returns its path. */
export function writeTeamsDir(files: Record<string, string | Record<string, unknown>>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-teams-'));
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(
      path.join(dir, name),
      typeof content === 'string' ? content : stringify(content),
    );
  }
  return dir;
}

/**
 * An App with the feature flags of cdk.json, as `cdk synth` would create it (constructs rely on
 * flags such as bucket-policy based server access logging).
 */
export function testApp(context: Record<string, unknown> = {}, outdir?: string): App {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return new App({ context: { ...cdkJson.context, ...context }, outdir });
}

/** Builds the whole app (with cdk-nag) for the given team environments. */
export function buildApp(teams: TeamConfig[]): { app: App } & MlPlatformApp {
  const app = testApp();
  return { app, ...buildPlatformApp(app, teams) };
}
