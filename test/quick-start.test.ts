import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The commands of the README's Quick start block, without their comments. */
function quickStartCommands(): string[] {
  const section = read('README.md').split('## Quick start')[1]?.split('\n## ')[0] ?? '';
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README.md: no bash block under "## Quick start"');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe('the README quick start', () => {
  test('is two commands, and CI runs exactly them', () => {
    const commands = quickStartCommands();
    expect(commands).toEqual(['npm ci && npx cdk synth', 'npm ci && npm test']);
    const ci = read('.ci/run')
      .split('\n')
      .map((l) => l.trim());
    for (const command of commands) expect(ci).toContain(command);
  });

  test('npm test sets up its Python packages first (pretest)', () => {
    const { scripts } = JSON.parse(read('package.json'));
    expect(scripts.pretest).toBe('bash scripts/ensure-test-deps.sh');
    // Nothing else in CI installs them: a fresh machine depends on the pretest alone.
    expect(read('.ci/run')).not.toMatch(/apt-get|pip install/);
  });
});
