import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/**
 * Node.js release lines that get security fixes (22 until 2027-04-30, 24 until 2028-04-30).
 * Remove a line here when it reaches its end of life: the tests below then point at every
 * place that still names it.
 */
const MAINTAINED_NODE_LTS = [22, 24];

/** `ARG BASE_IMAGE=...` of the serving Dockerfile: what real users' builds run on. */
function dockerfileBaseImage(): string {
  const match = /^ARG BASE_IMAGE=(\S+)$/m.exec(read('serving/Dockerfile'));
  if (!match) throw new Error('serving/Dockerfile has no ARG BASE_IMAGE default');
  return match[1];
}

/** The default of `NAME=${NAME:-...}` in a shell script. */
function shellDefault(file: string, name: string): string {
  const match = new RegExp(`^${name}=\\$\\{${name}:-([^}]+)\\}$`, 'm').exec(read(file));
  if (!match) throw new Error(`${file} sets no default for ${name}`);
  return match[1];
}

/** The lowest Node major an `engines.node` range of the form `>=N` admits. */
function enginesFloor(file: string): number {
  const range: string = JSON.parse(read(file)).engines.node;
  const match = /^>=(\d+)$/.exec(range);
  if (!match) throw new Error(`${file}: engines.node must be ">=<major>", got "${range}"`);
  return Number(match[1]);
}

describe('the serving image and the Node versions around it', () => {
  const base = dockerfileBaseImage();
  const [, version] = /^node:(\d+\.\d+\.\d+)-bookworm-slim@/.exec(base) ?? [];

  test('the default base is the official Node image, pinned to a release and a digest', () => {
    expect(base).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/);
    // The tag is repeated in the comment above the ARG, for people reading the Dockerfile.
    expect(read('serving/Dockerfile')).toContain(`tag node:${version}-bookworm-slim`);
  });

  test('it runs a maintained Node LTS line', () => {
    expect(MAINTAINED_NODE_LTS).toContain(Number(version.split('.')[0]));
  });

  test("CI's locally built base has the same Node version as the default base", () => {
    expect(shellDefault('serving/scripts/image-test.sh', 'NODE_VERSION')).toBe(version);
  });

  test.each(['package.json', 'serving/package.json'])(
    '%s asks for a maintained Node LTS and admits the image',
    (file) => {
      const floor = enginesFloor(file);
      expect(MAINTAINED_NODE_LTS).toContain(floor);
      expect(floor).toBeLessThanOrEqual(Number(version.split('.')[0]));
    },
  );
});
