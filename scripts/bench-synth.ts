/**
 * Synth time of the real CLI (`cdk synth`) for 1 team versus N generated teams, in the same
 * run so the ratio is meaningful on a shared machine. Usage: npm run bench:synth [-- N]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';

const teams = Number(process.argv[2] ?? 20);
const regions = ['eu-west-1', 'us-east-1'];

function teamsDir(count: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mlp-bench-${count}-`));
  for (let i = 0; i < count; i++) {
    const region = regions[i % regions.length];
    fs.writeFileSync(
      path.join(dir, `team-${i}.yaml`),
      stringify({
        team: `team-${i}`,
        stage: (['dev', 'staging', 'prod'] as const)[i % 3],
        account: '111111111111',
        region,
        availabilityZones: [`${region}a`, `${region}b`],
        costCenter: `cc-${i}`,
        owners: ['lead@example.com'],
        alarmEmails: ['oncall@example.com'],
        // Every team with the retraining pipeline: its Lambda bundle and layer are per-app
        // assets (bundled once), its state machine and roles per team.
        pipeline: {},
        serving: {
          ingress: {
            certificateArn: `arn:aws:acm:${region}:111111111111:certificate/00000000-0000-4000-8000-000000000000`,
          },
        },
      }),
    );
  }
  return dir;
}

function timeSynth(dir: string): { seconds: number; stacks: number } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-bench-out-'));
  const start = process.hrtime.bigint();
  execFileSync('npx', ['cdk', 'synth', '--quiet', '-o', out, '-c', `teamsDir=${dir}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stacks = fs.readdirSync(out).filter((f) => f.endsWith('.template.json')).length;
  console.error(`  ${path.basename(dir)}: ${stacks} stacks in ${seconds.toFixed(1)} s`);
  // Each assembly holds the Lambda layers (~90 MB): keep none of it.
  for (const d of [out, dir]) fs.rmSync(d, { recursive: true, force: true });
  return { seconds, stacks };
}

const one = timeSynth(teamsDir(1));
const many = timeSynth(teamsDir(teams));
console.log('| teams | stacks | synth (s) | per team (s) | vs 1 team |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const [n, r] of [
  [1, one],
  [teams, many],
] as const) {
  console.log(
    `| ${n} | ${r.stacks} | ${r.seconds.toFixed(1)} | ${(r.seconds / n).toFixed(2)} | ${(r.seconds / one.seconds).toFixed(1)}x |`,
  );
}
