/**
 * Time of `npm run diff` for a 1-team change next to one `cdk synth` of the same project, in
 * the same run and interleaved (a temporary git repository with the project at HEAD and a
 * second commit that changes the example team), so the ratios hold on a shared machine.
 * "diff" synthesizes both sides (`--no-cache`); "diff, base cached" is a later run on the same
 * base. Usage: npm run bench:diff [-- ROUNDS]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { editExampleTeam, tempProjectRepo } from '../test/helpers/temp-project';

const { repo, git } = tempProjectRepo();
editExampleTeam(repo, (t) => t.replace('maxReplicas: 4', 'maxReplicas: 6'));
git('commit', '--quiet', '-am', 'change');

function time(cmd: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: repo, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  // The diff's own account of its time is its last stderr line.
  const own = args.includes('diff/main.ts') ? r.stderr.trim().split('\n').pop() : '';
  console.error(`  ${args.slice(0, 3).join(' ')}: ${s.toFixed(1)} s ${own}`);
  return s;
}

const synth = () => {
  // Each assembly holds the Lambda layers (~90 MB): keep none of it.
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-bench-out-'));
  try {
    return time('npx', ['cdk', 'synth', '--quiet', '-o', out]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
};
const diff = (...flags: string[]) =>
  time('npx', ['tsx', 'diff/main.ts', '--base', 'HEAD~1', ...flags]);

diff(); // fills the base cache for the cached runs
const rounds = Number(process.argv[2] ?? 3);
const rows: number[][] = [];
console.log(
  '| round | one cdk synth (s) | diff (s) | diff / synth | diff, base cached (s) | cached / synth |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (let i = 1; i <= rounds; i++) {
  const s = synth();
  const full = diff('--no-cache');
  const cached = diff();
  rows.push([s, full, cached]);
  console.log(
    `| ${i} | ${s.toFixed(1)} | ${full.toFixed(1)} | ${(full / s).toFixed(2)}x | ${cached.toFixed(1)} | ${(cached / s).toFixed(2)}x |`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratios = (j: number) => median(rows.map((r) => r[j] / r[0])).toFixed(2);
console.log(`| median | | | ${ratios(1)}x | | ${ratios(2)}x |`);
fs.rmSync(repo, { recursive: true, force: true });
