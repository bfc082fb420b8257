import * as fs from 'node:fs';
import * as path from 'node:path';
import { runDiff } from '../../diff/main';
import { editExampleTeam, tempProjectRepo } from '../helpers/temp-project';

// A temporary git repository holding this project at HEAD, with the example team's file
// changed in a second commit: the diff synthesizes both commits for real, offline.
let repo: string;
let git: (...args: string[]) => string;

beforeAll(() => {
  ({ repo, git } = tempProjectRepo());
  editExampleTeam(repo, (t) => t.replace('maxReplicas: 4', 'maxReplicas: 6'));
  git('commit', '--quiet', '-am', 'more replicas');
});

async function diff(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runDiff(argv, {
    cwd: repo,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

let first: string;
const worktrees = () => git('worktree', 'list').split('\n').length;

test('--base HEAD~1 synthesizes both commits and shows the HPA change; the worktree is removed', async () => {
  const { code, stdout, stderr } = await diff('--base', 'HEAD~1', '--fail-on-replace');
  expect(code).toBe(0);
  const base = git('rev-parse', '--short=7', 'HEAD~1');
  const head = git('rev-parse', '--short=7', 'HEAD');
  expect(stdout.split('\n')[0]).toMatch(
    new RegExp(
      `^\\*\\*Infra diff\\*\\* \`HEAD~1 \\(${base}\\)\` → \`working tree \\(${head}\\)\`: 1 stack changed · `,
    ),
  );
  expect(stdout).toContain(
    '- ~ `HorizontalPodAutoscaler/example-dev/inference`\n  - `spec.maxReplicas`: `4` → `6`',
  );
  expect(stdout).toContain('| example/dev | example-dev/inference: max replicas | 4 | 6 | +2 |');
  expect(stdout).toContain('Unchanged: `mlp-platform-111111111111-eu-west-1`');
  // The tool prints its own time.
  expect(stderr).toMatch(
    /^diff: synthesized base in [\d.]+ s and head in [\d.]+ s \(in parallel: [\d.]+ s\), compared in [\d.]+ s; [\d.]+ s in all\n$/,
  );
  expect(worktrees()).toBe(1);
  first = stdout;
});

test('a second run takes the base from the cache and gives the same comment', async () => {
  const { code, stdout, stderr } = await diff('--base', 'HEAD~1');
  expect(code).toBe(0);
  expect(stdout).toBe(first);
  expect(stderr).toMatch(/^diff: base [0-9a-f]{7} from the cache, synthesized head in [\d.]+ s, /);
  expect(
    fs.readdirSync(path.join(repo, 'node_modules', '.cache', 'ml-platform-diff')),
  ).toHaveLength(1);
});

test('fails with one line naming the base when the ref is unknown', async () => {
  const { code, stdout, stderr } = await diff('--base', 'no-such-ref');
  expect(code).toBe(1);
  expect(stdout).toBe('');
  expect(stderr).toBe('diff: base (no-such-ref): unknown git ref\n');
  expect(worktrees()).toBe(1);
});

test('fails with one line naming the working tree when its synth fails, and cleans up', async () => {
  const team = path.join(repo, 'config', 'teams', 'example.yaml');
  const good = fs.readFileSync(team, 'utf8');
  fs.writeFileSync(team, good.replace("account: '111111111111'", "account: '42'"));
  try {
    const { code, stderr } = await diff('--base', 'HEAD~1', '--no-cache');
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^diff: head \(working tree \([0-9a-f]{7} \+ uncommitted changes\)\): synth failed: config\/teams\/example\.yaml:6: account: must be a 12-digit AWS account id, like "123456789012"\n$/,
    );
    expect(worktrees()).toBe(1);
    expect(
      fs.readdirSync(path.dirname(repo)).filter((f) => f.startsWith('mlp-diff-base-')),
    ).toEqual(expect.not.arrayContaining([expect.stringMatching(/./)]));
  } finally {
    fs.writeFileSync(team, good);
  }
});
