/**
 * Time of `npm run diff` for a 1-team change next to one `cdk synth` of the same project, in
 * the same run (a temporary git repository with the project at HEAD and a second commit that
 * changes the example team), so the ratio is meaningful on a shared machine.
 * Usage: npm run bench:diff
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const project = path.join(__dirname, '..');
const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-bench-diff-'));
const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
const gitc = (...args: string[]) =>
  sh('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', ...args]);

const archive = `${repo}.tar`;
execFileSync('git', ['archive', '--format=tar', '-o', archive, 'HEAD'], { cwd: project });
execFileSync('tar', ['-xf', archive, '-C', repo]);
fs.rmSync(archive);
fs.symlinkSync(path.join(project, 'node_modules'), path.join(repo, 'node_modules'), 'dir');
gitc('init', '--quiet');
fs.appendFileSync(path.join(repo, '.git', 'info', 'exclude'), 'node_modules\n');
gitc('add', '-A');
gitc('commit', '--quiet', '-m', 'base');
const team = path.join(repo, 'config', 'teams', 'example.yaml');
fs.writeFileSync(team, fs.readFileSync(team, 'utf8').replace('maxReplicas: 4', 'maxReplicas: 6'));
gitc('commit', '--quiet', '-am', 'change');

function time(label: string, cmd: string, args: string[]): number {
  const start = process.hrtime.bigint();
  sh(cmd, args);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.error(`  ${label}: ${s.toFixed(1)} s`);
  return s;
}

const rounds = Number(process.argv[2] ?? 1);
console.log('| round | one cdk synth (s) | npm run diff, 1-team change (s) | diff / synth |');
console.log('| ---: | ---: | ---: | ---: |');
for (let i = 1; i <= rounds; i++) {
  const synth = time('cdk synth', 'npx', [
    'cdk',
    'synth',
    '--quiet',
    '-o',
    fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-bench-out-')),
  ]);
  const diff = time('diff', 'npx', ['tsx', 'diff/main.ts', '--base', 'HEAD~1']);
  console.log(
    `| ${i} | ${synth.toFixed(1)} | ${diff.toFixed(1)} | ${(diff / synth).toFixed(2)}x |`,
  );
}
fs.rmSync(repo, { recursive: true, force: true });
