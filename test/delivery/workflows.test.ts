import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { parse } from 'yaml';
import { COMMENT_MARKER } from '../../diff/markdown';
import { DEPLOY_ROLE_NAME } from '../../lib/naming';

const dir = path.join(__dirname, '..', '..', '.github', 'workflows');
const text = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- workflow YAML is plain data
const workflow = (name: string): any => parse(text(name));

describe('GitHub workflows', () => {
  test.each(fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)))(
    '%s validates against the workflow schema (@action-validator)',
    (file) => {
      expect(validateWorkflow(text(file)).errors).toEqual([]);
    },
  );

  test('the validator rejects a broken workflow (it is really checking)', () => {
    const broken = text('deploy.yml').replace('needs: diff', 'needs: no-such-job');
    expect(validateWorkflow(broken).errors).toEqual([
      expect.objectContaining({ code: 'unresolved_job', path: '/jobs/deploy/needs' }),
    ]);
  });

  test('every workflow sets least-privilege permissions at the top', () => {
    expect(workflow('ci.yml').permissions).toEqual({ contents: 'read' });
    expect(workflow('pr-diff.yml').permissions).toEqual({
      contents: 'read',
      'pull-requests': 'write',
    });
    expect(workflow('deploy.yml').permissions).toEqual({});
  });

  test('ci runs the README test command, then synth', () => {
    const steps = workflow('ci.yml').jobs.test.steps.map((s: { run?: string }) => s.run);
    expect(steps).toContain('npm ci && npm test');
    expect(fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8')).toContain(
      'npm ci && npm test',
    );
    expect(steps.indexOf('npx cdk synth --quiet')).toBeGreaterThan(
      steps.indexOf('npm ci && npm test'),
    );
  });

  test('pr-diff posts one sticky comment found by the marker the diff writes', () => {
    const wf = workflow('pr-diff.yml');
    const steps = wf.jobs.diff.steps;
    expect(steps[0].with['fetch-depth']).toBe(0);
    const diff = steps.find((s: { id?: string }) => s.id === 'diff');
    expect(diff.run).toContain(
      'npm run -s diff -- --base "origin/$BASE_REF" --fail-on-replace > diff.md',
    );
    const post = steps.find((s: { uses?: string }) => s.uses?.startsWith('actions/github-script'));
    expect(post.with.script).toContain(`'${COMMENT_MARKER}'`);
    expect(post.with.script).toContain('updateComment');
  });

  test('deploy runs only after the diff job, and only the deploy job may ask for an OIDC token', () => {
    const wf = workflow('deploy.yml');
    expect(wf.jobs.deploy.needs).toBe('diff');
    expect(wf.jobs.diff.permissions).toEqual({ contents: 'read' });
    expect(wf.jobs.deploy.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const withToken = Object.entries(wf.jobs).filter(
      ([, job]) =>
        (job as { permissions?: Record<string, string> }).permissions?.['id-token'] === 'write',
    );
    expect(withToken.map(([id]) => id)).toEqual(['deploy']);
    expect(wf.jobs.diff.steps.map((s: { run?: string }) => s.run).join('\n')).toContain(
      '--fail-on-replace',
    );
  });

  test('deploy is a matrix over team files, one GitHub environment per stage, through the OIDC deploy role', () => {
    const job = workflow('deploy.yml').jobs.deploy;
    expect(job.strategy.matrix.include).toBe('${{ fromJSON(needs.diff.outputs.teams) }}');
    expect(job.environment).toBe('${{ matrix.stage }}');
    const assume = job.steps.find((s: { uses?: string }) =>
      s.uses?.startsWith('aws-actions/configure-aws-credentials'),
    );
    expect(assume.with['role-to-assume']).toBe(
      `arn:aws:iam::\${{ matrix.account }}:role/${DEPLOY_ROLE_NAME}`,
    );
  });

  test('no workflow uses long-lived AWS keys', () => {
    for (const file of fs.readdirSync(dir)) {
      expect(text(file)).not.toMatch(
        /aws-access-key-id|aws-secret-access-key|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/,
      );
    }
  });

  test('the deploy matrix lists every team file with what the deploy job reads', () => {
    const out = execFileSync('npx', ['tsx', 'bin/deploy-matrix.ts'], {
      cwd: path.join(__dirname, '..', '..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual([
      {
        file: 'config/teams/example.yaml',
        team: 'example',
        stage: 'dev',
        account: '111111111111',
        region: 'eu-west-1',
      },
    ]);
  });
});
