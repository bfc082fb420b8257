import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { addSecurityChecks } from '../../lib/nag';
import { buildApp, teamConfig, testApp } from '../helpers/teams';

/** Synthesizes into a fresh folder and returns every template file's text by name. */
function synthTemplates(build: () => ReturnType<typeof buildApp>): Record<string, string> {
  const { app } = build();
  const outdir = app.synth().directory;
  return Object.fromEntries(
    fs
      .readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(outdir, f), 'utf8')]),
  );
}

describe('the whole app', () => {
  const teams = () => [
    teamConfig({
      team: 'fraud',
      stage: 'prod',
      dataLake: { rawObjectLock: { mode: 'governance', days: 30 } },
    }),
    teamConfig({ team: 'search', stage: 'dev', dataLake: { throwaway: true } }),
  ];

  test('synthesizes with zero unacknowledged cdk-nag findings', () => {
    expect(() => buildApp(teams()).app.synth()).not.toThrow();
  });

  test("passes CloudFormation's own template validation (schemas, patterns), with no warning", () => {
    // aws-cdk-lib's CloudFormation Validate plugin writes what it finds next to the templates;
    // a property CloudFormation would refuse at deploy time (e.g. a description pattern) shows here.
    const outdir = buildApp(teams()).app.synth().directory;
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap(
      (p: { pluginName: string; violations: { ruleName: string; description: string }[] }) =>
        p.violations.map((v) => `${p.pluginName} ${v.ruleName}: ${v.description}`),
    );
    expect(report.pluginReports.map((p: { pluginName: string }) => p.pluginName)).toContain(
      'CloudFormation Validate',
    );
    expect(violations).toEqual([]);
  });

  test('two synths of the same config are byte-identical', () => {
    const first = synthTemplates(() => buildApp(teams()));
    const second = synthTemplates(() => buildApp(teams()));
    expect(Object.keys(first)).toEqual([
      'mlp-fraud-prod.template.json',
      'mlp-platform-222222222222-us-east-1.template.json',
      'mlp-search-dev.template.json',
      'mlpplatform222222222222useast1awscdkawseksClusterResourceProvider8C3FB3E7.nested.template.json',
      'mlpplatform222222222222useast1awscdkawseksKubectlProviderD2493CDD.nested.template.json',
    ]);
    expect(second).toEqual(first);
  });

  test('synth never asks AWS for anything (no context lookups)', () => {
    const { app } = buildApp(teams());
    const manifest = app.synth().manifest;
    expect(manifest.missing ?? []).toEqual([]);
  });
});

describe('cdk-nag', () => {
  test('fails synth on an unacknowledged finding', () => {
    // GIVEN a test-only stack with a deliberately insecure bucket
    const app = testApp({});
    const stack = new Stack(app, 'Insecure', {
      env: { account: '222222222222', region: 'us-east-1' },
    });
    new s3.Bucket(stack, 'Open', { enforceSSL: false });
    addSecurityChecks(app);
    // WHEN / THEN
    expect(() => app.synth({ force: true })).toThrow(/AwsSolutions-S1[\s\S]*AwsSolutions-S10/);
  });

  test('passes once each finding is acknowledged with a reason on the resource', () => {
    const app = testApp({}, fs.mkdtempSync(path.join(os.tmpdir(), 'nag-')));
    const stack = new Stack(app, 'Acknowledged');
    const bucket = new s3.Bucket(stack, 'Open');
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'test: logs elsewhere' });
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S10', reason: 'test: no clients' });
    addSecurityChecks(app);
    expect(() => app.synth()).not.toThrow();
  });
});
