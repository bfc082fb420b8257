import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { stringify } from 'yaml';
import { buildPlatformApp, type MlPlatformApp } from '../../lib/app';
import { parseTeamFile, type TeamConfig } from '../../lib/config';

/** An ACM certificate ARN in the given region (the schema requires one for the ingress). */
export function certificateArn(region: string, account: string): string {
  return `arn:aws:acm:${region}:${account}:certificate/00000000-0000-4000-8000-000000000001`;
}

/** The serving tests' certificate, in their region. */
export const CERTIFICATE_ARN = certificateArn('eu-west-1', '111111111111');

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
    serving: { ingress: { certificateArn: certificateArn('us-east-1', '222222222222') } },
    ...overrides,
  };
}

/** A valid team file for the serving tests (another account and region). */
export function servingTeamFile(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return teamFile({
    team: 'alpha',
    account: '111111111111',
    region: 'eu-west-1',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    costCenter: 'cc-1',
    serving: { ingress: { certificateArn: CERTIFICATE_ARN } },
    ...overrides,
  });
}

/** Validates and resolves a team file object exactly as the app would. */
export function resolveTeamFile(file: Record<string, unknown>): TeamConfig {
  const result = parseTeamFile('test.yaml', stringify(file));
  if ('problems' in result) {
    throw new Error(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
  return result.config;
}

export const teamConfig = (overrides: Record<string, unknown> = {}): TeamConfig =>
  resolveTeamFile(teamFile(overrides));

export const servingTeamConfig = (overrides: Record<string, unknown> = {}): TeamConfig =>
  resolveTeamFile(servingTeamFile(overrides));

/**
 * A stand-in for serving/ or training/reference/: an image asset only stages the folder at
 * synth, so a one-line Dockerfile keeps stack tests fast and independent of those files.
 */
export function placeholderImageDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-serving-'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
  return dir;
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
  return {
    app,
    ...buildPlatformApp(app, teams, {
      servingImageDirectory: placeholderImageDir(),
      trainerImageDirectory: placeholderImageDir(),
    }),
  };
}
